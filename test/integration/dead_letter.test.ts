/**
 * A job whose agents keep dying: JetStream redelivers it after each lost lease, other agents take it with a higher
 * attempt, and once kiln's attempt limit is spent the job fails with AGENT_LOST and its message goes to KILN_DEAD.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEAD_STREAM, JOB_MAX_ATTEMPTS } from "../../core/src/mod.js";
import { TestFarm, tempDir } from "../src/mod.js";

const LEASE_MS = 1_500;

describe("farm - lost agents and the dead-letter path", () => {
  let farm: TestFarm;
  let work: { dir: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    farm = await TestFarm.start();
    work = await tempDir();
  });
  afterEach(async () => {
    await farm.stop();
    await work.cleanup();
  });

  it("retries on other agents after each crash, then fails the job with AGENT_LOST and dead-letters it", async () => {
    const client = await farm.addCoordinator();
    const submitted = await client.submit({
      template_json: JSON.stringify({
        builders: [{ type: "null", name: "doomed", communicator: "none" }],
        provisioners: [{ type: "shell-local", inline: ["sleep 300"] }],
      }),
      template_name: "t.json",
      local_cwd: work.dir,
      local_template_dir: work.dir,
    });
    const id = submitted.build?.id ?? "";
    for (let attempt = 1; attempt <= JOB_MAX_ATTEMPTS; attempt++) {
      const name = `doomed-${attempt}`;
      await farm.addAgent({ name, builderTypes: ["null"], jobLeaseMs: LEASE_MS });
      const deadline = Date.now() + 20_000;
      for (;;) {
        const job = (await client.getBuild(id)).jobs[0];
        if (job?.state === "JOB_STATE_RUNNING" && job.attempt === attempt && job.agent === name) break;
        if (Date.now() > deadline) throw new Error(`attempt ${attempt} never started on ${name}: ${JSON.stringify(job)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await farm.crashAgent(name);
    }
    await farm.addAgent({ name: "survivor", builderTypes: ["null"], jobLeaseMs: LEASE_MS });
    const events = [];
    for await (const e of client.watch(id, 0)) events.push(e);
    const status = await client.getBuild(id);
    expect(status.build?.state).toBe("BUILD_STATE_FAILED");
    expect(status.jobs[0]).toMatchObject({ state: "JOB_STATE_FAILED", attempt: JOB_MAX_ATTEMPTS + 1, agent: "survivor" });
    expect(status.jobs[0]?.failure?.code).toBe("ERROR_CODE_AGENT_LOST");
    // Each attempt that ran announced itself; the one past the limit only reported the failure.
    expect(events.filter((e) => e.state?.job_state === "JOB_STATE_RUNNING").map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(events.filter((e) => e.result).map((e) => [e.attempt, e.result?.failure?.code])).toEqual([[4, "ERROR_CODE_AGENT_LOST"]]);

    const jsm = farm.coordinators[0]?.service.farm.jsm;
    const dead = await jsm?.streams.getMessage(DEAD_STREAM, { last_by_subj: `kiln.dead.${id}.j0` });
    expect(dead?.subject).toBe(`kiln.dead.${id}.j0`);
  });
});
