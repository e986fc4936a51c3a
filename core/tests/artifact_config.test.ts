/** The artifact store spec (`kiln coordinator --artifact-store`) and the build-cache fingerprint, without a server. */
import { utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorCode, bundleDigests, jobFingerprint, parseStoreSpec } from "../src/mod.js";
import { packBundle } from "../../cli/src/bundle.js";
import { tempDir } from "../../test/src/mod.js";

describe("artifacts - store spec", () => {
  it("parses nats, dir: and s3:// specs", () => {
    expect(parseStoreSpec("nats")).toEqual({ backend: "nats" });
    expect(parseStoreSpec("dir:/srv/kiln")).toEqual({ backend: "dir", path: "/srv/kiln" });
    expect(parseStoreSpec("s3://images/farm1?endpoint=http://minio:9000&part_size_mb=16")).toEqual({
      backend: "s3",
      bucket: "images",
      prefix: "farm1",
      endpoint: "http://minio:9000",
      region: "us-east-1",
      forcePathStyle: true,
      partSizeBytes: 16 * 1024 * 1024,
    });
  });

  it("refuses a bad spec with the field and the fix", () => {
    expect(() => parseStoreSpec("dir:relative")).toThrow(/must be an absolute path; use 'nats', 'dir:\/shared\/path'/);
    expect(() => parseStoreSpec("s3://b?colour=red")).toThrow("--artifact-store: unknown option(s) colour; known: endpoint, region, path_style, part_size_mb");
    expect(() => parseStoreSpec("s3://b?part_size_mb=1")).toThrow(/part_size_mb must be a whole number >= 5/);
    expect(() => parseStoreSpec("ftp://x")).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }) as Error);
  });
});

describe("artifacts - fingerprint", () => {
  it("depends on file contents and variables, not on file times or variable order", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeFile(path.join(dir, "script.sh"), "echo one");
      const files1 = await bundleDigests(await packBundle(dir));
      await utimes(path.join(dir, "script.sh"), new Date(2001, 1, 1), new Date(2001, 1, 1));
      const files2 = await bundleDigests(await packBundle(dir));
      expect(files2).toEqual(files1);
      expect(Object.keys(files1)).toEqual(["script.sh"]);
      const base = { templateJson: "{}", variables: { a: "1", b: "2" }, files: files1 };
      const fp = jobFingerprint(base, "web", "null");
      expect(jobFingerprint({ ...base, variables: { b: "2", a: "1" } }, "web", "null")).toBe(fp);
      expect(jobFingerprint({ ...base, variables: { a: "1", b: "3" } }, "web", "null")).not.toBe(fp);
      expect(jobFingerprint(base, "db", "null")).not.toBe(fp);
      await writeFile(path.join(dir, "script.sh"), "echo two");
      expect(jobFingerprint({ ...base, files: await bundleDigests(await packBundle(dir)) }, "web", "null")).not.toBe(fp);
    } finally {
      await cleanup();
    }
  });
});
