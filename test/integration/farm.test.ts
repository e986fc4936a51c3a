/**
 * The spine, end to end over real NATS JetStream and gRPC: submit through a coordinator, agents with different
 * capabilities pull and run jobs, events stream back, state lands in KV.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JobEvent__Output } from "../../proto/src/mod.js";
import { TestFarm, until, watchToEnd } from "../src/mod.js";

function template(builders: object[], extra: object = {}): string {
  return JSON.stringify({ builders, ...extra }, null, 2);
}

describe("farm - end to end", () => {
  let farm: TestFarm;
  beforeEach(async () => {
    farm = await TestFarm.start();
  });
  afterEach(async () => {
    await farm.stop();
  });

  it("runs concurrent builds on three agents, each job only on an agent that can run its builder type", async () => {
    const client = await farm.addCoordinator();
    await farm.addAgent({ name: "files-only", builderTypes: ["file"], slots: 2 });
    await farm.addAgent({ name: "null-only", builderTypes: ["null"], slots: 2 });
    await farm.addAgent({ name: "both-eu", builderTypes: ["file", "null"], datacenter: "eu", slots: 2 });

    const submissions = await Promise.all(
      [0, 1, 2].map((i) =>
        client.submit({
          template_json: template([
            { type: "file", name: "one", target: `b${i}/one.txt`, content: `one {{build_name}} ${i}` },
            { type: "file", name: "two", target: `b${i}/two.txt`, content: "two" },
            { type: "null", name: "nothing", communicator: "none" },
          ]),
          template_name: `t${i}.json`,
          local_cwd: farm.workspace,
          local_template_dir: farm.workspace,
        }),
      ),
    );
    const results = await Promise.all(submissions.map((s) => watchToEnd(client, s.build?.id ?? "")));
    for (const [i, { status, events }] of results.entries()) {
      expect(status.build?.state).toBe("BUILD_STATE_SUCCEEDED");
      expect(status.jobs.map((j) => j.state)).toEqual(["JOB_STATE_SUCCEEDED", "JOB_STATE_SUCCEEDED", "JOB_STATE_SUCCEEDED"]);
      for (const job of status.jobs) {
        const allowed = job.builder_type === "file" ? ["files-only", "both-eu"] : ["null-only", "both-eu"];
        expect(allowed).toContain(job.agent);
        expect(job.attempt).toBe(1);
      }
      expect(await readFile(path.join(farm.workspace, `b${i}`, "one.txt"), "utf8")).toBe(`one one ${i}`);
      // The stream ends with the build-level terminal event and carries each job's result.
      expect(events.at(-1)?.state?.build_state).toBe("BUILD_STATE_SUCCEEDED");
      expect(events.filter((e) => e.result).map((e) => e.name).sort()).toEqual(["nothing", "one", "two"]);
    }
  });

  it("keeps a job no agent can run queued and reports it as waiting, then runs it when a capable agent joins", async () => {
    const client = await farm.addCoordinator();
    await farm.addAgent({ name: "files-only", builderTypes: ["file"] });
    const submitted = await client.submit({
      template_json: template([
        { type: "file", name: "f", target: "f.txt", content: "x" },
        { type: "null", name: "n", communicator: "none" },
      ]),
      template_name: "t.json",
      local_cwd: farm.workspace,
      local_template_dir: farm.workspace,
    });
    const id = submitted.build?.id ?? "";
    const waiting = await until(async () => {
      const s = await client.getBuild(id);
      const f = s.jobs.find((j) => j.name === "f");
      const n = s.jobs.find((j) => j.name === "n");
      return f?.state === "JOB_STATE_SUCCEEDED" && n?.state === "JOB_STATE_WAITING" ? s : undefined;
    }, "the file job to finish while the null job waits");
    expect(waiting.build?.state).toBe("BUILD_STATE_RUNNING");
    expect(waiting.jobs.find((j) => j.name === "n")?.waiting_reason).toMatch(/no live agent can run builder type 'null'/);

    await farm.addAgent({ name: "late-null", builderTypes: ["null"] });
    const { status } = await watchToEnd(client, id);
    expect(status.build?.state).toBe("BUILD_STATE_SUCCEEDED");
    expect(status.jobs.find((j) => j.name === "n")?.agent).toBe("late-null");
  });

  it("routes a datacenter-constrained build only to that datacenter's agents", async () => {
    const client = await farm.addCoordinator();
    await farm.addAgent({ name: "us", builderTypes: ["file"], datacenter: "us" });
    await farm.addAgent({ name: "eu", builderTypes: ["file"], datacenter: "eu" });
    const submitted = await client.submit({
      template_json: template([1, 2, 3, 4].map((i) => ({ type: "file", name: `f${i}`, target: `dc/f${i}.txt`, content: "x" }))),
      template_name: "t.json",
      datacenter: "eu",
      local_cwd: farm.workspace,
      local_template_dir: farm.workspace,
    });
    const { status } = await watchToEnd(client, submitted.build?.id ?? "");
    expect(status.build?.state).toBe("BUILD_STATE_SUCCEEDED");
    expect(new Set(status.jobs.map((j) => j.agent))).toEqual(new Set(["eu"]));
  });

  it("replays a finished build's events from the start and resumes from any sequence without gaps or duplicates", async () => {
    const client = await farm.addCoordinator();
    await farm.addAgent({ name: "a", builderTypes: ["file", "null"] });
    const submitted = await client.submit({
      template_json: template([{ type: "file", name: "f", target: "r.txt", content: "x" }], {
        provisioners: [{ type: "shell-local", inline: ["echo line-1", "echo line-2"] }],
      }),
      template_name: "t.json",
      local_cwd: farm.workspace,
      local_template_dir: farm.workspace,
    });
    const id = submitted.build?.id ?? "";
    const first = await watchToEnd(client, id);
    const again = (await watchToEnd(client, id)).events;
    expect(again.map((e) => e.seq)).toEqual(first.events.map((e) => e.seq));
    expect(first.events.some((e) => e.log?.text === "line-1")).toBe(true);
    const middle = first.events[Math.floor(first.events.length / 2)];
    const rest: JobEvent__Output[] = [];
    for await (const e of client.watch(id, Number(middle?.seq))) rest.push(e);
    expect(rest.map((e) => e.seq)).toEqual(first.events.filter((e) => Number(e.seq) > Number(middle?.seq)).map((e) => e.seq));
  });

  it("delivers every log line of a chatty job, in order, before the job's result", async () => {
    // Most events travel unacknowledged and every 32nd with an acknowledgement: 500 lines cross that boundary often.
    const client = await farm.addCoordinator();
    await farm.addAgent({ name: "a", builderTypes: ["null"] });
    const submitted = await client.submit({
      template_json: template([{ type: "null", name: "chatty", communicator: "none" }], {
        provisioners: [{ type: "shell-local", inline: ["i=1; while [ $i -le 500 ]; do echo \"line $i\"; i=$((i+1)); done"] }],
      }),
      template_name: "t.json",
      local_cwd: farm.workspace,
      local_template_dir: farm.workspace,
    });
    const { status, events } = await watchToEnd(client, submitted.build?.id ?? "");
    expect(status.build?.state).toBe("BUILD_STATE_SUCCEEDED");
    const lines = events.map((e) => e.log?.text ?? "").filter((t) => /^line \d+$/.test(t));
    expect(lines).toEqual(Array.from({ length: 500 }, (_, i) => `line ${i + 1}`));
    const lastLine = events.findIndex((e) => e.log?.text === "line 500");
    const result = events.findIndex((e) => e.result);
    expect(lastLine).toBeLessThan(result);
    expect(new Set(events.map((e) => e.seq)).size).toBe(events.length);
  });

  it("serves one build from several coordinators: submit through one, watch and cancel through another", async () => {
    const a = await farm.addCoordinator();
    const b = await farm.addCoordinator();
    await farm.addAgent({ name: "a", builderTypes: ["file", "null"] });
    const submitted = await a.submit({
      template_json: template([{ type: "null", name: "slow", communicator: "none" }], {
        provisioners: [{ type: "shell-local", inline: ["sleep 60"] }],
      }),
      template_name: "t.json",
      local_cwd: farm.workspace,
      local_template_dir: farm.workspace,
    });
    const id = submitted.build?.id ?? "";
    await until(async () => ((await b.getBuild(id)).jobs[0]?.state === "JOB_STATE_RUNNING" ? true : undefined), "the job to run");
    const started = Date.now();
    await b.cancel(id);
    const { status } = await watchToEnd(b, id);
    expect(status.build?.state).toBe("BUILD_STATE_CANCELLED");
    expect(status.jobs[0]?.state).toBe("JOB_STATE_CANCELLED");
    expect(status.jobs[0]?.failure?.code).toBe("ERROR_CODE_CANCELLED");
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("honours -parallel-builds by holding jobs until running ones end", async () => {
    const client = await farm.addCoordinator();
    await farm.addAgent({ name: "wide", builderTypes: ["file", "null"], slots: 4 });
    const submitted = await client.submit({
      template_json: template([1, 2, 3].map((i) => ({ type: "null", name: `n${i}`, communicator: "none" })), {
        provisioners: [{ type: "shell-local", inline: ["sleep 0.3"] }],
      }),
      template_name: "t.json",
      options: { parallel_builds: 1 },
      local_cwd: farm.workspace,
      local_template_dir: farm.workspace,
    });
    const { status } = await watchToEnd(client, submitted.build?.id ?? "");
    expect(status.build?.state).toBe("BUILD_STATE_SUCCEEDED");
    const spans = status.jobs.map((j) => [Number(j.started_at_ms), Number(j.finished_at_ms)] as const).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]?.[0]).toBeGreaterThanOrEqual(spans[i - 1]?.[1] ?? Infinity);
    // Held jobs' specs (they carry the variables) are gone once released.
    const leftover: string[] = [];
    for await (const key of await (farm.coordinators[0]?.service.farm.builds.keys("spec.>") ?? [])) leftover.push(key);
    expect(leftover).toEqual([]);
  });

  it("never lets a sensitive variable's value out of the agent: events, job records and results say <sensitive>", async () => {
    const client = await farm.addCoordinator();
    await farm.addAgent({ name: "a", builderTypes: ["file", "null"] });
    const submitted = await client.submit({
      template_json: template([{ type: "null", name: "n", communicator: "none" }], {
        variables: { secret: null },
        "sensitive-variables": ["secret"],
        provisioners: [{ type: "shell-local", inline: ["echo token={{user `secret`}}", "echo also-{{user `secret`}} >&2", "exit 1"] }],
      }),
      template_name: "t.json",
      variables: { secret: "hunter2-value" },
      local_cwd: farm.workspace,
      local_template_dir: farm.workspace,
    });
    const { status, events } = await watchToEnd(client, submitted.build?.id ?? "");
    expect(status.build?.state).toBe("BUILD_STATE_FAILED");
    const texts = events.flatMap((e) => (e.log ? [e.log.text] : []));
    expect(texts).toContain("token=<sensitive>");
    expect(texts).toContain("also-<sensitive>");
    expect(JSON.stringify(events)).not.toContain("hunter2-value");
    expect(JSON.stringify(status)).not.toContain("hunter2-value");
  });

  it("rejects a malformed template at submit with the template error code", async () => {
    const client = await farm.addCoordinator();
    await expect(client.submit({ template_json: "{ \"builders\": [ ", template_name: "broken.json" })).rejects.toMatchObject({
      code: "ERROR_CODE_INVALID_TEMPLATE",
    });
  });
});
