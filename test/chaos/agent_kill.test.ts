/**
 * kill -9 of the `kiln agent` running a job: the job's lease expires, another agent runs it as attempt 2, the build
 * succeeds, and the job's side effect ran to completion exactly once.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NatsServer } from "../../core/src/mod.js";
import { runKiln, tempDir } from "../src/mod.js";
import { agentOf, readMarks, startAgent, startCoordinator, waitFor, writeMarkingProject, type KilnDaemon } from "./support.js";

describe("chaos - agent killed mid-job", () => {
  let nats: NatsServer;
  let work: { dir: string; cleanup: () => Promise<void> };
  const daemons: KilnDaemon[] = [];

  beforeEach(async () => {
    nats = await NatsServer.start();
    work = await tempDir("kiln-chaos-agent-");
  });
  afterEach(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    daemons.length = 0;
    await nats.stop();
    await work.cleanup();
  });

  it("runs the job on another agent after kill -9, and its side effect completes exactly once", async () => {
    const coordinator = await startCoordinator(nats.url, work.dir);
    daemons.push(coordinator.daemon);
    const agents = new Map<string, KilnDaemon>();
    for (const name of ["alpha", "beta"]) {
      const agent = await startAgent(nats.url, name, work.dir);
      agents.set(name, agent);
      daemons.push(agent);
    }
    const marks = path.join(work.dir, "marks.log");
    const template = await writeMarkingProject(path.join(work.dir, "project"), { builds: ["victim"], marks, seconds: 3 });

    const build = runKiln(["build", "-color=false", "--coordinator", coordinator.address, template], { cwd: work.dir, timeoutMs: 120_000 });
    await waitFor("the job to start", async () => (await readMarks(marks)).some((m) => m.kind === "start"));
    const first = (await readMarks(marks))[0];
    const victimName = first ? agentOf(first) : "";
    const victim = agents.get(victimName);
    if (!victim) throw new Error(`the job started in an unknown workspace: ${JSON.stringify(first)}`);
    await victim.kill9();

    const result = await build;
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const all = await readMarks(marks);
    const survivor = victimName === "alpha" ? "beta" : "alpha";
    // Two starts (one per attempt), one completion, on the survivor.
    expect(all.filter((m) => m.kind === "start").map(agentOf)).toEqual([victimName, survivor]);
    expect(all.filter((m) => m.kind === "done").map(agentOf)).toEqual([survivor]);

    // The farm's record: attempt 2 on the survivor, succeeded; the manifest lists the build once.
    const builds = await runKiln(["builds", "--json", "--coordinator", coordinator.address], { cwd: work.dir });
    const status = JSON.parse(builds.stdout) as { state: string; jobs: { name: string; state: string; agent: string; attempt: number }[] }[];
    expect(status[0]?.jobs).toMatchObject([{ name: "victim", agent: survivor, attempt: 2 }]);
    expect(status[0]?.state).toMatch(/succeeded/i);
    const manifest = JSON.parse(await readFile(path.join(work.dir, "manifest.json"), "utf8")) as { builds: { name: string }[] };
    expect(manifest.builds.map((b) => b.name)).toEqual(["victim"]);
    // The CLI showed the job's output; attempt 1's lines may show too, the completion once.
    expect(result.stdout.match(/^ {4}victim: finished victim$/gm)).toHaveLength(1);
  }, 120_000);
});
