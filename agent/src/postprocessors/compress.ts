/**
 * The `compress` post-processor: a tar (optionally gzipped), a zip, or a single gzipped file, as the output name says.
 * Its artifact replaces the input, which is not kept unless the user asks (Packer's default for compress).
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants as zlibConstants, createGzip } from "node:zlib";
import { BuildFailedError, ensureKilnError, COMPRESS_BUILDER_ID, compressPostProcessorSchema, detectCompressFormat } from "../../../core/src/mod.js";
import { singleFileArtifact, type LocalArtifact } from "../artifact.js";
import { prepareWithSchema, type PostProcessorDefinition } from "../plugin_api.js";
import { throwIfCancelled } from "../util/abort.js";
import { goList, goPathError } from "../util/go_text.js";
import { tarArchive } from "../archive/tar.js";
import { zipArchive } from "../archive/zip.js";

/** Packer's compress Artifact. */
export function compressArtifact(target: string, workDir: string): LocalArtifact {
  return singleFileArtifact(COMPRESS_BUILDER_ID, "", `compressed artifacts in: ${target}`, target, workDir);
}

/** zlib options for Packer's pgzip level (-2 is Huffman-only, -1/0 were normalised to 6 when compiling). */
function gzipOptions(level: number): { level: number; strategy?: number } {
  if (level === -2) return { level: zlibConstants.Z_DEFAULT_COMPRESSION, strategy: zlibConstants.Z_HUFFMAN_ONLY };
  if (level < -2) throw new BuildFailedError("error creating pgzip writer: Invalid compression level. Expected an integer from -1 to 9.");
  return { level };
}

export const compressPostProcessor: PostProcessorDefinition = {
  kind: "post-processor",
  type: "compress",
  schema: compressPostProcessorSchema,
  prepare: (config) =>
    prepareWithSchema(compressPostProcessorSchema, config, async (compiled) => ({
      instance: {
        async postProcess(ctx, input) {
          let target: string;
          try {
            target = ctx.render(compiled.output, { ...ctx.generatedData, BuildName: ctx.build.name, BuilderType: ctx.build.builderType });
          } catch (err) {
            throw new BuildFailedError(`Error interpolating output value: ${ensureKilnError(err).message}`, { cause: err });
          }
          const abs = path.resolve(ctx.workDir, target);
          const format = detectCompressFormat(compiled.output, compiled.format);
          try {
            await mkdir(path.dirname(abs), { recursive: true, mode: 0o755 });
          } catch (err) {
            throw new BuildFailedError(`Unable to create dir for archive ${target}: ${goPathError("mkdir", path.dirname(target), err)}`, { cause: err });
          }
          try {
            await (await open(abs, "w")).close(); // os.Create: create or truncate now, so errors surface here
          } catch (err) {
            throw new BuildFailedError(`Unable to create archive ${target}: ${goPathError("open", target, err)}`, { cause: err });
          }

          const stages: Writable[] = [];
          if (format.algorithm === "pgzip") {
            const options = gzipOptions(compiled.compression_level);
            ctx.log("say", `Using pgzip compression with ${availableParallelism()} cores for ${target}`);
            stages.push(createGzip(options));
          }
          const compression = format.algorithm ?? "no compression";
          let source: Readable;
          if (format.archive === "tar") {
            ctx.log("say", `Tarring ${target} with ${compression}`);
            source = Readable.from(tarArchive(input.files, ctx.workDir, ctx.heartbeat));
          } else if (format.archive === "zip") {
            ctx.log("say", `Zipping ${target}`);
            source = Readable.from(zipArchive(input.files, ctx.workDir, ctx.heartbeat));
          } else {
            const [only] = input.files;
            if (only === undefined || input.files.length !== 1) {
              throw new BuildFailedError(
                `Can only have 1 input file when not using tar/zip. Found ${input.files.length} files: ${goList(input.files)}`,
              );
            }
            ctx.log("say", `Archiving ${only} with ${compression}`);
            source = createReadStream(path.resolve(ctx.workDir, only));
            await new Promise<void>((resolve, reject) => {
              source.once("open", () => resolve());
              source.once("error", (err) =>
                reject(new BuildFailedError(`Failed to open source file ${only} for reading: ${goPathError("open", only, err)}`, { cause: err })),
              );
            });
          }
          try {
            await pipeline([source, ...stages, createWriteStream(abs)], { signal: ctx.signal });
          } catch (err) {
            throwIfCancelled(ctx.signal);
            if (err instanceof BuildFailedError) throw err;
            throw new BuildFailedError(`Error creating archive ${target}: ${(err as Error).message}`, { cause: err });
          }
          ctx.log("say", `Archive ${target} completed`);
          return { artifact: compressArtifact(target, ctx.workDir), keep: false, forceOverride: false };
        },
      },
    })),
};
