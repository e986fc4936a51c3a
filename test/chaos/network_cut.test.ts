/**
 * A network cut between an agent and NATS: agent alpha runs in its own network namespace, joined to the host by a veth
 * pair, and its link is taken down while it runs a job. The job's lease expires, beta runs it as attempt 2 and the
 * build succeeds; when the link comes back, alpha finishes its stale attempt and its result is fenced off (the job
 * record keeps beta's attempt). Needs root (ip netns) and iproute2.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NatsServer } from "../../core/src/mod.js";
import { runKiln, tempDir } from "../src/mod.js";
import { agentOf, dumpDaemons, readMarks, startAgent, startCoordinator, waitFor, writeMarkingProject, type KilnDaemon } from "./support.js";

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A network namespace linked to the host by a veth pair on a /30 of its own. */
class NetworkNamespace {
  readonly name: string;
  private readonly hostLink: string;
  readonly hostAddress: string;

  constructor() {
    if (process.getuid?.() !== 0) throw new Error("the network-cut test needs root (it creates a network namespace with `ip netns add`)");
    if (!existsSync("/usr/sbin/ip") && !existsSync("/sbin/ip") && !existsSync("/usr/bin/ip")) {
      throw new Error("`ip` not found: install the Debian package iproute2 (apt-get install iproute2)");
    }
    const id = process.pid % 100_000;
    const net = `10.251.${process.pid % 250}`;
    this.name = `kiln-chaos-${id}`;
    this.hostLink = `kch${id}`;
    const nsLink = `kcn${id}`;
    this.hostAddress = `${net}.1`;
    ip("netns", "add", this.name);
    ip("link", "add", this.hostLink, "type", "veth", "peer", "name", nsLink);
    ip("link", "set", nsLink, "netns", this.name);
    ip("addr", "add", `${net}.1/30`, "dev", this.hostLink);
    ip("link", "set", this.hostLink, "up");
    ip("netns", "exec", this.name, "ip", "addr", "add", `${net}.2/30`, "dev", nsLink);
    ip("netns", "exec", this.name, "ip", "link", "set", nsLink, "up");
    ip("netns", "exec", this.name, "ip", "link", "set", "lo", "up");
  }

  /** The command prefix that runs a program inside the namespace. */
  get prefix(): string[] {
    return ["ip", "netns", "exec", this.name];
  }

  cut(): void {
    ip("link", "set", this.hostLink, "down");
  }

  restore(): void {
    ip("link", "set", this.hostLink, "up");
  }

  /** Removes the namespace, which removes both ends of the veth pair. */
  remove(): void {
    try {
      ip("link", "del", this.hostLink);
    } catch {
      // gone with the namespace already
    }
    try {
      ip("netns", "del", this.name);
    } catch {
      // never created
    }
  }
}

describe("chaos - network cut between an agent and NATS", () => {
  let netns: NetworkNamespace;
  let nats: NatsServer;
  let work: { dir: string; cleanup: () => Promise<void> };
  const daemons: KilnDaemon[] = [];

  beforeEach(async () => {
    netns = new NetworkNamespace();
    nats = await NatsServer.start({ host: netns.hostAddress });
    work = await tempDir("kiln-chaos-netcut-");
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail") console.error(dumpDaemons(daemons));
    netns.restore();
    await Promise.all(daemons.map((d) => d.stop(5_000)));
    daemons.length = 0;
    await nats.stop();
    netns.remove();
    await work.cleanup();
  });

  it("expires the cut-off agent's lease, reruns the job elsewhere, and fences off the returning agent's result", async () => {
    const coordinator = await startCoordinator(nats.url, work.dir);
    daemons.push(coordinator.daemon);
    const alpha = await startAgent(nats.url, "alpha", work.dir, { prefix: netns.prefix });
    daemons.push(alpha);

    const marks = path.join(work.dir, "marks.log");
    const template = await writeMarkingProject(path.join(work.dir, "project"), { builds: ["zombie"], marks, seconds: 0, gate: true });
    const build = runKiln(["build", "-color=false", "--coordinator", coordinator.address, template], { cwd: work.dir, timeoutMs: 120_000 });
    await waitFor("alpha to start the job", async () => (await readMarks(marks)).some((m) => m.kind === "start" && agentOf(m) === "alpha"));
    const beta = await startAgent(nats.url, "beta", work.dir);
    daemons.push(beta);

    netns.cut();
    await waitFor("beta to take the job over", async () => (await readMarks(marks)).some((m) => m.kind === "start" && agentOf(m) === "beta"), 60_000);
    const starts = (await readMarks(marks)).filter((m) => m.kind === "start");
    const workspaceOf = (agent: string): string => starts.find((m) => agentOf(m) === agent)?.workspace ?? "";
    await writeFile(path.join(workspaceOf("beta"), "release"), "");
    const result = await build;
    expect(result.code, result.stdout + result.stderr).toBe(0);

    // The link comes back and alpha's stale attempt runs to its end: its result must not replace beta's.
    netns.restore();
    await writeFile(path.join(workspaceOf("alpha"), "release"), "");
    await waitFor("alpha's stale result to be fenced off", () => /attempt 1 was superseded by attempt 2; dropping its result/.test(alpha.stderr), 90_000);

    const done = (await readMarks(marks)).filter((m) => m.kind === "done").map(agentOf);
    expect(done.sort()).toEqual(["alpha", "beta"]);
    const builds = await runKiln(["builds", "--json", "--coordinator", coordinator.address], { cwd: work.dir });
    const status = JSON.parse(builds.stdout) as { state: string; jobs: { name: string; state: string; agent: string; attempt: number }[] }[];
    expect(status[0]?.state).toBe("succeeded");
    expect(status[0]?.jobs).toMatchObject([{ name: "zombie", state: "succeeded", agent: "beta", attempt: 2 }]);
    const manifest = JSON.parse(await readFile(path.join(work.dir, "manifest.json"), "utf8")) as { builds: { name: string }[] };
    expect(manifest.builds.map((b) => b.name)).toEqual(["zombie"]);
  }, 180_000);
});
