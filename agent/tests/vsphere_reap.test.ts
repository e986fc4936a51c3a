/**
 * Reaping VMs that a crashed attempt of the same job left in vCenter (agent/src/builders/vsphere/reap.ts), against
 * vcsim: attempt 1 runs in its own process and is killed (SIGKILL, no cleanup) mid-build with its VM running; the
 * job's attempt 2 destroys that VM (and another one the job's earlier attempt left under another name) and builds
 * its own. VMs of other jobs, and of a later attempt of the same job, are left alone; a same-named VM of another job
 * still fails the build with Packer's "already exists".
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runScript } from "../../test/src/mod.js";
import { parseMark } from "../src/builders/vsphere/reap.js";
import { runJob } from "../src/runner.js";
import type { MoRef } from "../src/vsphere/client.js";
import { text } from "../src/vsphere/soap.js";
import { useVcsim } from "./vsphere_harness.js";
import { planTemplateJob, recordingContext } from "./job_harness.js";

const PASSWORD = "kiln-reap-pw";
/** The job whose attempts the test plays; other jobs have other run UUIDs. */
const RUN = "0a0a0a0a-0000-4000-8000-00000000reap";
const OTHER_RUN = "0b0b0b0b-0000-4000-8000-0000000other";

const signal = new AbortController().signal;

const vc = useVcsim({ password: PASSWORD, sshd: true });

/** Every VM of the simulator by name, with its power state and kiln's mark. */
async function vms(): Promise<Map<string, { ref: MoRef; power: string; mark?: { job: string; attempt: number } }>> {
  const all = await vc.client.descendants(vc.client.content.rootFolder, "VirtualMachine", signal);
  const props = await vc.client.retrieve("VirtualMachine", all.map((v) => v.ref), ["runtime.powerState", "config.extraConfig"], signal);
  return new Map(
    all.map((v) => {
      const p = props.get(v.ref.value);
      return [v.name, { ref: v.ref, power: text(p?.get("runtime.powerState")), mark: parseMark(p?.get("config.extraConfig")) }];
    }),
  );
}

/** A vsphere-iso build that runs to its provisioner (SSH to the harness's sshd at the address vcsim reports). */
function isoTemplate(name: string): Record<string, unknown> {
  return {
    builders: [
      {
        type: "vsphere-iso",
        ...vc.connection(),
        vm_name: name,
        host: "DC0_H0",
        guest_os_type: "otherLinux64Guest",
        ...vc.sshToGuest(),
        ip_settle_timeout: "100ms",
      },
    ],
    provisioners: [{ type: "shell", inline: ["true"] }],
  };
}

/** A quick vsphere-clone build without a communicator (the VM is left powered off). */
function cloneTemplate(name: string): Record<string, unknown> {
  return { builders: [{ type: "vsphere-clone", ...vc.connection(), vm_name: name, template: "DC0_H0_VM0", host: "DC0_H0", communicator: "none" }] };
}

async function build(template: Record<string, unknown>, runUuid: string, attempt: number): Promise<ReturnType<typeof recordingContext> & { state: string; failure?: string }> {
  const type = String((template.builders as Record<string, unknown>[])[0]?.type);
  const ctx = { ...recordingContext(await vc.dirs.make()), attempt };
  const outcome = await runJob(planTemplateJob(template, type, { runUuid }), ctx);
  return Object.assign(ctx, { state: outcome.state, failure: outcome.failure?.message });
}

describe("vsphere builders: the next attempt of a job reaps what a crashed attempt left", () => {
  it("destroys the earlier attempts' VMs, keeps other jobs' and later attempts' VMs, and builds its own", async () => {
    const name = `reap-${process.pid}`;
    // Bystanders: another job's VM, and a VM of a later attempt of this job (an older attempt may not touch it).
    expect((await build(cloneTemplate(`other-job-${process.pid}`), OTHER_RUN, 1)).state).toBe("succeeded");
    expect((await build(cloneTemplate(`later-attempt-${process.pid}`), RUN, 3)).state).toBe("succeeded");
    // This job's attempt 1 also left a VM under another name (vm_name rendered differently, e.g. with {{uuid}}).
    expect((await build(cloneTemplate(`renamed-${process.pid}`), RUN, 1)).state).toBe("succeeded");

    // Attempt 1 dies mid-build, in its own process, with its VM running.
    const work = await vc.dirs.make();
    await writeFile(path.join(work, "job.json"), JSON.stringify(planTemplateJob(isoTemplate(name), "vsphere-iso", { runUuid: RUN })));
    const crashed = await runScript("agent/tests/vsphere_crash_child.ts", [path.join(work, "job.json"), work, "1"], { cwd: work, timeoutMs: 120_000 });
    expect(crashed.code, crashed.stdout + crashed.stderr).toBeNull(); // killed by SIGKILL
    expect(crashed.stdout).toContain("Connected to SSH!");
    const left = (await vms()).get(name);
    expect(left).toMatchObject({ power: "poweredOn", mark: { job: `${RUN}/j0`, attempt: 1 } });

    // Attempt 2 of the same job, same template.
    const second = await build(isoTemplate(name), RUN, 2);
    expect(second.state, second.failure).toBe("succeeded");
    expect(second.lines()).toEqual(
      expect.arrayContaining([`Destroying VM ${name}, left by attempt 1 of this job`, `Destroying VM renamed-${process.pid}, left by attempt 1 of this job`]),
    );
    const after = await vms();
    expect(after.has(`renamed-${process.pid}`)).toBe(false);
    expect(after.get(name)?.ref.value).not.toBe(left?.ref.value);
    expect(after.get(name)).toMatchObject({ power: "poweredOff", mark: { job: `${RUN}/j0`, attempt: 2 } });
    expect(after.get(`other-job-${process.pid}`)?.mark).toEqual({ job: `${OTHER_RUN}/j0`, attempt: 1 });
    expect(after.get(`later-attempt-${process.pid}`)?.mark).toEqual({ job: `${RUN}/j0`, attempt: 3 });
  }, 240_000);

  it("leaves a same-named VM of another job alone: the build fails with Packer's 'already exists'", async () => {
    const name = `taken-${process.pid}`;
    expect((await build(cloneTemplate(name), OTHER_RUN, 1)).state).toBe("succeeded");
    const second = await build(cloneTemplate(name), RUN, 2);
    expect(second.state).toBe("failed");
    expect(second.failure).toBe(`${name} already exists, you can use -force flag to destroy it (vm_name)`);
    expect((await vms()).get(name)?.mark).toEqual({ job: `${OTHER_RUN}/j0`, attempt: 1 });
  }, 120_000);
});
