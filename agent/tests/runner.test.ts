import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../core/src/mod.js";
import { engineConfigured } from "../src/docker/engine.js";
import { localBuilderTypes, runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, TempDirs, type PlanOptions } from "./job_harness.js";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

type Json = Record<string, unknown>;

async function build(template: Json, name: string, options: PlanOptions = {}) {
  const dir = await dirs.make();
  const ctx = recordingContext(dir);
  const outcome = await runJob(planTemplateJob(template, name, options), ctx);
  return { dir, ctx, outcome, says: ctx.logs.filter((l) => l.level !== "message").map((l) => l.text) };
}

const nullBuilder = { type: "null", name: "n", communicator: "none" };
const FAIL = "Script exited with non-zero exit status: 4.Allowed exit codes are: [0]";

describe("runner - capabilities", () => {
  it("advertises the builders this host can run", () => {
    // docker only where an engine is configured (DOCKER_HOST, or the default socket of a docker.io service); qemu
    // when this host has qemu-system-x86_64 and qemu-img (deploy/install.sh installs them); the vSphere builders
    // always (they need only the network API).
    expect(localBuilderTypes()).toEqual(["file", "null", ...(engineConfigured() ? ["docker"] : []), "qemu", "vsphere-iso", "vsphere-clone"]);
    expect(engineConfigured({ DOCKER_HOST: "tcp://docker.example:2376" })).toBe(true);
  });
});

describe("runner - provisioner wrapping (packer 1.6.6)", () => {
  it("retries max_retries times with Packer's messages and no backoff, then fails with the first error", async () => {
    const { outcome, says, ctx } = await build(
      { builders: [nullBuilder], provisioners: [{ type: "shell-local", inline: ["echo try", "exit 4"], max_retries: "{{user `retries`}}" }] },
      "n",
      { variables: { retries: "2" } },
    );
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toBe(FAIL);
    expect(ctx.lines().filter((l) => l === "try")).toHaveLength(3);
    expect(says.filter((s) => !s.startsWith("Running local shell script"))).toEqual([
      `Provisioner failed with "${FAIL}", retrying with 2 trie(s) left`,
      `Provisioner failed with "${FAIL}", retrying with 1 trie(s) left`,
      "retry limit reached.",
      "Provisioning step had errors: Running the cleanup provisioner, if present...",
    ]);
  });

  it("stops retrying once an attempt succeeds", async () => {
    const { outcome, ctx } = await build(
      {
        builders: [nullBuilder],
        provisioners: [{ type: "shell-local", inline: ["if [ -e done ]; then echo second; exit 0; fi", "touch done", "exit 1"], max_retries: 3 }],
      },
      "n",
    );
    expect(outcome.state).toBe("succeeded");
    expect(ctx.lines()).toContain("second");
    expect(ctx.lines().filter((l) => l.startsWith("Provisioner failed"))).toHaveLength(1);
  });

  it("pauses before every attempt; timeout is ignored when pause_before is set, as in Packer", async () => {
    const t0 = Date.now();
    const { says } = await build(
      { builders: [nullBuilder], provisioners: [{ type: "shell-local", inline: ["exit 4"], pause_before: "150ms", timeout: "5m", max_retries: 1 }] },
      "n",
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(says.filter((s) => s.startsWith("Pausing") || s.startsWith("Setting"))).toEqual([
      "Pausing 150ms before the next provisioner...",
      "Pausing 150ms before the next provisioner...",
    ]);
  });

  it("kills a provisioner that outlives its timeout", async () => {
    const t0 = Date.now();
    const { outcome, says } = await build(
      { builders: [nullBuilder], provisioners: [{ type: "shell-local", inline: ["sleep 20"], timeout: "300ms" }] },
      "n",
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.code).toBe(ErrorCode.Timeout);
    expect(outcome.failure?.message).toMatch(/^Error executing script: .*packer-shell\d+\n\nPlease see output above for more information\.$/);
    expect(says[0]).toBe("Setting a 300ms timeout for the next provisioner...");
    expect(says).toContain("Cancelling provisioner after a timeout...");
  });

  it("reports a max_retries that is not an integer", async () => {
    const { outcome } = await build({ builders: [nullBuilder], provisioners: [{ type: "shell-local", inline: ["true"], max_retries: "x" }] }, "n");
    expect(outcome.failure?.message).toBe('provisioner 1 (shell-local): `max_retries` must be a valid integer: strconv.Atoi: parsing "x": invalid syntax');
  });
});

describe("runner - error-cleanup-provisioner and -on-error", () => {
  const template = {
    builders: [nullBuilder],
    provisioners: [{ type: "shell-local", inline: ["echo one"] }, { type: "shell-local", inline: ["exit 4"] }, { type: "shell-local", inline: ["echo never"] }],
    "error-cleanup-provisioner": { type: "shell-local", inline: ["echo CLEANUP"] },
  };

  it("runs the error-cleanup-provisioner after a provisioning failure (cleanup policy)", async () => {
    const { outcome, ctx } = await build(template, "n");
    expect(outcome.failure?.message).toBe(FAIL);
    const lines = ctx.lines().filter((l) => !l.startsWith("Running local shell script"));
    expect(lines).toEqual(["one", "Provisioning step had errors: Running the cleanup provisioner, if present...", "CLEANUP"]);
    expect(ctx.steps).toEqual(["connect:start", "connect:ok", "provision:start", "provision:halted"]);
  });

  it("does not run it when provisioning succeeds", async () => {
    const { outcome, ctx } = await build({ ...template, provisioners: [{ type: "shell-local", inline: ["echo fine"] }] }, "n");
    expect(outcome.state).toBe("succeeded");
    expect(ctx.lines()).not.toContain("CLEANUP");
  });

  it("-on-error=abort skips it; run-cleanup-provisioner keeps it", async () => {
    // The same messages as packer build -on-error=abort|run-cleanup-provisioner, with kiln's step names.
    const abort = await build(template, "n", { onError: "abort" });
    expect(abort.ctx.lines()).not.toContain("CLEANUP");
    expect(abort.says.filter((s) => !s.startsWith("Running local"))).toEqual([
      FAIL,
      `Step "provision" failed, aborting...`,
      `aborted: skipping cleanup of step "connect"`,
    ]);
    const keep = await build(template, "n", { onError: "run-cleanup-provisioner" });
    expect(keep.says.filter((s) => !s.startsWith("Running local"))).toEqual([
      "Provisioning step had errors: Running the cleanup provisioner, if present...",
      FAIL,
      `Step "connect" failed, aborting...`,
    ]);
    expect(keep.ctx.lines()).toContain("CLEANUP");
  });

  it("the file builder never runs it, as Packer's file builder calls the hook directly", async () => {
    const { outcome, ctx, dir } = await build({ ...template, builders: [{ type: "file", name: "f", target: "t.txt", content: "x" }] }, "f");
    expect(outcome.failure?.message).toBe(FAIL);
    expect(ctx.lines()).not.toContain("CLEANUP");
    expect(await readFile(path.join(dir, "t.txt"), "utf8")).toBe("x"); // left in place
  });
});

describe("runner - post-processor chains (keep/destroy)", () => {
  const file = { type: "file", name: "b", target: "out/b.txt", content: "x" };

  it("lists the builder artifact first when any chain's first post-processor keeps it, then each chain", async () => {
    const { outcome, says } = await build(
      { builders: [file], "post-processors": [[{ type: "checksum" }, { type: "manifest" }], { type: "manifest" }] },
      "b",
    );
    expect(outcome.artifacts.map((a) => a.description)).toEqual([
      "Stored file: out/b.txt",
      "Created artifact from files: out/b.txt, packer_b_file_md5.checksum",
      "Created artifact from files: out/b.txt, packer_b_file_md5.checksum",
      "Stored file: out/b.txt",
    ]);
    expect(says).toEqual(["Running post-processor: checksum", "Running post-processor: manifest", "Running post-processor: manifest"]);
  });

  it("destroys what is not kept, even artifacts already listed, like packer", async () => {
    const { outcome, dir } = await build(
      {
        builders: [file],
        "post-processors": [
          [
            { type: "compress", output: "a.zip" },
            { type: "checksum", checksum_types: ["sha512"], keep_input_artifact: false },
            { type: "manifest", keep_input_artifact: false, strip_path: true },
            { type: "compress", output: "c.tar.gz" },
          ],
        ],
      },
      "b",
    );
    expect(outcome.state).toBe("succeeded");
    expect(outcome.artifacts.map((a) => a.description)).toEqual([
      "compressed artifacts in: a.zip",
      "Created artifact from files: a.zip, packer_b_file_sha512.checksum",
      "compressed artifacts in: c.tar.gz",
    ]);
    const gone = async (p: string): Promise<boolean> => (await stat(path.join(dir, p)).catch(() => undefined)) === undefined;
    expect(await gone("out/b.txt")).toBe(true);
    expect(await gone("a.zip")).toBe(true);
    expect(await gone("packer_b_file_sha512.checksum")).toBe(true);
    expect(await gone("c.tar.gz")).toBe(false);
  });

  it("a failing chain ends only itself; the build fails with Packer's MultiError and lists nothing", async () => {
    const { outcome } = await build(
      {
        builders: [file],
        "post-processors": [
          [{ type: "shell-local", inline: ["exit 2"] }, { type: "manifest", output: "never.json" }],
          { type: "manifest" },
        ],
      },
      "b",
    );
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.code).toBe(ErrorCode.BuildFailed);
    expect(outcome.failure?.message).toBe(
      "1 error(s) occurred:\n\n* Post-processor failed: Script exited with non-zero exit status: 2.Allowed exit codes are: [0]",
    );
    expect(outcome.artifacts).toEqual([]);
    expect(outcome.manifestEntries.map((m) => m.output)).toEqual(["packer-manifest.json"]);
  });

  it("is cancelled between post-processors", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir, { onLog: (l) => l.text === "Running post-processor: checksum" && ctx.cancel() });
    const outcome = await runJob(planTemplateJob({ builders: [file], "post-processors": [["checksum", "manifest"]] }, "b"), ctx);
    expect(outcome.state).toBe("cancelled");
    expect(ctx.lines()).not.toContain("Running post-processor: manifest");
  });
});

describe("runner - cancellation", () => {
  it("does nothing when already cancelled", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    ctx.cancel();
    const outcome = await runJob(planTemplateJob({ builders: [{ type: "file", name: "b", target: "t", content: "x" }] }, "b"), ctx);
    expect(outcome).toMatchObject({ state: "cancelled", artifacts: [], manifestEntries: [] });
    expect(outcome.failure?.code).toBe(ErrorCode.Cancelled);
    expect(await stat(path.join(dir, "t")).catch(() => undefined)).toBeUndefined();
  });

  it("stops retries and pauses when cancelled", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir, { onLog: (l) => l.text.startsWith("Pausing") && ctx.cancel() });
    const t0 = Date.now();
    const outcome = await runJob(
      planTemplateJob({ builders: [nullBuilder], provisioners: [{ type: "shell-local", inline: ["true"], pause_before: "1h" }] }, "n"),
      ctx,
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(outcome.state).toBe("cancelled");
  });
});
