import { access, chmod, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../core/src/mod.js";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, TempDirs } from "./job_harness.js";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

/** A null-builder template running the given provisioners. */
function nullTemplate(provisioners: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { builders: [{ type: "null", name: "n", communicator: "none" }], provisioners, ...extra };
}

/** Processes whose command line contains `token` (Linux /proc; empty elsewhere). */
async function processesWith(token: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.split("\0").includes(token)) found.push(pid);
  }
  return found;
}

function scriptPaths(lines: string[]): string[] {
  return lines.filter((l) => l.startsWith("Running local shell script: ")).map((l) => l.slice("Running local shell script: ".length));
}

describe("shell-local provisioner", () => {
  it("runs inline lines in a temporary /bin/sh -e script, streams output, removes the script", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const job = planTemplateJob(nullTemplate([{ type: "shell-local", inline: ["echo out", "echo err >&2", "pwd", "false", "echo not reached"] }]), "n");
    const outcome = await runJob(job, ctx);
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toBe("Script exited with non-zero exit status: 1.Allowed exit codes are: [0]");
    expect(ctx.logs).toContainEqual({ level: "message", text: "out" });
    expect(ctx.logs).toContainEqual({ level: "error", text: "err" });
    expect(ctx.logs).toContainEqual({ level: "message", text: dir });
    expect(ctx.lines()).not.toContain("not reached");
    const [script] = scriptPaths(ctx.lines());
    expect(script).toMatch(new RegExp(`^${tmpdir()}/packer-shell\\d+$`));
    expect(await exists(script ?? "")).toBe(false);
  });

  it("sets PACKER_BUILD_NAME, PACKER_BUILDER_TYPE and PACKER_RUN_UUID, and environment_vars through {{.Vars}}", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const job = planTemplateJob(
      nullTemplate([
        {
          type: "shell-local",
          inline: [`echo "$PACKER_BUILD_NAME $PACKER_BUILDER_TYPE $PACKER_RUN_UUID [$QUOTED] [$EQ] [$FROM_ENV]"`],
          environment_vars: ["QUOTED=it's", "EQ=a=b"],
          env: { FROM_ENV: "map" },
        },
      ]),
      "n",
      { runUuid: "run-123" },
    );
    expect((await runJob(job, ctx)).state).toBe("succeeded");
    expect(ctx.lines()).toContain("n null run-123 [it's] [a=b] [map]");
  });

  it("renders execute_command with .Vars, .Script and .Command", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const job = planTemplateJob(
      nullTemplate([{ type: "shell-local", inline: ["echo a"], execute_command: ["/bin/sh", "-c", "echo EC {{.Vars}} {{.Command}}"] }]),
      "n",
    );
    expect((await runJob(job, ctx)).state).toBe("succeeded");
    const [script] = scriptPaths(ctx.lines());
    expect(ctx.lines()).toContain(`EC PACKER_BUILDER_TYPE=null PACKER_BUILD_NAME=n ${script ?? ""}`);
  });

  it("runs scripts relative to the working directory and honours valid_exit_codes", async () => {
    const dir = await dirs.make();
    await writeFile(path.join(dir, "s.sh"), "#!/bin/sh\necho script $FOO\nexit 3\n");
    await chmod(path.join(dir, "s.sh"), 0o755);
    const ctx = recordingContext(dir);
    const job = planTemplateJob(
      nullTemplate([
        { type: "shell-local", scripts: ["s.sh"], valid_exit_codes: [0, 3], environment_vars: ["FOO=1"] },
        { type: "shell-local", script: "s.sh", environment_vars: ["FOO=2"] },
      ]),
      "n",
    );
    const outcome = await runJob(job, ctx);
    expect(ctx.lines()).toEqual(
      expect.arrayContaining(["Running local shell script: s.sh", "script 1", "script 2"]),
    );
    expect(outcome.failure?.message).toBe("Script exited with non-zero exit status: 3.Allowed exit codes are: [0]");
  });

  it("reports a missing script before running anything", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const job = planTemplateJob(nullTemplate([{ type: "shell-local", inline: ["echo first"] }, { type: "shell-local", script: "missing.sh" }]), "n");
    const outcome = await runJob(job, ctx);
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.code).toBe(ErrorCode.InvalidTemplate);
    expect(outcome.failure?.message).toBe("provisioner 2 (shell-local): Bad script 'missing.sh': stat missing.sh: no such file or directory");
    expect(ctx.lines()).not.toContain("first");
  });

  it("skips a host not in only_on", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const other = process.platform === "darwin" ? "linux" : "darwin";
    const job = planTemplateJob(nullTemplate([{ type: "shell-local", inline: ["echo ran"], only_on: [other] }]), "n");
    expect((await runJob(job, ctx)).state).toBe("succeeded");
    expect(ctx.lines()).toEqual(["Skipping shell-local due to runtime OS"]);
  });

  it("kills a running command promptly on cancel and removes its temporary script", async () => {
    const dir = await dirs.make();
    const marker = path.join(dir, "after-sleep");
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const ctx = recordingContext(dir, { onLog: (l) => l.text === "sleeping" && started() });
    // A duration no other process uses, to find the sleep in /proc.
    const seconds = `30.${process.pid}`;
    const job = planTemplateJob(nullTemplate([{ type: "shell-local", inline: ["echo sleeping", `sleep ${seconds}`, `touch ${marker}`] }]), "n");
    const outcome = runJob(job, ctx);
    await running;
    await new Promise((r) => setTimeout(r, 100));
    expect(await processesWith(seconds)).toHaveLength(1);
    const t0 = Date.now();
    ctx.cancel();
    const result = await outcome;
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(result.state).toBe("cancelled");
    expect(result.failure?.code).toBe(ErrorCode.Cancelled);
    const [script] = scriptPaths(ctx.lines());
    expect(await exists(script ?? "")).toBe(false);
    expect(await exists(marker)).toBe(false);
    expect(await processesWith(seconds)).toEqual([]);
  });
});

describe("shell-local post-processor", () => {
  it("runs with the build's variables and passes its input through", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const job = planTemplateJob(
      {
        builders: [{ type: "file", name: "f", target: "t.txt", content: "x" }],
        "post-processors": [{ type: "shell-local", inline: ["echo PP $PACKER_BUILD_NAME $PACKER_BUILDER_TYPE", "ls"] }],
      },
      "f",
    );
    const outcome = await runJob(job, ctx);
    expect(outcome.state).toBe("succeeded");
    expect(ctx.lines()).toEqual(expect.arrayContaining(["Running post-processor: shell-local", "PP f file", "t.txt"]));
    expect(outcome.artifacts.map((a) => a.description)).toEqual(["Stored file: t.txt", "Stored file: t.txt"]);
  });
});
