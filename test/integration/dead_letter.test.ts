/**
 * A job whose agents keep dying: JetStream redelivers it after each lost lease, other agents take it with a higher
 * attempt, and once kiln's attempt limit is spent the job fails with AGENT_LOST and its message goes to KILN_DEAD.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEAD_STREAM, JOBS_STREAM, JOB_MAX_ATTEMPTS, ensureJobConsumer } from "../../core/src/mod.js";
import { TestFarm, until, watchToEnd } from "../src/mod.js";

const LEASE_MS = 1_500;

describe("farm - lost agents and the dead-letter path", () => {
  let farm: TestFarm;
  beforeEach(async () => {
    farm = await TestFarm.start();
  });
  afterEach(async () => {
    await farm.stop();
  });

  it("retries on other agents after each crash, then fails the job with AGENT_LOST and dead-letters it", async () => {
    const client = await farm.addCoordinator();
    const submitted = await client.submit({
      template_json: JSON.stringify({
        builders: [{ type: "null", name: "doomed", communicator: "none" }],
        provisioners: [{ type: "shell-local", inline: ["sleep 300"] }],
      }),
      template_name: "t.json",
      local_cwd: farm.workspace,
      local_template_dir: farm.workspace,
    });
    const id = submitted.build?.id ?? "";
    for (let attempt = 1; attempt <= JOB_MAX_ATTEMPTS; attempt++) {
      const name = `doomed-${attempt}`;
      await farm.addAgent({ name, builderTypes: ["null"], jobLeaseMs: LEASE_MS });
      await until(async () => {
        const job = (await client.getBuild(id)).jobs[0];
        return job?.state === "JOB_STATE_RUNNING" && job.attempt === attempt && job.agent === name ? true : undefined;
      }, `attempt ${attempt} to start on ${name}`);
      await farm.crashAgent(name);
    }
    await farm.addAgent({ name: "survivor", builderTypes: ["null"], jobLeaseMs: LEASE_MS });
    const { status, events } = await watchToEnd(client, id);
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

  it("dead-letters a job JetStream gave up on (max_deliver reached), and fails it with AGENT_LOST", async () => {
    const client = await farm.addCoordinator();
    const submitted = await client.submit({
      template_json: JSON.stringify({ builders: [{ type: "null", name: "refused", communicator: "none" }] }),
      template_name: "t.json",
      local_cwd: farm.workspace,
      local_template_dir: farm.workspace,
    });
    const id = submitted.build?.id ?? "";
    // Play agents that take the job and hand it back every time, on a consumer that allows two deliveries.
    const handles = farm.coordinators[0]?.service.farm;
    if (!handles) throw new Error("no coordinator");
    const consumerName = await ensureJobConsumer(handles.jsm, "any", "null", 1_000, 2);
    const consumer = await handles.js.consumers.get(JOBS_STREAM, consumerName);
    for (let delivery = 1; delivery <= 2; delivery++) {
      const msg = await consumer.next({ expires: 5_000 });
      expect(msg?.info.deliveryCount).toBe(delivery);
      msg?.nak();
    }
    // The server notices the limit when it next tries to deliver: a waiting pull gets nothing, and the advisory fires.
    expect(await consumer.next({ expires: 2_000 })).toBeNull();
    const { status } = await watchToEnd(client, id);
    expect(status.build?.state).toBe("BUILD_STATE_FAILED");
    expect(status.jobs[0]?.failure?.code).toBe("ERROR_CODE_AGENT_LOST");
    const dead = await handles.jsm.streams.getMessage(DEAD_STREAM, { last_by_subj: `kiln.dead.${id}.j0` });
    expect(dead?.subject).toBe(`kiln.dead.${id}.j0`);
    // The job left the work queue.
    expect((await handles.jsm.streams.info(JOBS_STREAM)).state.messages).toBe(0);
  });
});
