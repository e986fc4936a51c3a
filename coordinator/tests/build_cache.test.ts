/**
 * The build cache's fingerprint of submitted jobs: a source image's checksum is part of a job's identity (a changed
 * `iso_checksum`, or a changed checksum file in the template's directory, makes a different job; identical inputs the
 * same job), and a job whose source image is not pinned gets no fingerprint, so it is never reused.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Job, SubmitBuildRequest__Output } from "../../proto/src/mod.js";
import { packBundle } from "../../cli/src/bundle.js";
import { externalFileDigests, referencedPaths } from "../../cli/src/external_files.js";
import { fingerprintJobs, sourcePinned } from "../src/build_cache.js";
import { tempDir } from "../../test/src/mod.js";

function qemu(checksum: string): { template: string; job: Job } {
  const builder = { type: "qemu", name: "base", iso_url: "http://mirror/debian.iso", iso_checksum: checksum };
  return { template: JSON.stringify({ variables: { sum: "" }, builders: [builder] }), job: { job_id: "j0", name: "base", builder_type: "qemu", builder_config_json: JSON.stringify(builder) } };
}

async function fingerprint(dir: string, checksum: string, variables: Record<string, string> = {}): Promise<string> {
  const { template, job } = qemu(checksum);
  const req = { template_json: template, variables, bundle: Buffer.from(await packBundle(dir)) } as unknown as SubmitBuildRequest__Output;
  const [fingerprinted] = await fingerprintJobs(req, [job]);
  return fingerprinted?.fingerprint ?? "";
}

describe("build cache - source image checksums", () => {
  it("a changed iso_checksum or checksum file rebuilds, identical inputs reuse, an unpinned source is never cached", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeFile(path.join(dir, "SHA256SUMS"), `${"a".repeat(64)}  debian.iso\n`);
      const first = await fingerprint(dir, "sha256:" + "a".repeat(64));
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      expect(await fingerprint(dir, "sha256:" + "a".repeat(64))).toBe(first);
      expect(await fingerprint(dir, "sha256:" + "b".repeat(64))).not.toBe(first);

      // A checksum file in the template's directory is bundled: its content is the source image's identity.
      const viaFile = await fingerprint(dir, "file:SHA256SUMS");
      expect(viaFile).toMatch(/^[0-9a-f]{64}$/);
      expect(await fingerprint(dir, "file:SHA256SUMS")).toBe(viaFile);
      await writeFile(path.join(dir, "SHA256SUMS"), `${"c".repeat(64)}  debian.iso\n`);
      expect(await fingerprint(dir, "file:SHA256SUMS")).not.toBe(viaFile);

      // Nothing pins these sources: the same inputs may build from a different image.
      expect(await fingerprint(dir, "none")).toBe("");
      expect(await fingerprint(dir, "file:https://mirror/SHA256SUMS")).toBe("");
      // An outside checksum file the CLI did not hash (or could not read) pins nothing.
      expect(await fingerprint(dir, "file:/srv/isos/SHA256SUMS")).toBe("");
      expect(await fingerprint(dir, "file:../SHA256SUMS")).toBe("");
      expect(await fingerprint(dir, "{{user `sum`}}", { sum: "none" })).toBe("");
      expect(await fingerprint(dir, "{{user `sum`}}", { sum: "md5:" + "d".repeat(32) })).toMatch(/^[0-9a-f]{64}$/);
      expect(sourcePinned(JSON.stringify({ type: "docker", image: "debian" }))).toBe(true);
    } finally {
      await cleanup();
    }
  });

  it("a checksum file outside the template's directory is hashed by the CLI: its content pins the source image", async () => {
    const outside = await tempDir();
    const { dir, cleanup } = await tempDir();
    try {
      const sums = path.join(outside.dir, "SHA256SUMS");
      await writeFile(sums, `${"a".repeat(64)}  debian.iso\n`);
      const fp = async (checksum: string, variables: Record<string, string> = {}): Promise<string> => {
        const { template, job } = qemu(checksum);
        const req = {
          template_json: template,
          variables,
          bundle: Buffer.from(await packBundle(dir)),
          external_files: await externalFileDigests(template, dir, variables),
        } as unknown as SubmitBuildRequest__Output;
        return (await fingerprintJobs(req, [job]))[0]?.fingerprint ?? "";
      };
      const { template } = qemu(`file:${sums}`);
      expect(referencedPaths(template, {})).toEqual([sums]);
      expect(referencedPaths(qemu("file:https://mirror/SHA256SUMS").template, {})).toEqual([]);

      const first = await fp(`file:${sums}`);
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      expect(await fp(`file:${sums}`)).toBe(first);
      // The same file through a variable and as a file:// URL: pinned the same way.
      expect(await fp("{{user `sum`}}", { sum: `file:${sums}` })).toMatch(/^[0-9a-f]{64}$/);
      expect(await fp(`file:file://${sums}`)).toMatch(/^[0-9a-f]{64}$/);
      // A relative path leaving the template's directory is outside the bundle too.
      const relative = path.relative(dir, sums);
      expect(relative.startsWith("..")).toBe(true);
      const viaRelative = await fp(`file:${relative}`);
      expect(viaRelative).toMatch(/^[0-9a-f]{64}$/);

      await writeFile(sums, `${"b".repeat(64)}  debian.iso\n`);
      expect(await fp(`file:${sums}`)).not.toBe(first);
      expect(await fp(`file:${relative}`)).not.toBe(viaRelative);
      await rm(sums);
      expect(await fp(`file:${sums}`)).toBe("");
    } finally {
      await cleanup();
      await outside.cleanup();
    }
  });

  it("files the template names outside its directory (absolute paths) are hashed by the CLI: a changed one rebuilds, an unreadable one is never cached", async () => {
    const outside = await tempDir();
    const { dir, cleanup } = await tempDir();
    try {
      const setup = path.join(outside.dir, "setup.sh");
      const files = path.join(outside.dir, "floppy");
      await writeFile(setup, "echo one\n");
      await mkdir(files);
      await writeFile(path.join(files, "preseed.cfg"), "d-i one\n");
      await writeFile(path.join(dir, "inside.sh"), "echo inside\n");
      const builder = { type: "qemu", name: "base", iso_url: "/srv/isos/debian.iso", iso_checksum: "sha256:" + "a".repeat(64), floppy_dirs: [files] };
      const template = JSON.stringify({
        variables: { setup: "" },
        builders: [builder],
        provisioners: [
          { type: "shell", scripts: ["{{user `setup`}}", "inside.sh"] },
          { type: "file", direction: "download", source: "/etc/guest-only.conf", destination: "out/" },
        ],
      });
      const variables = { setup };
      // The guest path of a download and the source image (pinned by its checksum) are not local inputs.
      expect(referencedPaths(template, variables)).toEqual([files, "inside.sh", setup].sort());
      const job: Job = { job_id: "j0", name: "base", builder_type: "qemu", builder_config_json: JSON.stringify(builder) };
      const fp = async (): Promise<string> => {
        const external = await externalFileDigests(template, dir, variables);
        const req = { template_json: template, variables, bundle: Buffer.from(await packBundle(dir)), external_files: external } as unknown as SubmitBuildRequest__Output;
        return (await fingerprintJobs(req, [job]))[0]?.fingerprint ?? "";
      };
      // inside.sh is in the bundle; only the two outside paths are sent.
      expect(Object.keys(await externalFileDigests(template, dir, variables)).sort()).toEqual([files, setup].sort());
      // The job carries the digests the fingerprint covers, for the agent to check where it reads the files.
      const external = await externalFileDigests(template, dir, variables);
      const req = { template_json: template, variables, bundle: Buffer.from(await packBundle(dir)), external_files: external } as unknown as SubmitBuildRequest__Output;
      expect((await fingerprintJobs(req, [job]))[0]?.external_files).toEqual(external);
      const first = await fp();
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      expect(await fp()).toBe(first);
      await writeFile(setup, "echo two\n");
      const changedScript = await fp();
      expect(changedScript).not.toBe(first);
      await writeFile(path.join(files, "preseed.cfg"), "d-i two\n");
      expect(await fp()).not.toBe(changedScript);
      await rm(setup);
      expect(await fp()).toBe("");
    } finally {
      await cleanup();
      await outside.cleanup();
    }
  });
});
