/**
 * The farm's fault-tolerance policy over real NATS JetStream and gRPC: build and job timeouts, retries of
 * infrastructure failures only, -fail-fast, and draining an agent.
 */
import { writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BuildOptions } from "../../proto/src/mod.js";
import { TestFarm, until, watchToEnd } from "../src/mod.js";

function template(builders: object[], provisioners: object[] = []): string {
  return JSON.stringify({ builders, provisioners });
}

describe("farm - timeouts, retries, fail-fast, drain", () => {
  let farm: TestFarm;
  beforeEach(async () => {
    farm = await TestFarm.start();
  });
  afterEach(async () => {
    await farm.stop();
  });

  async function submit(templateJson: string, options: BuildOptions, local = true): Promise<string> {
    const client = farm.client();
    const status = await client.submit({
      template_json: templateJson,
      template_name: "t.json",
      options,
      ...(local ? { local_cwd: farm.workspace, local_template_dir: farm.workspace } : {}),
    });
    return status.build?.id ?? "";
  }

  it("stops a job that outlives -job-timeout: it fails with ERROR_CODE_TIMEOUT and its process is gone", async () => {
    const client = await farm.addCoordinator();
    await farm.addAgent({ name: "a", builderTypes: ["null"] });
    const marker = path.join(farm.workspace, "finished");
    const id = await submit(
      template([{ type: "null", name: "slow", communicator: "none" }], [{ type: "shell-local", inline: [`sleep 4 && touch ${marker}`] }]),
      { job_timeout_ms: 1_000 },
    );
    const { status, events } = await watchToEnd(client, id);
    expect(status.build?.state).toBe("BUILD_STATE_FAILED");
    expect(status.jobs[0]?.state).toBe("JOB_STATE_FAILED");
    expect(status.jobs[0]?.failure).toMatchObject({ code: "ERROR_CODE_TIMEOUT", message: expect.stringContaining("the job's timeout (1s) passed") });
    expect(status.jobs[0]?.attempt).toBe(1); // a timeout is not retried
    expect(events.find((e) => e.result)?.result?.failure?.code).toBe("ERROR_CODE_TIMEOUT");
    await new Promise((r) => setTimeout(r, 4_500));
    expect(existsSync(marker)).toBe(false);
  });

  it("fails a build that outlives -timeout: the running job stops and a job no agent could take fails unstarted", async () => {
    const client = await farm.addCoordinator();
    await farm.addAgent({ name: "a", builderTypes: ["null"] });
    const id = await submit(
      template(
        [
          { type: "null", name: "slow", communicator: "none" },
          { type: "file", name: "stuck", target: "never.txt", content: "x" },
        ],
        [{ type: "shell-local", only: ["slow"], inline: ["sleep 20"] }],
      ),
      { timeout_ms: 1_500 },
    );
    const started = Date.now();
    const { status } = await watchToEnd(client, id);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(status.build?.state).toBe("BUILD_STATE_FAILED");
    const byName = Object.fromEntries(status.jobs.map((j) => [j.name, j]));
    expect(byName["slow"]?.failure?.code).toBe("ERROR_CODE_TIMEOUT");
    expect(byName["stuck"]).toMatchObject({ state: "JOB_STATE_FAILED", failure: { code: "ERROR_CODE_TIMEOUT" } });
    expect(byName["stuck"]?.failure?.message).toContain("timeout (1.5s) passed");
  });

  it("retries an infrastructure failure on another agent, and never a provisioner failure", async () => {
    const client = await farm.addCoordinator();
    // An agent whose work directory is a file cannot create job workspaces: a host problem, not the template's.
    const brokenDir = path.join(farm.dir, "not-a-directory");
    await writeFile(brokenDir, "");
    await farm.addAgent({ name: "broken", builderTypes: ["null"], workDir: brokenDir });
    const id = await submit(
      template([{ type: "null", name: "n", communicator: "none" }], [{ type: "shell-local", inline: ["echo ran"] }]),
      { max_attempts: 3 },
      false,
    );
    await until(async () => ((await client.getBuild(id)).jobs[0]?.failure?.code === "ERROR_CODE_UNAVAILABLE" ? true : undefined), "the first attempt's failure");
    await farm.stopAgent("broken");
    await farm.addAgent({ name: "good", builderTypes: ["null"] });
    const { status, events } = await watchToEnd(client, id);
    expect(status.build?.state).toBe("BUILD_STATE_SUCCEEDED");
    expect(status.jobs[0]).toMatchObject({ state: "JOB_STATE_SUCCEEDED", agent: "good", attempt: 2 });
    const retry = events.find((e) => e.state?.job_state === "JOB_STATE_QUEUED" && Number(e.state.retry_in_ms) > 0);
    expect(retry?.state?.failure?.message).toContain("agent broken could not prepare the job's workspace");
    expect(retry?.attempt).toBe(1);
    expect(events.some((e) => e.log?.text === "ran")).toBe(true);

    const failing = await submit(template([{ type: "null", name: "bad", communicator: "none" }], [{ type: "shell-local", inline: ["exit 3"] }]), {
      max_attempts: 3,
    });
    const failed = await watchToEnd(client, failing);
    expect(failed.status.jobs[0]).toMatchObject({ state: "JOB_STATE_FAILED", attempt: 1 });
    expect(failed.events.some((e) => Number(e.state?.retry_in_ms ?? 0) > 0)).toBe(false);
  });

  it("gives up after -max-attempts infrastructure failures, with the last error", async () => {
    const client = await farm.addCoordinator();
    const brokenDir = path.join(farm.dir, "not-a-directory");
    await writeFile(brokenDir, "");
    await farm.addAgent({ name: "broken", builderTypes: ["null"], workDir: brokenDir });
    const id = await submit(template([{ type: "null", name: "n", communicator: "none" }]), { max_attempts: 2 }, false);
    const { status } = await watchToEnd(client, id);
    expect(status.jobs[0]).toMatchObject({ state: "JOB_STATE_FAILED", attempt: 2, failure: { code: "ERROR_CODE_UNAVAILABLE" } });
  });

  it("with -fail-fast, cancels the other builds as soon as one fails", async () => {
    const client = await farm.addCoordinator();
    await farm.addAgent({ name: "a", builderTypes: ["null"], slots: 2 });
    const id = await submit(
      template(
        [
          { type: "null", name: "fails", communicator: "none" },
          { type: "null", name: "slow", communicator: "none" },
        ],
        [
          { type: "shell-local", only: ["fails"], inline: ["sleep 0.5; exit 1"] },
          { type: "shell-local", only: ["slow"], inline: ["sleep 20"] },
        ],
      ),
      { fail_fast: true },
    );
    const started = Date.now();
    const { status } = await watchToEnd(client, id);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(status.build?.state).toBe("BUILD_STATE_FAILED");
    const byName = Object.fromEntries(status.jobs.map((j) => [j.name, j]));
    expect(byName["fails"]?.state).toBe("JOB_STATE_FAILED");
    expect(byName["slow"]).toMatchObject({ state: "JOB_STATE_CANCELLED", failure: { code: "ERROR_CODE_CANCELLED" } });
    expect(byName["slow"]?.failure?.message).toContain("Cancelled because build 'fails' failed (-fail-fast)");
  });

  it("drains an agent on request: it finishes its running job, takes no new one, and leaves", async () => {
    const client = await farm.addCoordinator();
    const agent = await farm.addAgent({ name: "old", builderTypes: ["null"], slots: 2 });
    const first = await submit(template([{ type: "null", name: "long", communicator: "none" }], [{ type: "shell-local", inline: ["sleep 2"] }]), {});
    await until(async () => ((await client.getBuild(first)).jobs[0]?.state === "JOB_STATE_RUNNING" ? true : undefined), "the long job to run");
    const drained = await client.drainAgent("old");
    expect(drained.draining).toBe(true);
    await until(async () => ((await client.listAgents()).some((a) => a.name === "old" && a.draining) ? true : undefined), "the agent to show as draining");
    const second = await submit(template([{ type: "null", name: "later", communicator: "none" }]), {});
    await agent.stopped;
    expect((await watchToEnd(client, first)).status.build?.state).toBe("BUILD_STATE_SUCCEEDED");
    // Nobody left to run it: it waits, queued, for the next agent.
    expect((await client.getBuild(second)).jobs[0]?.state).toBe("JOB_STATE_WAITING");
    expect((await client.listAgents()).map((a) => a.name)).toEqual([]);
    await farm.addAgent({ name: "new", builderTypes: ["null"] });
    expect((await watchToEnd(client, second)).status.jobs[0]?.agent).toBe("new");
    await expect(client.drainAgent("nobody")).rejects.toMatchObject({ code: "ERROR_CODE_NOT_FOUND" });
  });
});
