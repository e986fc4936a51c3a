/**
 * kill -9 of the `kiln agent` running a job: the job's lease expires, another agent runs it as attempt 2, the build
 * succeeds, and the job's side effect ran to completion exactly once. Killed mid-upload of its artifact, attempt 2
 * keeps the chunks attempt 1 stored in the object store and sends only the rest.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NatsServer } from "../../core/src/mod.js";
import { TcpProxy, runKiln, seededRandom, tempDir } from "../src/mod.js";
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

  it("killed mid-upload of its artifact, the job's retry on another agent keeps what the object store holds and sends only the rest", async () => {
    const MiB = 1024 * 1024;
    const size = 96 * MiB;
    const next = seededRandom(11);
    const image = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i += 4) image.writeUInt32LE(Math.floor(next() * 0x1_0000_0000), i);
    const source = path.join(work.dir, "image.bin");
    await writeFile(source, image);
    const template = path.join(work.dir, "project", "template.json");
    await mkdir(path.dirname(template), { recursive: true });
    await writeFile(template, JSON.stringify({ builders: [{ type: "file", name: "image", source, target: "out/image.bin" }] }));

    const coordinator = await startCoordinator(nats.url, work.dir);
    daemons.push(coordinator.daemon);
    // Each agent reaches NATS through its own counting proxy; whichever runs the job first dies 32 MiB into its
    // upload (the job itself sends next to nothing before).
    await using proxyA = await TcpProxy.start(nats.port);
    await using proxyB = await TcpProxy.start(nats.port);
    const agents = new Map<string, { daemon: KilnDaemon; proxy: TcpProxy }>();
    let victim = "";
    for (const [name, proxy] of [["alpha", proxyA], ["beta", proxyB]] as const) {
      const daemon = await startAgent(`nats://127.0.0.1:${proxy.port}`, name, work.dir);
      agents.set(name, { daemon, proxy });
      daemons.push(daemon);
    }
    for (const [name, { daemon, proxy }] of agents) {
      proxy.when(proxy.upstreamBytes + 32 * MiB, () => {
        if (victim) return;
        victim = name;
        // At once (kill9 first walks /proc for descendants, while the upload goes on); the file builder starts none.
        daemon.child.kill("SIGKILL");
        void daemon.kill9();
      });
    }
    const survivorBefore = new Map([...agents].map(([name, { proxy }]) => [name, proxy.upstreamBytes]));

    const result = await runKiln(["build", "-color=false", "--coordinator", coordinator.address, template], { cwd: work.dir, timeoutMs: 150_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(victim).not.toBe("");
    const survivor = victim === "alpha" ? "beta" : "alpha";
    const kept = /kept ([\d.]+) MiB an earlier attempt had stored/.exec(result.stdout);
    expect(kept, result.stdout).not.toBeNull();
    const keptMiB = Number(kept?.[1]);
    // What was acknowledged before the kill (32 MiB sent, a few chunks in flight), not the whole file.
    expect(keptMiB).toBeGreaterThanOrEqual(24);
    expect(keptMiB).toBeLessThan(96);
    const sent = (agents.get(survivor)?.proxy.upstreamBytes ?? 0) - (survivorBefore.get(survivor) ?? 0);
    console.log(`agent ${victim} killed mid-upload; ${survivor} kept ${keptMiB} MiB and sent ${(sent / MiB).toFixed(2)} MiB of ${size / MiB} MiB`);
    expect(sent).toBeGreaterThan(size - keptMiB * MiB);
    expect(sent).toBeLessThan(size - keptMiB * MiB + 2 * MiB);

    const builds = await runKiln(["builds", "--json", "--coordinator", coordinator.address], { cwd: work.dir });
    const status = JSON.parse(builds.stdout) as { id: string; jobs: { agent: string; attempt: number }[] }[];
    expect(status[0]?.jobs).toMatchObject([{ agent: survivor, attempt: 2 }]);
    const got = await runKiln(["artifacts", "get", status[0]?.id ?? "", "--dest", path.join(work.dir, "got"), "--coordinator", coordinator.address], { cwd: work.dir, timeoutMs: 60_000 });
    expect(got.code, got.stdout + got.stderr).toBe(0);
    const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
    expect(sha(await readFile(path.join(work.dir, "got", "out", "image.bin")))).toBe(sha(image));
  }, 180_000);
});
