/**
 * Differential test: the same templates through the real `packer build` (1.6.6) and through kiln (core's planner, as
 * the coordinator runs it, then `runJob` per job), in two temporary directories; then compared: artifact lists
 * (`--> name: ...` via -machine-readable), the files left on disk (content, mode; archives by their entries),
 * checksum files, manifest entries (without build_time and the run uuid) and failure messages.
 */
import { execFile } from "node:child_process";
import { access, chmod, lstat, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { gunzipSync, inflateRawSync } from "node:zlib";
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { parseTemplate, planBuild, resolveVariables } from "../../core/src/mod.js";
import { codecs } from "../../proto/src/mod.js";
import { runJob } from "../src/runner.js";
import { recordingContext, TempDirs } from "./job_harness.js";

const PACKER = "/usr/bin/packer";
const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

type Json = Record<string, unknown>;

interface BuildResult {
  artifacts: { builderId: string; id: string; description: string; files: string[] }[];
  error?: string;
}

async function requirePacker(): Promise<void> {
  try {
    await access(PACKER);
  } catch {
    throw new Error(`${PACKER} is missing: install the Debian package packer (version 1.6.6) to run the differential tests`);
  }
  const { stdout } = await promisify(execFile)(PACKER, ["version"], { env: { ...process.env, CHECKPOINT_DISABLE: "1" } });
  expect(stdout.trim()).toBe("Packer v1.6.6");
}

/** Inputs both runs see: files the templates copy and scripts they run. */
async function seed(dir: string): Promise<void> {
  await mkdir(path.join(dir, "src"));
  await writeFile(path.join(dir, "src/in.txt"), "source data\n");
  await mkdir(path.join(dir, "scripts"));
  await writeFile(path.join(dir, "scripts/s.sh"), '#!/bin/sh\necho "script for $PACKER_BUILD_NAME" > "script-$PACKER_BUILD_NAME.txt"\n');
  await chmod(path.join(dir, "scripts/s.sh"), 0o755);
  await mkdir(path.join(dir, "manifests"));
}

function unescapeMachine(s: string): string {
  return s.replaceAll("%!(PACKER_COMMA)", ",").replaceAll("\\n", "\n").replaceAll("\\r", "\r");
}

/** Runs packer build -machine-readable and collects each build's artifacts or error. */
async function runPacker(dir: string, template: Json, variables: Record<string, string>): Promise<Map<string, BuildResult>> {
  await writeFile(path.join(dir, "template.json"), JSON.stringify(template, null, 2));
  const args = ["build", "-machine-readable", "-parallel-builds=1", ...Object.entries(variables).map(([k, v]) => `-var=${k}=${v}`), "template.json"];
  const stdout = await new Promise<string>((resolve) => {
    execFile(PACKER, args, { cwd: dir, env: { ...process.env, CHECKPOINT_DISABLE: "1", PACKER_LOG: "" } }, (_err, out) => resolve(out));
  });
  const builds = new Map<string, BuildResult>();
  const get = (name: string): BuildResult => {
    let b = builds.get(name);
    if (!b) builds.set(name, (b = { artifacts: [] }));
    return b;
  };
  for (const line of stdout.split("\n")) {
    const [, target = "", type = "", ...data] = line.split(",");
    if (target === "") continue;
    if (type === "error") get(target).error = unescapeMachine(data.join(","));
    if (type !== "artifact") continue;
    const [index = "0", key = "", ...rest] = data;
    const artifacts = get(target).artifacts;
    let a = artifacts[Number(index)];
    if (a === undefined) {
      a = { builderId: "", id: "", description: "", files: [] };
      artifacts[Number(index)] = a;
    }
    const value = unescapeMachine(rest.join(","));
    if (key === "builder-id") a.builderId = value;
    else if (key === "id") a.id = value;
    else if (key === "string") a.description = value;
    else if (key === "file") a.files.push(unescapeMachine(rest.slice(1).join(",")));
  }
  return builds;
}

interface KilnRun {
  builds: Map<string, BuildResult>;
  manifests: Map<string, Json[]>;
}

/**
 * Plans the template with kiln's own planner (parse, variables, planBuild), as the coordinator does, then runs every
 * job with runJob, one after the other in one directory (as -parallel-builds=1 runs them in name order).
 */
async function runKiln(dir: string, templateJson: Json, vars: Record<string, string>): Promise<KilnRun> {
  const builds = new Map<string, BuildResult>();
  const manifests = new Map<string, Json[]>();
  const now = Date.now();
  const statics = { initTimeUnix: Math.floor(now / 1000), initTimeMs: now, uuid: randomUUID() };
  const template = parseTemplate(JSON.stringify(templateJson, null, 2), "template.json");
  const variables = resolveVariables({ template, vars, env: {}, templateDir: dir, pwd: dir, statics });
  const jobs = planBuild({
    template,
    variables,
    buildId: randomUUID(),
    statics: {
      run_uuid: randomUUID(),
      init_time_unix: statics.initTimeUnix,
      init_time_nanos: String(BigInt(now) * 1_000_000n),
      template_uuid: statics.uuid,
    },
    options: { on_error: "cleanup" },
    workspace: { local_cwd: dir, local_template_dir: dir },
    datacenter: "",
  })
    .map((job) => codecs.Job.normalize(job))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const job of jobs) {
    const name = job.name;
    const outcome = await runJob(job, recordingContext(dir));
    builds.set(name, {
      artifacts: outcome.artifacts.map((a) => ({
        builderId: a.builder_id ?? "",
        id: a.id ?? "",
        description: a.description ?? "",
        files: (a.files ?? []).map((f) => f.name ?? ""),
      })),
      ...(outcome.state === "failed" ? { error: outcome.failure?.message } : {}),
    });
    for (const m of outcome.manifestEntries) {
      const output = m.output ?? "";
      const list = manifests.get(output) ?? [];
      list.push(JSON.parse(m.entry_json ?? "{}") as Json);
      manifests.set(output, list);
    }
  }
  return { builds, manifests };
}

const isTar = (b: Buffer): boolean => b.length >= 512 && b.subarray(257, 262).toString() === "ustar";
const isGzip = (b: Buffer): boolean => b[0] === 0x1f && b[1] === 0x8b;
const isZip = (b: Buffer): boolean => b.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
const isArchive = (b: Buffer): boolean => isGzip(b) || isZip(b) || isTar(b);

/** Entries of a tar stream: name, mode and content. */
function tarEntries(buf: Buffer): { name: string; mode: number; data: Buffer }[] {
  const out: { name: string; mode: number; data: Buffer }[] = [];
  let p = 0;
  while (p + 512 <= buf.length && buf[p] !== 0) {
    const field = (from: number, len: number): string => buf.subarray(p + from, p + from + len).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(field(124, 12).trim(), 8);
    const type = field(156, 1);
    const entry = { name: field(0, 100), mode: parseInt(field(100, 8).trim(), 8) & 0o777, data: buf.subarray(p + 512, p + 512 + size) };
    p += 512 + Math.ceil(size / 512) * 512;
    if (type !== "x" && type !== "g") out.push(entry); // PAX records are not part of the comparison
  }
  return out;
}

function zipEntries(buf: Buffer): { name: string; data: Buffer }[] {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let p = buf.readUInt32LE(eocd + 16);
  const out: { name: string; data: Buffer }[] = [];
  for (let i = 0; i < buf.readUInt16LE(eocd + 10); i++) {
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const local = buf.readUInt32LE(p + 42);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    out.push({ name: buf.subarray(p + 46, p + 46 + nameLen).toString(), data: inflateRawSync(buf.subarray(start, start + csize)) });
    p += 46 + nameLen + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
  }
  return out;
}

/**
 * What a file holds, comparable across the two runs: archives by their entries, recursively (compressed bytes
 * differ between Go's and Node's compressors), and checksums of archives masked for the same reason.
 */
function describeContent(buf: Buffer, archives: ReadonlySet<string>): string {
  if (isGzip(buf)) return `gzip(${describeContent(gunzipSync(buf), archives)})`;
  if (isZip(buf)) return `zip[${zipEntries(buf).map((e) => `${e.name}: ${describeContent(e.data, archives)}`).join(", ")}]`;
  if (isTar(buf) || (buf.length === 1024 && buf.every((b) => b === 0))) {
    return `tar[${tarEntries(buf).map((e) => `${e.name} ${e.mode.toString(8)}: ${describeContent(e.data, archives)}`).join(", ")}]`;
  }
  const text = buf.toString("utf8").replace(/^[0-9a-f]{32,128}\t(.+)$/gm, (line, name: string) => (archives.has(name) ? `<archive hash>\t${name}` : line));
  return JSON.stringify(text);
}

/** Every file and directory under dir (but the template and the manifests), with mode and content. */
async function readTree(dir: string, skip: ReadonlySet<string>): Promise<{ path: string; mode?: number; data?: Buffer }[]> {
  const out: { path: string; mode?: number; data?: Buffer }[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(dir, rel))).sort()) {
      const p = rel === "" ? name : `${rel}/${name}`;
      if (skip.has(p)) continue;
      const info = await lstat(path.join(dir, p));
      if (info.isDirectory()) {
        out.push({ path: `${p}/` });
        await walk(p);
      } else out.push({ path: p, mode: info.mode & 0o777, data: await readFile(path.join(dir, p)) });
    }
  };
  await walk("");
  return out;
}

/** Base names of archives anywhere in a tree, nested ones included. */
function archiveNames(files: { path: string; data?: Buffer }[]): Set<string> {
  const names = new Set<string>();
  const visit = (name: string, data: Buffer): void => {
    if (!isArchive(data)) return;
    names.add(path.basename(name));
    const inner = isGzip(data) ? gunzipSync(data) : data;
    if (isZip(inner)) for (const e of zipEntries(inner)) visit(e.name, e.data);
    else if (isTar(inner)) for (const e of tarEntries(inner)) visit(e.name, e.data);
  };
  for (const f of files) if (f.data) visit(f.path, f.data);
  return names;
}

function describeTree(files: { path: string; mode?: number; data?: Buffer }[], archives: ReadonlySet<string>): string[] {
  return files.map((f) => (f.data === undefined ? f.path : `${f.path} ${(f.mode ?? 0).toString(8)} ${describeContent(f.data, archives)}`));
}

/** A manifest entry without what differs by nature: the time, the run uuid, and the byte size of archives. */
function comparable(entry: Json, archives: ReadonlySet<string>): Json {
  const { build_time: _t, packer_run_uuid: _u, ...rest } = entry;
  const files = rest.files as { name: string; size: number }[] | null;
  return { ...rest, files: files?.map((f) => (archives.has(path.basename(f.name)) ? { ...f, size: "<archive>" } : f)) ?? null };
}

async function compare(template: Json, variables: Record<string, string> = {}): Promise<{ packer: Map<string, BuildResult>; kiln: KilnRun }> {
  await requirePacker();
  const packerDir = await dirs.make("kiln-diff-packer-");
  const kilnDir = await dirs.make("kiln-diff-kiln-");
  await seed(packerDir);
  await seed(kilnDir);
  const packer = await runPacker(packerDir, template, variables);
  const kiln = await runKiln(kilnDir, template, variables);

  expect(kiln.builds).toEqual(packer);

  const skip = new Set(["template.json", ...kiln.manifests.keys()]);
  const kilnTree = await readTree(kilnDir, skip);
  const packerTree = await readTree(packerDir, skip);
  const archives = new Set([...archiveNames(kilnTree), ...archiveNames(packerTree)]);
  expect(describeTree(kilnTree, archives)).toEqual(describeTree(packerTree, archives));

  // Compressed bytes differ between Go's and Node's compressors: archive sizes are masked, their entries were compared.
  for (const [output, entries] of kiln.manifests) {
    const written = JSON.parse(await readFile(path.join(packerDir, output), "utf8")) as { builds: Json[] };
    expect(entries.map((e) => comparable(e, archives))).toEqual(written.builds.map((e) => comparable(e, archives)));
    // build_time is there exactly when packer wrote it
    expect(entries.map((e) => "build_time" in e)).toEqual(written.builds.map((e) => "build_time" in e));
  }
  return { packer, kiln };
}

describe("packer differential (packer build 1.6.6 vs runJob)", () => {
  it("file builder: content and source targets, shell-local provisioners, checksum and manifest chains", async () => {
    const { packer } = await compare(
      {
        variables: { greeting: "hello" },
        builders: [
          { type: "file", name: "content", target: "out/{{build_name}}.txt", content: "{{user `greeting`}} from {{build_name}}\n" },
          { type: "file", name: "copy", source: "src/in.txt", target: "copied/{{build_type}}/in.txt" },
        ],
        provisioners: [
          {
            type: "shell-local",
            inline: ['echo "$PACKER_BUILD_NAME $PACKER_BUILDER_TYPE $GREETING" > "prov-$PACKER_BUILD_NAME.txt"'],
            environment_vars: ["GREETING={{user `greeting`}}"],
          },
          { type: "shell-local", script: "scripts/s.sh", only: ["copy"] },
        ],
        "post-processors": [
          [{ type: "checksum", checksum_types: ["md5", "sha256"] }, { type: "manifest" }],
          { type: "manifest", output: "manifests/all.json", strip_path: true, strip_time: true, custom_data: { who: "{{build_name}}", n: "1" } },
          { type: "checksum", checksum_types: ["sha1"], output: "sums/{{.BuildName}}_{{.ChecksumType}}.txt", keep_input_artifact: true },
        ],
      },
      { greeting: "hello" },
    );
    expect(packer.get("content")?.artifacts).toHaveLength(5);
  });

  it("compress, artifice and the null builder; the builder artifact kept by a later chain", async () => {
    await compare({
      builders: [
        { type: "file", name: "b", target: "b.txt", content: "bbb\n" },
        { type: "null", name: "n", communicator: "none" },
      ],
      provisioners: [{ type: "shell-local", inline: ["echo made by $PACKER_BUILD_NAME > extra-$PACKER_BUILD_NAME.txt"] }],
      "post-processors": [
        [{ type: "compress", output: "arch/{{.BuildName}}.tar.gz" }, { type: "manifest", output: "m2.json" }],
        [
          { type: "artifice", files: ["extra-*.txt"] },
          { type: "compress", output: "arch/{{.BuildName}}-extra.zip", keep_input_artifact: true },
          { type: "checksum" },
        ],
        { type: "compress", output: "single-{{.BuildName}}.gz", only: ["b"] },
      ],
    });
  });

  it("keep/destroy: artifacts not kept are removed, listed ones included", async () => {
    await compare({
      builders: [{ type: "file", name: "d", target: "gone/d.txt", content: "d" }],
      "post-processors": [
        [
          { type: "compress", output: "d.zip" },
          { type: "checksum", checksum_types: ["sha512"], keep_input_artifact: false },
          { type: "manifest", keep_input_artifact: false, strip_path: true },
          { type: "compress", output: "c.tar.gz" },
        ],
        [{ type: "compress" }],
      ],
    });
  });

  it("generated data: {{build}} and dot data in provisioners and post-processors, two rendering passes", async () => {
    await compare({
      builders: [
        { type: "file", name: "f", target: "f.txt", content: "{{isotime `2006`}}" },
        { type: "null", name: "n", communicator: "none" },
      ],
      provisioners: [
        {
          type: "shell-local",
          inline: ["echo '[{{build `ID`}}] [{{build `PackerHTTPAddr`}}] [{{.ID}}] [{{.Vars}}]' > gen-$PACKER_BUILD_NAME.txt", 'echo "$X $EC" >> gen-$PACKER_BUILD_NAME.txt'],
          environment_vars: ["X={{build `ID`}}"],
          execute_command: ["/bin/sh", "-c", "EC='{{.ID}}' {{.Vars}} {{.Script}}"],
        },
      ],
      "post-processors": [
        { type: "shell-local", inline: ["echo '[{{.ID}}] [{{build `ID`}}]' > pp-$PACKER_BUILD_NAME.txt"] },
        { type: "manifest", output: "manifests/gen.json", strip_time: true, custom_data: { id: "{{build `ID`}}" } },
      ],
    });
  });

  it("failures: a failing provisioner and a failing post-processor chain", async () => {
    const { kiln } = await compare({
      builders: [
        { type: "file", name: "f", target: "f.txt", content: "f" },
        { type: "file", name: "p", target: "p.txt", content: "p" },
      ],
      provisioners: [{ type: "shell-local", inline: ["echo before", "exit 3"], only: ["f"] }],
      "post-processors": [
        [{ type: "shell-local", inline: ["exit 5"] }, { type: "manifest", output: "never.json" }],
        { type: "manifest", output: "manifests/failed.json" },
      ],
    });
    expect(kiln.builds.get("f")?.error).toBe("Script exited with non-zero exit status: 3.Allowed exit codes are: [0]");
  });
});
