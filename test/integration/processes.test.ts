/**
 * A farm of separate processes, as deployed: nats-server, `kiln coordinator` and two `kiln agent`s, driven by
 * `kiln build --coordinator` from another directory (the template's directory travels as a bundle).
 */
import type { ChildProcess } from "node:child_process";
import { readFile, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NatsServer } from "../../core/src/mod.js";
import { freePort, runKiln, tempDir, type ProcessResult } from "../src/mod.js";

interface Daemon {
  child: ChildProcess;
  done: Promise<ProcessResult>;
  stdout: () => string;
}

function startDaemon(args: string[], cwd: string): Daemon {
  let out = "";
  let child: ChildProcess | undefined;
  const done = runKiln(args, { cwd, timeoutMs: 120_000, onSpawn: (c) => (child = c), onStdout: (o) => (out = o) });
  if (!child) throw new Error("daemon did not spawn");
  return { child, done, stdout: () => out };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("farm - separate processes", () => {
  let nats: NatsServer;
  let work: { dir: string; cleanup: () => Promise<void> };
  const daemons: Daemon[] = [];

  beforeEach(async () => {
    nats = await NatsServer.start();
    work = await tempDir("kiln-procs-");
  });
  afterEach(async () => {
    for (const d of daemons) d.child.kill("SIGTERM");
    await Promise.all(daemons.map((d) => d.done.catch(() => undefined)));
    daemons.length = 0;
    await nats.stop();
    await work.cleanup();
  });

  it("runs a build submitted to a coordinator on agents in their own processes, and they stop cleanly on SIGTERM", async () => {
    const coordinator = startDaemon(["coordinator", "--nats", nats.url, "--listen", "127.0.0.1:0"], work.dir);
    daemons.push(coordinator);
    await waitFor("the coordinator", () => /listening on (\S+)/.test(coordinator.stdout()));
    const address = /listening on (\S+)/.exec(coordinator.stdout())?.[1] ?? "";
    for (const name of ["alpha", "beta"]) {
      const agent = startDaemon(["agent", "--nats", nats.url, "--name", name, "--slots", "2", "--work-dir", path.join(work.dir, name)], work.dir);
      daemons.push(agent);
      await waitFor(`agent ${name}`, () => agent.stdout().includes(`kiln agent ${name}`));
    }

    const project = path.join(work.dir, "project");
    await mkdir(path.join(project, "scripts"), { recursive: true });
    // Executable, as Packer's shell-local needs; the bundle must keep the mode.
    await writeFile(path.join(project, "scripts", "hello.sh"), "echo from-script $PACKER_BUILD_NAME\n", { mode: 0o755 });
    await writeFile(
      path.join(project, "template.json"),
      JSON.stringify({
        builders: [1, 2, 3, 4].map((i) => ({ type: "file", name: `f${i}`, target: `out/f${i}.txt`, content: "{{template_dir}}" })),
        provisioners: [{ type: "shell-local", script: "scripts/hello.sh" }],
        "post-processors": [{ type: "manifest", output: "manifest.json" }],
      }),
    );
    const user = path.join(work.dir, "user");
    await mkdir(user);
    const build = await runKiln(["build", "-color=false", "--coordinator", address, path.join(project, "template.json")], { cwd: user });
    expect(build.code, build.stdout + build.stderr).toBe(0);
    expect(build.stdout).toMatch(/^ {4}f1: from-script f1$/m);

    // The manifest lands on the user's side; each agent ran some jobs in its own workspace.
    const manifest = JSON.parse(await readFile(path.join(user, "manifest.json"), "utf8")) as { builds: { name: string }[] };
    expect(manifest.builds.map((b) => b.name).sort()).toEqual(["f1", "f2", "f3", "f4"]);
    const agents = await runKiln(["agents", "--json", "--coordinator", address], { cwd: user });
    expect((JSON.parse(agents.stdout) as { name: string }[]).map((a) => a.name)).toEqual(["alpha", "beta"]);
    const builds = JSON.parse((await runKiln(["builds", "--json", "--coordinator", address], { cwd: user })).stdout) as {
      jobs: { agent: string }[];
    }[];
    const used = new Set(builds[0]?.jobs.map((j) => j.agent));
    for (const agent of used) expect(["alpha", "beta"]).toContain(agent);

    for (const d of daemons) d.child.kill("SIGTERM");
    const results = await Promise.all(daemons.map((d) => d.done));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
    daemons.length = 0;
  });

  it("keeps kiln build following its build through a coordinator killed and restarted: every line once, right exit code", async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const startCoordinator = async (): Promise<Daemon> => {
      const c = startDaemon(["coordinator", "--nats", nats.url, "--listen", address], work.dir);
      daemons.push(c);
      await waitFor("the coordinator", () => c.stdout().includes("listening on"));
      return c;
    };
    const first = await startCoordinator();
    const agent = startDaemon(["agent", "--nats", nats.url, "--name", "solo", "--work-dir", path.join(work.dir, "solo")], work.dir);
    daemons.push(agent);
    await waitFor("the agent", () => agent.stdout().includes("kiln agent solo"));
    await writeFile(
      path.join(work.dir, "ticks.json"),
      JSON.stringify({
        builders: [{ type: "null", name: "ticker", communicator: "none" }],
        provisioners: [{ type: "shell-local", inline: ["for i in 1 2 3 4 5 6 7 8; do echo tick-$i; sleep 0.4; done"] }],
      }),
    );
    let output = "";
    const build = runKiln(["build", "-color=false", "--coordinator", address, "ticks.json"], { cwd: work.dir, onStdout: (o) => (output = o) });
    await waitFor("the second tick", () => output.includes("tick-2"));
    first.child.kill("SIGKILL");
    await first.done.catch(() => undefined);
    daemons.splice(daemons.indexOf(first), 1);
    await new Promise((r) => setTimeout(r, 1_000));
    await startCoordinator();

    const result = await build;
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const ticks = result.stdout.split("\n").filter((l) => /ticker: tick-\d$/.test(l)).map((l) => l.trim());
    expect(ticks).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => `ticker: tick-${i}`));
    expect(result.stderr).toMatch(/reconnected after/);
    expect(result.stdout).toMatch(/Builds finished. The artifacts of successful builds are:/);
  });
});

