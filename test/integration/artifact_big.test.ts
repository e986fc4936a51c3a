/**
 * A 256 MiB artifact built on a remote agent (a `kiln agent` process of its own) and fetched by `kiln build
 * --download` (another process): byte-identical, its sha256 recorded in the catalog, and neither process's peak
 * resident memory (VmHWM) comes near the file's size: both stream.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readFile, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ArtifactRecord__Output } from "../../proto/src/mod.js";
import { TestFarm, runKiln, tempDir, type ProcessResult } from "../src/mod.js";

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
/** Far below the file: a process that held the file whole would exceed it. */
const PEAK_RSS_LIMIT = 200 * MiB;

/** Peak resident set size of a live process, from /proc/PID/status. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

/** Follows a child's peak RSS until it exits (VmHWM only grows, so the last reading is the peak up to then). */
function trackPeak(child: ChildProcess): { peak: () => number } {
  let peak = 0;
  const timer = setInterval(() => {
    if (child.pid) void peakRss(child.pid).then((v) => (peak = Math.max(peak, v)), () => undefined);
  }, 25);
  child.once("exit", () => clearInterval(timer));
  return { peak: () => peak };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const c of createReadStream(file)) hash.update(c as Buffer);
  return hash.digest("hex");
}

describe("artifacts - 256 MiB round trip through a remote agent", () => {
  let farm: TestFarm;
  let work: { dir: string; cleanup: () => Promise<void> };
  let agent: { child?: ChildProcess; done?: Promise<ProcessResult>; stdout: string };
  beforeAll(async () => {
    farm = await TestFarm.start();
    await farm.addCoordinator();
    work = await tempDir("kiln-big-artifact-");
    agent = { stdout: "" };
    agent.done = runKiln(["agent", "--nats", farm.nats.url, "--name", "remote", "--work-dir", path.join(work.dir, "agent")], {
      cwd: work.dir,
      timeoutMs: 300_000,
      onSpawn: (c) => (agent.child = c),
      onStdout: (o) => (agent.stdout = o),
    });
    const deadline = Date.now() + 30_000;
    while (!agent.stdout.includes("kiln agent remote")) {
      if (Date.now() > deadline) throw new Error(`the agent did not start: ${agent.stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);
  afterAll(async () => {
    agent.child?.kill("SIGTERM");
    await agent.done?.catch(() => undefined);
    await farm.stop();
    await work.cleanup();
  });

  it("kiln build --download: byte-identical, sha256 recorded, agent and CLI peak RSS under 200 MiB", async () => {
    // The image the agent "builds" (the file builder copies it from the agent's disk), written in 8 MiB pieces.
    const source = path.join(work.dir, "agent-disk.img");
    const fh = await open(source, "w");
    const hash = createHash("sha256");
    for (let i = 0; i < SIZE / (8 * MiB); i++) {
      const piece = randomBytes(8 * MiB);
      hash.update(piece);
      await fh.write(piece);
    }
    await fh.close();
    const expected = hash.digest("hex");
    const project = path.join(work.dir, "project");
    await mkdir(project);
    await writeFile(
      path.join(project, "template.json"),
      JSON.stringify({ variables: { src: "" }, builders: [{ type: "file", name: "disk", source: "{{user `src`}}", target: "output/disk.img" }] }),
    );
    const user = path.join(work.dir, "user");
    await mkdir(user);

    let cli: { peak: () => number } | undefined;
    const address = farm.coordinators[0]?.server.address ?? "";
    const run = await runKiln(["build", "--coordinator", address, "--download", "-var", `src=${source}`, path.join(project, "template.json")], {
      cwd: user,
      timeoutMs: 300_000,
      onSpawn: (c) => (cli = trackPeak(c)),
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("Stored 1 artifact(s)");
    expect(await sha256File(path.join(user, "output", "disk.img"))).toBe(expected);
    expect(run.stderr).toMatch(/output\/disk\.img: 256\.0 MiB in .*sha256 ok/);

    const client = farm.client(address);
    const [record] = (await client.listArtifacts()) as ArtifactRecord__Output[];
    expect(record).toMatchObject({ agent: "remote", files: [{ name: "output/disk.img", size: String(SIZE), sha256: expected }] });

    const agentPeak = await peakRss(agent.child?.pid ?? 0);
    const cliPeak = cli?.peak() ?? 0;
    console.log(`peak RSS: agent ${(agentPeak / MiB).toFixed(0)} MiB, CLI ${(cliPeak / MiB).toFixed(0)} MiB`);
    expect(cliPeak).toBeGreaterThan(0);
    expect(agentPeak).toBeLessThan(PEAK_RSS_LIMIT);
    expect(cliPeak).toBeLessThan(PEAK_RSS_LIMIT);
  }, 300_000);
});
