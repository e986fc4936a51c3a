/**
 * A vSphere job on the farm whose agent dies mid-build: JetStream redelivers it after the lost lease, another agent
 * runs attempt 2, and the VM that attempt makes carries the mark the builder's reaper looks for (kiln.job =
 * `<build id>/<job id>`, kiln.attempt = 2): the attempt number travels from the worker to the builder. (The reaping
 * itself is covered by agent/tests/vsphere_reap.test.ts, where the crashed attempt runs no cleanup at all; an agent
 * crashed in-process here still runs its cleanup, which destroys attempt 1's VM.)
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TestFarm, until, watchToEnd } from "../../test/src/mod.js";
import { Vcsim } from "../../test/src/vcsim.js";
import { parseMark } from "../src/builders/vsphere/reap.js";
import { VsphereClient } from "../src/vsphere/client.js";
import { text } from "../src/vsphere/soap.js";

const LEASE_MS = 1_500;
const signal = new AbortController().signal;

describe("farm - a vSphere job retried after its agent died", () => {
  let farm: TestFarm;
  let sim: Vcsim;
  let client: VsphereClient;
  beforeEach(async () => {
    sim = await Vcsim.start({ username: "kiln", password: "kiln-farm-pw" });
    client = await VsphereClient.connect({ server: sim.server, username: "kiln", password: "kiln-farm-pw", insecure: true }, signal);
    farm = await TestFarm.start();
  }, 300_000);
  afterEach(async () => {
    await farm?.stop();
    await client?.close();
    await sim?.stop();
  }, 60_000);

  /** The powered-on VM `name` and its mark, once it exists. */
  async function running(name: string): Promise<{ ref: Parameters<VsphereClient["props"]>[0]; attempt: number; job: string } | undefined> {
    const vm = (await client.descendants(client.content.rootFolder, "VirtualMachine", signal)).find((v) => v.name === name);
    if (vm === undefined) return undefined;
    // The VM may go between the listing and the read (the reaper destroys the crashed attempt's): not there yet.
    const p = await client.props(vm.ref, ["runtime.powerState", "config.extraConfig"], signal).catch((err: unknown) => {
      if (err instanceof Error && err.message.includes("ManagedObjectNotFound")) return undefined;
      throw err;
    });
    if (p === undefined) return undefined;
    const mark = parseMark(p.get("config.extraConfig"));
    if (text(p.get("runtime.powerState")) !== "poweredOn" || mark === undefined) return undefined;
    return { ref: vm.ref, ...mark };
  }

  it("attempt 2 runs on another agent and marks its VM with its attempt", async () => {
    const coordinator = await farm.addCoordinator();
    const name = `farm-retry-${process.pid}`;
    const submitted = await coordinator.submit({
      template_json: JSON.stringify({
        builders: [
          {
            type: "vsphere-iso",
            vcenter_server: sim.server,
            username: "kiln",
            password: "kiln-farm-pw",
            insecure_connection: true,
            vm_name: name,
            host: "DC0_H0",
            communicator: "none",
            shutdown_timeout: "120s",
          },
        ],
      }),
      template_name: "t.json",
      local_cwd: farm.workspace,
      local_template_dir: farm.workspace,
    });
    const id = submitted.build?.id ?? "";
    await farm.addAgent({ name: "first", builderTypes: ["vsphere-iso"], jobLeaseMs: LEASE_MS });
    const first = await until(() => running(name), "attempt 1's VM to run", 60_000);
    expect(first).toMatchObject({ job: `${id}/j0`, attempt: 1 });
    await farm.crashAgent("first");

    await farm.addAgent({ name: "second", builderTypes: ["vsphere-iso"], jobLeaseMs: LEASE_MS });
    // vsphere-iso without a communicator waits for someone to shut the VM down: the test does, for attempt 2's VM.
    const second = await until(async () => {
      const vm = await running(name);
      return vm !== undefined && vm.attempt === 2 ? vm : undefined;
    }, "attempt 2's VM to run", 60_000);
    expect(second.job).toBe(`${id}/j0`);
    await client.call("ShutdownGuest", second.ref, {}, signal);
    const { status } = await watchToEnd(coordinator, id);
    expect(status.build?.state, JSON.stringify(status.jobs[0]?.failure)).toBe("BUILD_STATE_SUCCEEDED");
    expect(status.jobs[0]).toMatchObject({ state: "JOB_STATE_SUCCEEDED", attempt: 2, agent: "second" });
  }, 240_000);
});
