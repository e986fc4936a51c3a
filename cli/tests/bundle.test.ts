/** The template's directory as it travels to a remote farm: .kilnignore rules and the packed tarball. */
import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import * as tar from "tar";
import { describe, expect, it } from "vitest";
import { isIgnored, packBundle, parseIgnoreFile } from "../src/bundle.js";
import { tempDir } from "../../test/src/mod.js";

describe("bundle - .kilnignore", () => {
  const rules = parseIgnoreFile("# comment\n\nout/\n*.iso\n/build/cache\nsecrets/**/key?.pem\n");

  it.each([
    ["out", true, true],
    ["out", false, false], // a file named out is not the directory out/
    ["sub/out", true, true],
    ["disk.iso", false, true],
    ["a/b/disk.iso", false, true],
    ["build/cache", true, true],
    ["other/build/cache", true, false], // anchored pattern: only at the root
    ["secrets/x/y/key1.pem", false, true],
    ["secrets/key10.pem", false, false],
    [".git/config", false, true],
    ["scripts/setup.sh", false, false],
  ])("%s (dir: %s) ignored: %s", (p, isDir, ignored) => {
    expect(isIgnored(p, isDir, rules)).toBe(ignored);
  });

  it("packs everything but what is ignored", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await mkdir(path.join(dir, "scripts"));
      await mkdir(path.join(dir, "out"));
      await writeFile(path.join(dir, "template.json"), "{}");
      await writeFile(path.join(dir, "scripts", "a.sh"), "echo");
      await writeFile(path.join(dir, "out", "big.img"), "x");
      await writeFile(path.join(dir, "disk.iso"), "x");
      await writeFile(path.join(dir, ".kilnignore"), "out/\n*.iso\n");
      const bundle = await packBundle(dir);
      const unpacked = path.join(dir, "unpacked");
      await mkdir(unpacked);
      await new Promise<void>((resolve, reject) => {
        const x = tar.x({ cwd: unpacked });
        x.on("finish", resolve).on("error", reject);
        x.end(bundle);
      });
      const found = (await readdir(unpacked, { recursive: true })).map(String).sort();
      expect(found).toEqual([".kilnignore", "scripts", "scripts/a.sh", "template.json"]);
    } finally {
      await cleanup();
    }
  });
});
