/**
 * What the chaos tests share: the farm's real processes (`kiln coordinator`, `kiln agent`) that a test can kill with
 * SIGKILL and start again, a template whose one side effect is countable, and polling helpers.
 */
import type { ChildProcess } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, runKiln, type ProcessResult } from "../src/mod.js";
import { isTransientJetStreamError } from "../../core/src/mod.js";

/** The job lease (ack_wait) the chaos farms run with: short, so a lost agent's job moves on in seconds. */
export const CHAOS_LEASE_MS = 4_000;

/** A `kiln` daemon process. */
export class KilnDaemon {
  private out = "";
  private err = "";
  readonly done: Promise<ProcessResult>;
  readonly child: ChildProcess;

  constructor(
    readonly label: string,
    args: readonly string[],
    cwd: string,
    prefix?: readonly string[],
  ) {
    let child: ChildProcess | undefined;
    this.done = runKiln(args, {
      cwd,
      timeoutMs: 600_000,
      ...(prefix ? { prefix } : {}),
      onSpawn: (c) => {
        child = c;
        c.stderr?.on("data", (chunk: Buffer) => {
          if (this.err.length < 1_000_000) this.err += chunk.toString();
        });
      },
      onStdout: (o) => (this.out = o),
    });
    // A daemon killed on purpose ends with a signal; the test reads `done` only when it wants the result.
    this.done.catch(() => undefined);
    if (!child) throw new Error(`${label} did not spawn`);
    this.child = child;
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * SIGKILL for the process and every process it started (shell-local's scripts run in their own process groups):
   * what a host's death does, and what systemd does to the rest of kiln-agent.service's control group when its main
   * process dies (deploy/systemd, KillMode=control-group).
   */
  async kill9(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined || !this.alive) return;
    const tree = [pid, ...(await descendants(pid))];
    for (const p of tree) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await this.done.catch(() => undefined);
  }

  /** SIGTERM, then SIGKILL of the tree if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => void this.kill9(), graceMs);
    await this.done.catch(() => undefined);
    clearTimeout(timer);
  }
}

/** Every process below `pid`, read from /proc. */
export async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of parents.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * Polls `check` until it holds, failing after `timeoutMs`. A check that fails transiently (a JetStream request timing
 * out, or no leader, while the chaos settles) counts as "not yet"; any other error ends the wait.
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const holds = async (): Promise<boolean> => {
    try {
      return await check();
    } catch (err) {
      if (isTransientJetStreamError(err)) return false;
      throw err;
    }
  };
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export interface CoordinatorProcess {
  daemon: KilnDaemon;
  address: string;
}

/** Starts `kiln coordinator` on `listen` (a free port when unset) and waits until it serves. */
export async function startCoordinator(nats: string, cwd: string, options: { listen?: string; replicas?: number } = {}): Promise<CoordinatorProcess> {
  const listen = options.listen ?? `127.0.0.1:${await freePort()}`;
  const daemon = new KilnDaemon("coordinator", ["coordinator", "--nats", nats, "--listen", listen, "--replicas", String(options.replicas ?? 1)], cwd);
  await waitFor("the coordinator to listen", () => {
    if (!daemon.alive) throw new Error(`kiln coordinator exited: ${daemon.stderr}`);
    return daemon.stdout.includes("listening on");
  });
  return { daemon, address: listen };
}

export interface AgentProcessOptions {
  replicas?: number;
  slots?: number;
  /** @default CHAOS_LEASE_MS */
  leaseMs?: number;
  /** Runs the agent under this command (a network namespace). */
  prefix?: readonly string[];
}

/** Starts `kiln agent NAME` with the chaos lease and waits until it announced itself. */
export async function startAgent(nats: string, name: string, root: string, options: AgentProcessOptions = {}): Promise<KilnDaemon> {
  const workDir = path.join(root, "agents", name);
  await mkdir(workDir, { recursive: true });
  const args = [
    "agent",
    ...["--nats", nats, "--name", name, "--work-dir", workDir],
    ...["--slots", String(options.slots ?? 1), "--job-lease", String(options.leaseMs ?? CHAOS_LEASE_MS), "--replicas", String(options.replicas ?? 1)],
  ];
  const daemon = new KilnDaemon(`agent ${name}`, args, root, options.prefix);
  await waitFor(`agent ${name} to start`, () => {
    if (!daemon.alive) throw new Error(`kiln agent ${name} exited: ${daemon.stderr}`);
    return daemon.stdout.includes(`kiln agent ${name}`);
  });
  return daemon;
}

/**
 * A project whose builds each run one shell-local script with a countable side effect: it appends
 * `start <build name> <workspace>` to the marks file, waits `seconds` (or, with `gate`, until a file named `release`
 * appears in its workspace), then appends `done <build name> <workspace>`. Returns the template's path.
 */
export async function writeMarkingProject(
  dir: string,
  options: { builds: readonly string[]; marks: string; seconds: number; gate?: boolean },
): Promise<string> {
  await mkdir(path.join(dir, "scripts"), { recursive: true });
  const wait = options.gate ? `while [ ! -e release ]; do sleep 0.1; done` : `sleep ${options.seconds}`;
  await writeFile(
    path.join(dir, "scripts", "mark.sh"),
    [
      `#!/bin/sh`,
      `echo "start $PACKER_BUILD_NAME $PWD" >> "$MARKS"`,
      `echo "working on $PACKER_BUILD_NAME"`,
      wait,
      `echo "finished $PACKER_BUILD_NAME"`,
      `echo "done $PACKER_BUILD_NAME $PWD" >> "$MARKS"`,
      ``,
    ].join("\n"),
    { mode: 0o755 },
  );
  const template = path.join(dir, "template.json");
  await writeFile(
    template,
    JSON.stringify({
      builders: options.builds.map((name) => ({ type: "file", name, target: `out/${name}.txt`, content: name })),
      provisioners: [{ type: "shell-local", script: "scripts/mark.sh", environment_vars: [`MARKS=${options.marks}`] }],
      "post-processors": [{ type: "manifest", output: "manifest.json" }],
    }),
  );
  return template;
}

export interface Mark {
  kind: "start" | "done";
  build: string;
  workspace: string;
}

export async function readMarks(file: string): Promise<Mark[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const [kind, build, workspace] = l.split(" ");
      return { kind: kind as Mark["kind"], build: build ?? "", workspace: workspace ?? "" };
    });
}

/** The agent whose workspace a mark was written in (workspaces live in <root>/agents/<agent>/...). */
export function agentOf(mark: Mark): string {
  return /\/agents\/([^/]+)\//.exec(mark.workspace)?.[1] ?? "";
}

/** The daemons' stderr, for a failed test's report. */
export function dumpDaemons(daemons: readonly KilnDaemon[]): string {
  return daemons.map((d) => `--- ${d.label} (${d.alive ? "running" : "exited"})\n${d.stderr.slice(-6_000)}`).join("\n");
}
