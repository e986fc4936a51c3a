/** Packer's durations and line shapes, and how manifests merge into the user's file across runs. */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PackerUi, formatDuration } from "../src/ui/packer_ui.js";
import { goJsonIndent, writeOutputFiles } from "../src/output_files.js";
import { tempDir } from "../../test/src/mod.js";

describe("ui - Packer's output shapes", () => {
  it.each([
    [0.0339, "33 microseconds"],
    [33.98, "33 milliseconds 980 microseconds"],
    [1000, "1 second"],
    [61_500, "1 minute 1 second"],
    [3_723_000, "1 hour 2 minutes"],
  ])("formats %f ms as '%s' (durafmt, first two units)", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("prints say, message, error and results without colour, and machine-readable lines with escaping", () => {
    const out: string[] = [];
    const ui = new PackerUi({ color: false, machineReadable: false, timestamp: false, write: (t) => out.push(t) });
    ui.start(["a"]);
    ui.say("a", "hello");
    ui.message("a", "detail");
    ui.buildFinished("a", 12, "boom");
    expect(out.join("")).toBe("==> a: hello\n    a: detail\nBuild 'a' errored after 12 milliseconds: boom\n");

    const mr: string[] = [];
    const m = new PackerUi({ color: false, machineReadable: true, timestamp: false, write: (t) => mr.push(t), now: () => new Date(1_000_000) });
    m.say("a", "x, y\nz");
    expect(mr.join("")).toBe("1000,,ui,say,==> a: x%!(PACKER_COMMA) y\\nz\n");
  });
});

describe("outputs - manifest files on the user's side", () => {
  const doc = (names: string[], run: string): Buffer =>
    Buffer.from(JSON.stringify({ builds: names.map((name) => ({ name })), last_run_uuid: run }));

  it("appends across runs, and starts over under -force when the file belongs to another run", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = path.join(dir, "m.json");
      await writeOutputFiles([{ path: "m.json", content: doc(["a"], "r1"), merge_manifest: true }], { cwd: dir, runUuid: "r1", force: false });
      await writeOutputFiles([{ path: "m.json", content: doc(["b"], "r2"), merge_manifest: true }], { cwd: dir, runUuid: "r2", force: false });
      let m = JSON.parse(await readFile(file, "utf8")) as { builds: { name: string }[]; last_run_uuid: string };
      expect(m.builds.map((b) => b.name)).toEqual(["a", "b"]);
      expect(m.last_run_uuid).toBe("r2");
      await writeOutputFiles([{ path: "m.json", content: doc(["c"], "r3"), merge_manifest: true }], { cwd: dir, runUuid: "r3", force: true });
      m = JSON.parse(await readFile(file, "utf8")) as typeof m;
      expect(m.builds.map((b) => b.name)).toEqual(["c"]);
      expect(await readFile(file, "utf8")).not.toMatch(/\n$/);
    } finally {
      await cleanup();
    }
  });

  it("refuses to overwrite a manifest that is not JSON, naming it", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeFile(path.join(dir, "m.json"), "not json");
      await expect(
        writeOutputFiles([{ path: "m.json", content: doc(["a"], "r"), merge_manifest: true }], { cwd: dir, runUuid: "r", force: false }),
      ).rejects.toMatchObject({ code: "ERROR_CODE_INVALID_ARGUMENT" });
    } finally {
      await cleanup();
    }
  });

  it("escapes like Go's json.MarshalIndent", () => {
    expect(goJsonIndent({ a: "<&>" })).toBe('{\n  "a": "\\u003c\\u0026\\u003e"\n}');
  });
});
