/**
 * The `kiln` command as a user runs it: a subprocess, on the embedded farm or against `kiln dev`, compared with the
 * real `packer` 1.6.6 where Packer can run the same template.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runKiln, runPacker, tempDir } from "../src/mod.js";

const TEMPLATE = {
  variables: { greeting: "hello", who: "{{env `KILN_TEST_WHO`}}" },
  builders: [
    { type: "file", name: "a", target: "out/a.txt", content: "{{user `greeting`}} {{user `who`}} from {{build_name}}/{{build_type}}" },
    { type: "file", name: "b", source: "input.txt", target: "out/b.txt" },
    { type: "null", name: "n", communicator: "none" },
  ],
  provisioners: [{ type: "shell-local", inline: ["echo provisioning $PACKER_BUILD_NAME"], except: ["n"] }],
  "post-processors": [
    [
      { type: "checksum", checksum_types: ["sha256", "md5"], only: ["a", "b"] },
      { type: "manifest", output: "manifest.json", strip_time: true },
    ],
  ],
};

interface ManifestBuild {
  name: string;
  builder_type: string;
  files: { name: string; size: number }[] | null;
  artifact_id: string;
  packer_run_uuid: string;
  custom_data: unknown;
}

async function listTree(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listTree(full, base)));
    else out.push(path.relative(base, full));
  }
  return out.sort();
}

/** Process ids of the descendants of `pid` whose command line contains `pattern`. */
function descendants(pid: number, pattern: string): number[] {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" })
    .split("\n")
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] ?? "" }));
  const found: number[] = [];
  const walk = (parent: number): void => {
    for (const r of rows.filter((x) => x.ppid === parent)) {
      if (r.args.includes(pattern)) found.push(r.pid);
      walk(r.pid);
    }
  };
  walk(pid);
  return found;
}

/** Running (a zombie is dead, only not yet reaped by whichever process inherited it). */
function alive(pid: number): boolean {
  try {
    return !execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).trim().startsWith("Z");
  } catch {
    return false; // ps exits non-zero when there is no such process
  }
}

/** `chatty.json`: one build whose script prints a line every 0.1 s for a minute, then creates `finished.txt`. */
async function writeChattyTemplate(dir: string): Promise<void> {
  await writeFile(
    path.join(dir, "chatty.json"),
    JSON.stringify({
      builders: [{ type: "null", name: "chatty", communicator: "none" }],
      provisioners: [{ type: "shell-local", inline: ["for i in $(seq 1 600); do echo tick $i; sleep 0.1; done; touch finished.txt"] }],
    }),
  );
}

function countProcesses(pattern: string): number {
  const out = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
  return out.split("\n").filter((l) => l.includes(pattern) && !l.includes("ps -eo")).length;
}

describe("cli - kiln build on the embedded farm", () => {
  let kilnDir: { dir: string; cleanup: () => Promise<void> };
  let packerDir: { dir: string; cleanup: () => Promise<void> };

  beforeEach(async () => {
    kilnDir = await tempDir("kiln-cli-");
    packerDir = await tempDir("kiln-packer-");
    for (const d of [kilnDir.dir, packerDir.dir]) {
      await writeFile(path.join(d, "template.json"), JSON.stringify(TEMPLATE, null, 2));
      await writeFile(path.join(d, "input.txt"), "input file\n");
    }
  });
  afterEach(async () => {
    await kilnDir.cleanup();
    await packerDir.cleanup();
  });

  it("produces the same files, checksums and manifest entries as packer build", async () => {
    const env = { KILN_TEST_WHO: "tester" };
    const packer = await runPacker(["build", "-color=false", "template.json"], { cwd: packerDir.dir, env });
    expect(packer.code, packer.stdout + packer.stderr).toBe(0);
    const kiln = await runKiln(["build", "-color=false", "template.json"], { cwd: kilnDir.dir, env });
    expect(kiln.code, kiln.stdout + kiln.stderr).toBe(0);

    expect(await listTree(kilnDir.dir)).toEqual(await listTree(packerDir.dir));
    for (const f of ["out/a.txt", "out/b.txt", "packer_a_file_sha256.checksum", "packer_b_file_md5.checksum"]) {
      expect(await readFile(path.join(kilnDir.dir, f), "utf8"), f).toBe(await readFile(path.join(packerDir.dir, f), "utf8"));
    }
    expect(await readFile(path.join(kilnDir.dir, "out/a.txt"), "utf8")).toBe("hello tester from a/file");

    const load = async (d: string): Promise<ManifestBuild[]> =>
      ((JSON.parse(await readFile(path.join(d, "manifest.json"), "utf8")) as { builds: ManifestBuild[] }).builds)
        .map((b) => ({ ...b, packer_run_uuid: "<uuid>" }))
        .sort((x, y) => x.name.localeCompare(y.name));
    expect(await load(kilnDir.dir)).toEqual(await load(packerDir.dir));

    // Packer's output shape.
    expect(kiln.stdout).toMatch(/^==> a: Running local shell script: /m);
    expect(kiln.stdout).toMatch(/^ {4}a: provisioning a$/m);
    expect(kiln.stdout).toMatch(/^Build 'n' finished after \d+ \w+/m);
    expect(kiln.stdout).toContain("==> Builds finished. The artifacts of successful builds are:");
    expect(kiln.stdout).toMatch(/^--> a: Stored file: out\/a\.txt$/m);
    expect(kiln.stdout).toMatch(/^--> n: Did not export anything\. This is the null builder$/m);
  });

  it("exits 1 and reports a failing build in Packer's words while the others finish", async () => {
    await writeFile(
      path.join(kilnDir.dir, "fail.json"),
      JSON.stringify({
        builders: [
          { type: "file", name: "ok", target: "ok.txt", content: "fine" },
          { type: "null", name: "bad", communicator: "none" },
        ],
        provisioners: [{ type: "shell-local", inline: ["echo to stderr >&2; exit 3"], only: ["bad"] }],
      }),
    );
    const r = await runKiln(["build", "-color=false", "fail.json"], { cwd: kilnDir.dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^==> bad: to stderr$/m);
    expect(r.stdout).toMatch(/^Build 'bad' errored after .+: Script exited with non-zero exit status: 3/m);
    expect(r.stdout).toContain("==> Some builds didn't complete successfully and had errors:");
    expect(r.stdout).toMatch(/^--> ok: Stored file: ok\.txt$/m);
    expect(await readFile(path.join(kilnDir.dir, "ok.txt"), "utf8")).toBe("fine");
  });

  it("prints Packer's machine-readable lines", async () => {
    const r = await runKiln(["build", "-machine-readable", "-only=a", "template.json"], { cwd: kilnDir.dir, env: { KILN_TEST_WHO: "x" } });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    for (const l of lines) expect(l).toMatch(/^\d+,[^,]*,[^,]+/);
    expect(lines).toContainEqual(expect.stringMatching(/^\d+,a,artifact-count,\d+$/));
    expect(lines).toContainEqual(expect.stringMatching(/^\d+,a,artifact,0,builder-id,packer\.file$/));
    expect(lines).toContainEqual(expect.stringMatching(/^\d+,a,artifact,0,file,0,out\/a\.txt$/));
    expect(lines).toContainEqual(expect.stringMatching(/^\d+,,ui,say,==> a: Running local shell script: /));
  });

  it("prints only the final result as JSON with --json", async () => {
    const r = await runKiln(["build", "--json", "-only=a,n", "template.json"], { cwd: kilnDir.dir, env: { KILN_TEST_WHO: "x" } });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { state: string; jobs: { name: string; state: string; artifacts: { builder_id: string; files: { name: string }[] }[] }[] };
    expect(result.state).toBe("succeeded");
    expect(result.jobs.map((j) => [j.name, j.state])).toEqual([
      ["a", "succeeded"],
      ["n", "succeeded"],
    ]);
    expect(result.jobs[0]?.artifacts[0]).toMatchObject({ builder_id: "packer.file", files: [{ name: "out/a.txt" }] });
  });

  it("cancels on Ctrl-C, waits for cleanup, and leaves no process behind", async () => {
    await writeFile(
      path.join(kilnDir.dir, "slow.json"),
      JSON.stringify({
        builders: [{ type: "null", name: "slow", communicator: "none" }],
        provisioners: [{ type: "shell-local", inline: ["sleep 4242"] }],
      }),
    );
    let sent = false;
    // What this kiln started (other tests run their own nats-servers at the same time): checked gone at the end.
    let started: number[] = [];
    const r = await runKiln(["build", "-color=false", "slow.json"], {
      cwd: kilnDir.dir,
      timeoutMs: 40_000,
      onStdout: (out, child) => {
        if (!sent && out.includes("Running local shell script") && child.pid !== undefined) {
          sent = true;
          started = [...descendants(child.pid, "nats-server"), ...descendants(child.pid, "sleep 4242")];
          child.kill("SIGINT");
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/cancel/i);
    expect(started.length).toBeGreaterThanOrEqual(1);
    expect(started.filter(alive)).toEqual([]);
    expect(countProcesses("sleep 4242")).toBe(0);
  });

  it("a reader that goes away (kiln build | head) cancels the build as Ctrl-C does: no stack trace, nothing left behind", async () => {
    await writeChattyTemplate(kilnDir.dir);
    // The embedded farm's temp dirs and the script's file go to a TMPDIR of this test's own, checked empty at the end.
    const tmp = await tempDir("kiln-cli-epipe-");
    try {
      let closed = false;
      let started: number[] = [];
      const r = await runKiln(["build", "-color=false", "chatty.json"], {
        cwd: kilnDir.dir,
        env: { TMPDIR: tmp.dir },
        timeoutMs: 40_000,
        onStdout: (out, child) => {
          if (!closed && out.includes("tick 1") && child.pid !== undefined) {
            closed = true;
            started = descendants(child.pid, "nats-server");
            child.stdout?.destroy();
          }
        },
      });
      expect(closed).toBe(true);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/standard output was closed/);
      expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
      expect(started.length).toBe(1);
      expect(started.filter(alive)).toEqual([]);
      expect(existsSync(path.join(kilnDir.dir, "finished.txt"))).toBe(false);
      // tsx-<uid>: the compile cache of the loader the test runs kiln's sources through, not kiln's.
      expect((await readdir(tmp.dir)).filter((n) => !/^tsx-\d+$/.test(n))).toEqual([]);
    } finally {
      await tmp.cleanup();
    }
  });

  it("a kiln killed outright (SIGKILL) leaves its nats-server running; the next embedded build stops it and removes its directories", async () => {
    await writeChattyTemplate(kilnDir.dir);
    const tmp = await tempDir("kiln-cli-orphan-");
    let orphan: number[] = [];
    try {
      let killed = false;
      const first = await runKiln(["build", "-color=false", "chatty.json"], {
        cwd: kilnDir.dir,
        env: { TMPDIR: tmp.dir },
        timeoutMs: 40_000,
        onStdout: (out, child) => {
          if (!killed && out.includes("tick 1") && child.pid !== undefined) {
            killed = true;
            orphan = descendants(child.pid, "nats-server");
            child.kill("SIGKILL");
          }
        },
      });
      expect(killed).toBe(true);
      expect(first.code).toBeNull();
      expect(orphan).toHaveLength(1);
      expect(orphan.filter(alive)).toHaveLength(1);
      const leftDirs = (await readdir(tmp.dir)).filter((n) => n.startsWith("kiln-embedded-"));
      expect(leftDirs.length).toBeGreaterThanOrEqual(2);

      await writeFile(path.join(kilnDir.dir, "quick.json"), JSON.stringify({ builders: [{ type: "file", name: "q", target: "out/q.txt", content: "q" }] }));
      const next = await runKiln(["build", "-color=false", "quick.json"], { cwd: kilnDir.dir, env: { TMPDIR: tmp.dir }, timeoutMs: 40_000 });
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).toContain(`kiln: killed nats-server ${orphan[0] ?? ""} left behind by kiln process`);
      expect(orphan.filter(alive)).toEqual([]);
      expect((await readdir(tmp.dir)).filter((n) => n.startsWith("kiln-embedded-"))).toEqual([]);
    } finally {
      for (const pid of orphan.filter(alive)) process.kill(pid, "SIGKILL");
      await tmp.cleanup();
    }
  });
});

describe("cli - bad input is one clear line and exit 1", () => {
  let work: { dir: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    work = await tempDir("kiln-cli-bad-");
  });
  afterEach(async () => {
    await work.cleanup();
  });

  it("malformed JSON names the file and the position", async () => {
    await writeFile(path.join(work.dir, "broken.json"), '{\n  "builders": [\n    { "type": "file", }\n  ]\n}\n');
    const r = await runKiln(["build", "broken.json"], { cwd: work.dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken\.json:3:\d+: Error parsing JSON/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("an unknown builder type is named with where it is", async () => {
    await writeFile(path.join(work.dir, "t.json"), JSON.stringify({ builders: [{ type: "flie", target: "x", content: "y" }] }));
    const r = await runKiln(["build", "t.json"], { cwd: work.dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/flie/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a missing -var-file names the file and the fix", async () => {
    await writeFile(path.join(work.dir, "t.json"), JSON.stringify({ builders: [{ type: "null", communicator: "none" }] }));
    const r = await runKiln(["build", "-var-file=nope.json", "t.json"], { cwd: work.dir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/nope\.json: no such file\. Fix the path given to -var-file/);
  });

  it("an unreachable coordinator says where kiln looked and what to do", async () => {
    await writeFile(path.join(work.dir, "t.json"), JSON.stringify({ builders: [{ type: "null", communicator: "none" }] }));
    const r = await runKiln(["build", "--coordinator", "127.0.0.1:9", "t.json"], { cwd: work.dir });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot reach the kiln coordinator at 127\.0\.0\.1:9/);
  });

  it("a missing nats-server names the package to install", async () => {
    await writeFile(path.join(work.dir, "t.json"), JSON.stringify({ builders: [{ type: "null", communicator: "none" }] }));
    const r = await runKiln(["build", "t.json"], { cwd: work.dir, env: { PATH: "/nonexistent" } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/install the Debian\/Ubuntu package nats-server/);
  });
});

describe("cli - a farm in the foreground (kiln dev) and the farm commands", () => {
  it("builds a bundled template remotely, lists builds and agents as JSON, replays logs", async () => {
    const work = await tempDir("kiln-cli-dev-");
    const project = path.join(work.dir, "project");
    await mkdir(project);
    await cp(path.join(import.meta.dirname, "..", "..", "examples", "hello"), project, { recursive: true });
    await writeFile(path.join(project, ".kilnignore"), "out/\n");
    let address = "";
    let dev: import("node:child_process").ChildProcess | undefined;
    const devDone = runKiln(["dev", "--listen", "127.0.0.1:0"], {
      cwd: work.dir,
      timeoutMs: 120_000,
      onSpawn: (c) => (dev = c),
      onStdout: (out) => {
        address = /coordinator: (\S+)/.exec(out)?.[1] ?? address;
      },
    });
    try {
      const deadline = Date.now() + 20_000;
      while (!address && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(address).not.toBe("");
      const env = { KILN_COORDINATOR: address };
      const build = await runKiln(["build", "-color=false", "hello.json"], { cwd: project, env });
      expect(build.code, build.stdout + build.stderr).toBe(0);
      expect(build.stdout).toMatch(/^--> motd: /m);

      const builds = await runKiln(["builds", "--json"], { cwd: work.dir, env });
      expect(builds.code, builds.stderr).toBe(0);
      const parsed = JSON.parse(builds.stdout) as { id: string; state: string; jobs: { name: string; state: string; agent: string; attempt: number }[] }[];
      expect(parsed).toHaveLength(1);
      expect(parsed[0]?.state).toBe("succeeded");
      expect(parsed[0]?.jobs.map((j) => [j.name, j.state, j.agent, j.attempt])).toEqual([
        ["motd", "succeeded", "local", 1],
        ["release", "succeeded", "local", 1],
        ["smoke", "succeeded", "local", 1],
      ]);

      const logs = await runKiln(["logs", "-color=false", parsed[0]?.id ?? ""], { cwd: work.dir, env });
      expect(logs.code, logs.stderr).toBe(0);
      expect(logs.stdout).toMatch(/==> motd: Running local shell script/);

      const agents = await runKiln(["agents", "--json"], { cwd: work.dir, env });
      const agentList = JSON.parse(agents.stdout) as { name: string; builder_types: string[] }[];
      expect(agentList.map((a) => a.name)).toEqual(["local"]);
      expect(agentList[0]?.builder_types).toEqual(expect.arrayContaining(["file", "null"]));
    } finally {
      dev?.kill("SIGTERM");
      await devDone.catch(() => undefined);
      await work.cleanup();
    }
  });
});
