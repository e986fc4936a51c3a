/**
 * The `file` provisioner (Packer 1.6.6's provisioner/file): uploads `sources` (files or directories, with rsync's
 * trailing-slash rule) or `content` to `destination` on the machine, or downloads files from it. A destination
 * ending in `/` is a directory the files keep their base names in. A download source ending in `/` is a directory.
 */
import { mkdir, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { BuildFailedError, fileProvisionerSchema, type FileProvisionerConfig } from "../../../core/src/mod.js";
import type { Communicator } from "../communicators/communicator.js";
import type { TreeEntry } from "../communicators/ssh.js";
import { prepareWithSchema, type PluginContext, type PrepareContext, type ProvisionerDefinition } from "../plugin_api.js";
import { goPathError } from "../util/go_text.js";

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

async function readTree(dir: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const l = path.join(dir, entry.name);
    const st = await stat(l);
    if (st.isDirectory()) out.push({ kind: "dir", name: entry.name, mode: st.mode & 0o777, entries: await readTree(l) });
    else if (st.isFile()) out.push({ kind: "file", name: entry.name, mode: st.mode & 0o777, local: l, size: st.size });
  }
  return out;
}

/**
 * Packer's directory upload (rsync's trailing-slash rule): `dir/` copies the directory's contents into
 * `destination`, `dir` copies the directory itself (so `destination/dir/...`). `destination` is created first.
 */
async function uploadDir(comm: Communicator, ctx: PluginContext, src: string, local: string, destination: string): Promise<void> {
  ctx.log("say", `Uploading ${src} => ${destination}`);
  const code = await comm.start(`mkdir -p ${shellQuote(destination)}`, { signal: ctx.signal, onStderr: (l) => ctx.log("error", l) });
  if (code !== 0) throw new BuildFailedError(`Error creating ${destination} on the remote machine: exit status ${code}`);
  const st = await stat(local);
  const tree = await readTree(local);
  const entries: TreeEntry[] = src.endsWith("/") ? tree : [{ kind: "dir", name: path.basename(local), mode: st.mode & 0o777, entries: tree }];
  await comm.uploadTree(destination, entries, ctx.signal);
}

function targetFor(destination: string, source: string, isDir: boolean): string {
  return isDir ? `${destination}${path.posix.basename(source)}` : destination;
}

/**
 * Packer's ProvisionDownload: a source ending in `/` is a directory, downloaded recursively into `destination` (the
 * directory itself lands there, as scp -r does); a file goes to `destination`, or into it when it ends in `/` (or is
 * an existing directory).
 */
async function downloadOne(comm: Communicator, ctx: PluginContext, src: string, destination: string): Promise<void> {
  ctx.log("say", `Downloading ${src} => ${destination}`);
  let local = path.resolve(ctx.workDir, destination);
  if (src.endsWith("/")) {
    if (comm.downloadDir === undefined) throw new BuildFailedError(`this communicator cannot download directories (source '${src}')`);
    await comm.downloadDir(src, local, ctx.signal);
    return;
  }
  const isDir = destination.endsWith("/") || (await stat(local).then((s) => s.isDirectory(), () => false));
  if (isDir) {
    await mkdir(local, { recursive: true });
    local = path.join(local, path.posix.basename(src));
  } else {
    await mkdir(path.dirname(local), { recursive: true });
  }
  await comm.download(src, local, ctx.signal).catch((err: unknown) => {
    const e = err as Error;
    if (/not a regular file/i.test(e.message)) {
      throw new BuildFailedError(`${e.message}: to download a directory, end the source with a slash ('${src}/')`, { cause: err });
    }
    throw err;
  });
}

export async function runFile(config: FileProvisionerConfig, ctx: PluginContext): Promise<void> {
  const comm = ctx.communicator;
  if (comm === undefined) {
    throw new BuildFailedError(`the file provisioner needs a communicator; the builder has "communicator": "none"`);
  }
  const destination = config.destination ?? "";
  const sources = config.sources ?? [];
  if (config.direction === "download") {
    for (const src of sources) await downloadOne(comm, ctx, src, destination);
    return;
  }
  if (sources.length === 0) {
    ctx.log("say", `Uploading content => ${destination}`);
    await comm.upload(Buffer.from(config.content ?? ""), destination, ctx.signal);
    return;
  }
  for (const src of sources) {
    const local = path.resolve(ctx.workDir, src);
    const info = await stat(local).catch((err: unknown) => {
      throw new BuildFailedError(`Bad source '${src}': ${goPathError("stat", src, err)}`, { cause: err });
    });
    if (info.isDirectory()) {
      await uploadDir(comm, ctx, src, local, destination);
      continue;
    }
    const multiple = sources.length > 1;
    const target = targetFor(destination, src, destination.endsWith("/") || multiple);
    ctx.log("say", `Uploading ${src} => ${target}`);
    await comm.upload(local, target, ctx.signal, info.mode & 0o777);
  }
}

async function checkSources(config: FileProvisionerConfig, ctx: PrepareContext): Promise<string[]> {
  if (config.direction !== "upload" || (config.generated ?? false)) return [];
  const problems: string[] = [];
  for (const src of config.sources ?? []) {
    try {
      await stat(path.resolve(ctx.workDir, src));
    } catch (err) {
      problems.push(`Bad source '${src}': ${goPathError("stat", src, err)}`);
    }
  }
  return problems;
}

export const fileProvisioner: ProvisionerDefinition = {
  kind: "provisioner",
  type: "file",
  schema: fileProvisionerSchema,
  prepare: (config, ctx) =>
    prepareWithSchema(fileProvisionerSchema, config, async (compiled) => ({
      problems: await checkSources(compiled, ctx),
      instance: { provision: (pctx) => runFile(compiled, pctx) },
    })),
};
