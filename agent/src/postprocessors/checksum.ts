/** The `checksum` post-processor: appends `<hex>\t<basename>` lines for every file, per checksum type. */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { appendFile, mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { BuildFailedError, CHECKSUM_BUILDER_ID, CHECKSUM_TYPES, checksumPostProcessorSchema } from "../../../core/src/mod.js";
import { prepareWithSchema, type PostProcessorDefinition } from "../plugin_api.js";
import { throwIfCancelled } from "../util/abort.js";
import { goPathError } from "../util/go_text.js";
import { filesArtifact } from "./artifice.js";

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

export const checksumPostProcessor: PostProcessorDefinition = {
  kind: "post-processor",
  type: "checksum",
  schema: checksumPostProcessorSchema,
  prepare: (config) =>
    prepareWithSchema(checksumPostProcessorSchema, config, async (compiled) => ({
      instance: {
        async postProcess(ctx, input) {
          const abs = (p: string): string => path.resolve(ctx.workDir, p);
          const files = [...input.files];
          for (const type of compiled.checksum_types) {
            for (const file of input.files) {
              throwIfCancelled(ctx.signal);
              const data = { ...ctx.generatedData, BuildName: ctx.build.name, BuilderType: ctx.build.builderType, ChecksumType: type };
              const checksumFile = ctx.render(compiled.output, data);
              // A checksum file that existed before (an earlier type or file, or an earlier run) is not listed again.
              if (!(await exists(abs(checksumFile)))) files.push(checksumFile);
              try {
                await mkdir(path.dirname(abs(checksumFile)), { recursive: true, mode: 0o755 });
              } catch (err) {
                throw new BuildFailedError(`unable to create dir: ${goPathError("mkdir", path.dirname(checksumFile), err)}`, { cause: err });
              }
              try {
                await appendFile(abs(checksumFile), "", { mode: 0o644 }); // Packer opens it before reading the file
              } catch (err) {
                throw new BuildFailedError(`unable to create file ${checksumFile}: ${goPathError("open", checksumFile, err)}`, { cause: err });
              }
              const hash = createHash(CHECKSUM_TYPES[type] ?? type);
              try {
                for await (const chunk of createReadStream(abs(file), { signal: ctx.signal })) {
                  hash.update(chunk as Buffer);
                  ctx.heartbeat();
                }
              } catch (err) {
                throwIfCancelled(ctx.signal);
                const code = (err as NodeJS.ErrnoException).code;
                if (code === "ENOENT" || code === "EACCES" || code === "EISDIR") {
                  throw new BuildFailedError(`unable to open file ${file}: ${goPathError("open", file, err)}`, { cause: err });
                }
                throw new BuildFailedError(`unable to compute ${type} hash for ${file}`, { cause: err });
              }
              await appendFile(abs(checksumFile), `${hash.digest("hex")}\t${path.basename(file)}\n`);
            }
          }
          // keep + force: never delete the very artifact that was just checksummed.
          return { artifact: filesArtifact(CHECKSUM_BUILDER_ID, files, ctx.workDir), keep: true, forceOverride: true };
        },
      },
    })),
};
