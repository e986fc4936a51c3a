/**
 * The `file` provisioner (Packer 1.6.6's provisioner/file), for single files: uploads `sources` (or `content`) to
 * `destination` on the machine, or downloads them from it. A destination ending in `/` is a directory the files
 * keep their base names in.
 */
import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { BuildFailedError, fileProvisionerSchema, type FileProvisionerConfig } from "../../../core/src/mod.js";
import { prepareWithSchema, type PluginContext, type PrepareContext, type ProvisionerDefinition } from "../plugin_api.js";
import { goPathError } from "../util/go_text.js";

function targetFor(destination: string, source: string, isDir: boolean): string {
  return isDir ? `${destination}${path.posix.basename(source)}` : destination;
}

export async function runFile(config: FileProvisionerConfig, ctx: PluginContext): Promise<void> {
  const comm = ctx.communicator;
  if (comm === undefined) {
    throw new BuildFailedError(`the file provisioner needs a communicator; the builder has "communicator": "none"`);
  }
  const destination = config.destination ?? "";
  const sources = config.sources ?? [];
  if (config.direction === "download") {
    for (const src of sources) {
      ctx.log("say", `Downloading ${src} => ${destination}`);
      let local = path.resolve(ctx.workDir, destination);
      const isDir = destination.endsWith("/") || (await stat(local).then((s) => s.isDirectory(), () => false));
      if (isDir) {
        await mkdir(local, { recursive: true });
        local = path.join(local, path.posix.basename(src));
      } else {
        await mkdir(path.dirname(local), { recursive: true });
      }
      await comm.download(src, local, ctx.signal);
    }
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
    if (info.isDirectory()) throw new BuildFailedError(`Uploading directories (${src}) is not supported by kiln yet`);
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
