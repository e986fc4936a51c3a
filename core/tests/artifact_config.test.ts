/** The artifact store spec (`kiln coordinator --artifact-store`) and the build-cache fingerprint, without a server. */
import { utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorCode, bundleDigests, jobFingerprint, parseByteSize, parseLargeFileRule, parseStoreSpec } from "../src/mod.js";
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

  it("parses the large-file rule: a store spec and a threshold size (default 64 MiB)", () => {
    expect(parseByteSize("64MiB", "--large-threshold")).toBe(64 * 1024 * 1024);
    expect(parseByteSize("1.5 GiB", "--large-threshold")).toBe(1.5 * 1024 ** 3);
    expect(parseByteSize("500MB", "--large-threshold")).toBe(500_000_000);
    expect(parseByteSize("4096", "--large-threshold")).toBe(4096);
    expect(() => parseByteSize("0", "--large-threshold")).toThrow("--large-threshold '0' is not a size; write it like 64MiB, 1GiB or 500MB");
    expect(() => parseByteSize("10 parsecs", "--large-threshold")).toThrow(/is not a size/);
    expect(parseLargeFileRule("s3://big?endpoint=http://minio:9000", undefined)).toMatchObject({ store: { backend: "s3", bucket: "big" }, thresholdBytes: 64 * 1024 * 1024 });
    expect(parseLargeFileRule("dir:/srv/big", "1GiB")).toEqual({ store: { backend: "dir", path: "/srv/big" }, thresholdBytes: 1024 ** 3 });
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
