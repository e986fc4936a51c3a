/**
 * The build cache's fingerprint of submitted jobs: a source image's checksum is part of a job's identity (a changed
 * `iso_checksum`, or a changed checksum file in the template's directory, makes a different job; identical inputs the
 * same job), and a job whose source image is not pinned gets no fingerprint, so it is never reused.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Job, SubmitBuildRequest__Output } from "../../proto/src/mod.js";
import { packBundle } from "../../cli/src/bundle.js";
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
      expect(await fingerprint(dir, "file:/srv/isos/SHA256SUMS")).toBe("");
      expect(await fingerprint(dir, "{{user `sum`}}", { sum: "none" })).toBe("");
      expect(await fingerprint(dir, "{{user `sum`}}", { sum: "md5:" + "d".repeat(32) })).toMatch(/^[0-9a-f]{64}$/);
      expect(sourcePinned(JSON.stringify({ type: "docker", image: "debian" }))).toBe(true);
    } finally {
      await cleanup();
    }
  });
});
