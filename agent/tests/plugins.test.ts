import { execFile } from "node:child_process";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { crc32, gunzipSync, inflateRawSync } from "node:zlib";
import * as tar from "tar";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../core/src/mod.js";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, TempDirs } from "./job_harness.js";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

type Json = Record<string, unknown>;

/** Runs build `name` of `template` in `dir`. */
async function build(dir: string, template: Json, name: string) {
  const ctx = recordingContext(dir);
  const outcome = await runJob(planTemplateJob(template, name), ctx);
  return { ctx, outcome };
}

const fileBuild = (extra: Json = {}): Json => ({ type: "file", name: "b", target: "out/b.txt", content: "hello\n", ...extra });

/** Lists a zip's entries by reading its central directory, checking each entry's CRC. */
function readZip(buf: Buffer): { name: string; data: string }[] {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out: { name: string; data: string }[] = [];
  for (let i = 0; i < count; i++) {
    expect(buf.readUInt32LE(p)).toBe(0x02014b50);
    const crc = buf.readUInt32LE(p + 16);
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString("utf8");
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = inflateRawSync(buf.subarray(dataStart, dataStart + csize));
    expect(crc32(data)).toBe(crc);
    out.push({ name, data: data.toString("utf8") });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

async function tarEntries(file: string): Promise<{ path: string; mode: number; data: string }[]> {
  const entries: { path: string; mode: number; data: string }[] = [];
  await tar.t({
    file,
    onReadEntry: (e) => {
      const chunks: Buffer[] = [];
      e.on("data", (c: Buffer) => chunks.push(c));
      e.on("end", () => entries.push({ path: e.path, mode: (e.mode ?? 0) & 0o777, data: Buffer.concat(chunks).toString("utf8") }));
    },
  });
  return entries;
}

describe("file builder", () => {
  it("writes content with mode 0600, creating the directories", async () => {
    const dir = await dirs.make();
    const { outcome, ctx } = await build(dir, { builders: [fileBuild()] }, "b");
    expect(outcome.state).toBe("succeeded");
    expect(await readFile(path.join(dir, "out/b.txt"), "utf8")).toBe("hello\n");
    expect((await stat(path.join(dir, "out/b.txt"))).mode & 0o777).toBe(0o600);
    expect(outcome.artifacts).toEqual([
      {
        builder_id: "packer.file",
        id: "File",
        description: "Stored file: out/b.txt",
        files: [{ name: "out/b.txt", size: 6, sha256: "" }],
        state: {},
        build_name: "b",
        job_id: "j0",
      },
    ]);
    expect(ctx.steps).toEqual(["write-file:start", "write-file:ok", "provision:start", "provision:ok"]);
    expect(ctx.artifacts.map((a) => a.description)).toEqual(["Stored file: out/b.txt"]);
  });

  it("copies source, saying so as Packer does", async () => {
    const dir = await dirs.make();
    await mkdir(path.join(dir, "src"));
    await writeFile(path.join(dir, "src/in.txt"), "source data\n");
    const { outcome, ctx } = await build(dir, { builders: [fileBuild({ content: undefined, source: "src/in.txt", target: "b.txt" })] }, "b");
    expect(outcome.state).toBe("succeeded");
    expect(await readFile(path.join(dir, "b.txt"), "utf8")).toBe("source data\n");
    expect(ctx.lines()).toEqual(["Copying src/in.txt to b.txt", "Copied 12 bytes"]);
  });

  it("fails with Go's error when source is missing", async () => {
    const dir = await dirs.make();
    const { outcome } = await build(dir, { builders: [fileBuild({ content: undefined, source: "nope" })] }, "b");
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toBe("open nope: no such file or directory");
  });

  it("reports every config problem of the job at once", async () => {
    const dir = await dirs.make();
    const template = {
      builders: [{ type: "file", name: "b", x: 1 }],
      provisioners: [{ type: "shell-local" }],
      "post-processors": [{ type: "checksum", checksum_types: ["foo"] }],
    };
    const { outcome } = await build(dir, template, "b");
    expect(outcome.failure?.code).toBe(ErrorCode.InvalidTemplate);
    expect(outcome.failure?.message.split("\n")).toEqual([
      `builder "b" (file): unknown configuration key: '"x"'`,
      `builder "b" (file): target required`,
      "provisioner 1 (shell-local): Command, Inline, Script and Scripts options cannot all be empty.",
      "post-processor 1.1 (checksum): Unrecognized checksum type: foo",
    ]);
  });

  it("interpolates the config with the build's facts before validating", async () => {
    const dir = await dirs.make();
    const template = { builders: [fileBuild({ target: "{{build_name}}-{{build_type}}.txt", content: "{{user `greeting`}}" })] };
    const ctx = recordingContext(dir);
    const outcome = await runJob(planTemplateJob(template, "b", { variables: { greeting: "hi" } }), ctx);
    expect(outcome.state).toBe("succeeded");
    expect(await readFile(path.join(dir, "b-file.txt"), "utf8")).toBe("hi");
  });
});

describe("null builder", () => {
  it("makes the null artifact", async () => {
    const dir = await dirs.make();
    const { outcome } = await build(dir, { builders: [{ type: "null", name: "n", communicator: "none" }] }, "n");
    expect(outcome.artifacts.map((a) => [a.builder_id, a.id, a.description, a.files])).toEqual([
      ["fnoeding.null", "Null", "Did not export anything. This is the null builder", []],
    ]);
  });

  it("checks ssh_private_key_file on the agent, in Packer's words", async () => {
    const dir = await dirs.make();
    const { outcome } = await build(
      dir,
      { builders: [{ type: "null", name: "n", ssh_host: "h", ssh_username: "u", ssh_private_key_file: "missing_key" }] },
      "n",
    );
    expect(outcome.failure?.code).toBe(ErrorCode.InvalidTemplate);
    expect(outcome.failure?.message).toMatch(/ssh_private_key_file is invalid: stat missing_key: no such file or directory/);
  });

  it("reports an unknown builder type as unsupported", async () => {
    const dir = await dirs.make();
    const { outcome } = await build(dir, { builders: [{ type: "parallels-iso", name: "q" }] }, "q");
    expect(outcome.failure?.code).toBe(ErrorCode.Unsupported);
  });
});

describe("checksum post-processor", () => {
  it("appends <hex>\\t<basename> per type and lists new checksum files once", async () => {
    const dir = await dirs.make();
    const template = {
      builders: [fileBuild()],
      "post-processors": [{ type: "checksum", checksum_types: ["md5", "sha256"], output: "sums/{{.BuildName}}.{{.ChecksumType}}" }],
    };
    const { outcome } = await build(dir, template, "b");
    expect(outcome.state).toBe("succeeded");
    expect(await readFile(path.join(dir, "sums/b.md5"), "utf8")).toBe("b1946ac92492d2347c6235b4d2611184\tb.txt\n");
    expect(await readFile(path.join(dir, "sums/b.sha256"), "utf8")).toBe(
      "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\tb.txt\n",
    );
    const [builder, checksum] = outcome.artifacts;
    expect(builder?.description).toBe("Stored file: out/b.txt");
    expect(checksum).toMatchObject({
      builder_id: "packer.post-processor.checksum",
      id: "",
      description: "Created artifact from files: out/b.txt, sums/b.md5, sums/b.sha256",
    });
  });
});

describe("compress post-processor", () => {
  it("writes a tar.gz of base names by default, and destroys the input it does not keep", async () => {
    const dir = await dirs.make();
    const { outcome, ctx } = await build(dir, { builders: [fileBuild()], "post-processors": ["compress"] }, "b");
    expect(outcome.state).toBe("succeeded");
    expect(outcome.artifacts.map((a) => a.description)).toEqual(["compressed artifacts in: packer_b_file"]);
    expect(await stat(path.join(dir, "out/b.txt")).catch(() => undefined)).toBeUndefined();
    expect(ctx.lines()).toEqual(
      expect.arrayContaining([
        "Running post-processor: compress",
        "Tarring packer_b_file with pgzip",
        "Archive packer_b_file completed",
      ]),
    );
    expect(await tarEntries(path.join(dir, "packer_b_file"))).toEqual([{ path: "b.txt", mode: 0o600, data: "hello\n" }]);
  });

  it("writes .tar, .gz and .zip as the output name says", async () => {
    const dir = await dirs.make();
    const template = {
      builders: [fileBuild()],
      "post-processors": [
        { type: "compress", output: "a/{{.BuildName}}.tar", keep_input_artifact: true },
        { type: "compress", output: "a/{{.BuildName}}.gz" },
        { type: "compress", output: "a/{{.BuildName}}.zip" },
      ],
    };
    const { outcome, ctx } = await build(dir, template, "b");
    expect(outcome.state).toBe("succeeded");
    expect(ctx.lines()).toEqual(expect.arrayContaining(["Tarring a/b.tar with no compression", "Archiving out/b.txt with pgzip", "Zipping a/b.zip"]));
    expect(await tarEntries(path.join(dir, "a/b.tar"))).toEqual([{ path: "b.txt", mode: 0o600, data: "hello\n" }]);
    expect(gunzipSync(await readFile(path.join(dir, "a/b.gz"))).toString()).toBe("hello\n");
    expect(readZip(await readFile(path.join(dir, "a/b.zip")))).toEqual([{ name: "out/b.txt", data: "hello\n" }]);
    const unzip = await promisify(execFile)("unzip", ["-t", path.join(dir, "a/b.zip")]).catch(() => undefined);
    if (unzip) expect(unzip.stdout).toMatch(/No errors detected/);
    expect(outcome.artifacts.map((a) => a.description)).toEqual([
      "Stored file: out/b.txt",
      "compressed artifacts in: a/b.tar",
      "compressed artifacts in: a/b.gz",
      "compressed artifacts in: a/b.zip",
    ]);
  });

  it("refuses a single-file format for several files", async () => {
    const dir = await dirs.make();
    const template = {
      builders: [fileBuild()],
      "post-processors": [[{ type: "checksum" }, { type: "compress", output: "x.gz" }]],
    };
    const { outcome } = await build(dir, template, "b");
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toBe(
      "1 error(s) occurred:\n\n* Post-processor failed: Can only have 1 input file when not using tar/zip. Found 2 files: [out/b.txt packer_b_file_md5.checksum]",
    );
  });
});

describe("artifice post-processor", () => {
  it("replaces the file list with the glob matches, sorted, skipping what does not exist", async () => {
    const dir = await dirs.make();
    await mkdir(path.join(dir, "x"));
    await writeFile(path.join(dir, "x/2.bin"), "2");
    await writeFile(path.join(dir, "x/1.bin"), "1");
    const template = { builders: [fileBuild()], "post-processors": [{ type: "artifice", files: ["x/*.bin", "missing.txt", "out/b.txt"] }] };
    const { outcome, ctx } = await build(dir, template, "b");
    expect(outcome.state).toBe("succeeded");
    expect(ctx.lines()).toEqual(
      expect.arrayContaining(["Discarding files from artifact: out/b.txt", "Using these artifact files: x/1.bin, x/2.bin, out/b.txt"]),
    );
    expect(outcome.artifacts[1]).toMatchObject({
      builder_id: "packer.post-processor.artifice",
      description: "Created artifact from files: x/1.bin, x/2.bin, out/b.txt",
    });
  });
});

describe("manifest post-processor", () => {
  it("returns the entry instead of writing the file, and passes its input through", async () => {
    const dir = await dirs.make();
    const template = {
      builders: [fileBuild()],
      "post-processors": [
        { type: "manifest", output: "m/man.json", strip_path: true, strip_time: true, custom_data: { b: "{{build_name}}", a: "1" } },
        [{ type: "checksum" }, { type: "manifest" }],
      ],
    };
    const { outcome } = await build(dir, template, "b");
    expect(outcome.state).toBe("succeeded");
    expect(await stat(path.join(dir, "m")).catch(() => undefined)).toBeUndefined();
    expect(await stat(path.join(dir, "packer-manifest.json")).catch(() => undefined)).toBeUndefined();
    const [first, second] = outcome.manifestEntries;
    expect(first).toEqual({
      output: "m/man.json",
      strip_time: true,
      entry_json: JSON.stringify({
        name: "b",
        builder_type: "file",
        files: [{ name: "b.txt", size: 6 }],
        artifact_id: "File",
        packer_run_uuid: "6d5d3185-0000-4000-8000-000000000001",
        custom_data: { a: "1", b: "b" },
      }),
    });
    const entry = JSON.parse(second?.entry_json ?? "{}") as Json;
    expect(Object.keys(entry)).toEqual(["name", "builder_type", "build_time", "files", "artifact_id", "packer_run_uuid", "custom_data"]);
    expect(entry).toMatchObject({ artifact_id: "", custom_data: null, files: [{ name: "out/b.txt", size: 6 }, { name: "packer_b_file_md5.checksum", size: 39 }] });
    expect(Math.abs((entry.build_time as number) - Date.now() / 1000)).toBeLessThan(60);
    expect(second?.output).toBe("packer-manifest.json");
  });

  it("records files: null for an artifact without files", async () => {
    const dir = await dirs.make();
    const { outcome } = await build(dir, { builders: [{ type: "null", name: "n", communicator: "none" }], "post-processors": ["manifest"] }, "n");
    expect(JSON.parse(outcome.manifestEntries[0]?.entry_json ?? "{}")).toMatchObject({ files: null, artifact_id: "Null" });
  });
});
