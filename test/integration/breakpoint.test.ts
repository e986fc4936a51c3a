/**
 * The breakpoint provisioner on a farm: the job pauses until `kiln continue`, a cancel ends the pause, and a disabled
 * breakpoint says so in Packer's words.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JobEvent__Output } from "../../proto/src/mod.js";
import { TestFarm, watchToEnd } from "../src/mod.js";

describe("farm - breakpoint and kiln continue", () => {
  let farm: TestFarm;
  beforeEach(async () => {
    farm = await TestFarm.start();
  });
  afterEach(async () => {
    await farm.stop();
  });

  const template = JSON.stringify({
    builders: [{ type: "null", name: "n", communicator: "none" }],
    provisioners: [
      { type: "shell-local", inline: ["echo before"] },
      { type: "breakpoint", disable: true, note: "skipped" },
      { type: "breakpoint", note: "look at the machine" },
      { type: "shell-local", inline: ["echo after"] },
    ],
  });

  async function startPaused(): Promise<{ id: string; events: JobEvent__Output[]; watching: Promise<void> }> {
    const client = await farm.addCoordinator();
    await farm.addAgent({ name: "a", builderTypes: ["null"] });
    const submitted = await client.submit({ template_json: template, template_name: "t.json", local_cwd: farm.workspace, local_template_dir: farm.workspace });
    const id = submitted.build?.id ?? "";
    const events: JobEvent__Output[] = [];
    let paused: () => void = () => undefined;
    const pausedSeen = new Promise<void>((resolve) => (paused = resolve));
    const watching = (async () => {
      for await (const e of client.watch(id, 0)) {
        events.push(e);
        if (e.state?.paused) paused();
      }
    })();
    await pausedSeen;
    return { id, events, watching };
  }

  it("pauses the job until kiln continue, then runs the rest", async () => {
    const { id, events, watching } = await startPaused();
    const client = farm.client();
    const say = (): string[] => events.filter((e) => e.log).map((e) => e.log?.text ?? "");
    expect(say()).toContain("before");
    expect(say()).toContain('Breakpoint provisioner with note "skipped" disabled; continuing...');
    expect(say()).toContain('Pausing at breakpoint provisioner with note "look at the machine".');
    expect(events.find((e) => e.state?.paused)?.state?.pause_note).toBe("look at the machine");
    await new Promise((r) => setTimeout(r, 1_500));
    expect(say()).not.toContain("after");
    expect((await client.getBuild(id)).jobs[0]?.state).toBe("JOB_STATE_RUNNING");

    await client.continueBuild(id);
    await watching;
    expect(say()).toContain("after");
    const { status } = await watchToEnd(client, id);
    expect(status.build?.state).toBe("BUILD_STATE_SUCCEEDED");
    await expect(client.continueBuild(id)).rejects.toMatchObject({ code: "ERROR_CODE_INVALID_ARGUMENT" });
  });

  it("ends the pause when the build is cancelled", async () => {
    const { id, watching } = await startPaused();
    const client = farm.client();
    await client.cancel(id);
    await watching;
    const { status } = await watchToEnd(client, id);
    expect(status.build?.state).toBe("BUILD_STATE_CANCELLED");
    expect(status.jobs[0]?.state).toBe("JOB_STATE_CANCELLED");
  });
});
