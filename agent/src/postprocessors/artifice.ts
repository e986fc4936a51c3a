/** The `artifice` post-processor: a new artifact made of the files the globs in `files` match. */
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import { BuildFailedError, ARTIFICE_BUILDER_ID, artificePostProcessorSchema } from "../../../core/src/mod.js";
import type { LocalArtifact } from "../artifact.js";
import { prepareWithSchema, type PostProcessorDefinition } from "../plugin_api.js";
import { goGlob } from "../util/glob.js";
import { goPathError } from "../util/go_text.js";

/** Packer's artifice Artifact (also the shape of checksum's). */
export function filesArtifact(builderId: string, files: readonly string[], workDir: string): LocalArtifact {
  return {
    builderId,
    id: "",
    description: `Created artifact from files: ${files.join(", ")}`,
    files,
    async destroy() {
      for (const f of files) {
        try {
          await rm(path.resolve(workDir, f), { recursive: true, force: true });
        } catch (err) {
          throw new BuildFailedError(goPathError("unlinkat", f, err), { cause: err });
        }
      }
    },
  };
}

export const artificePostProcessor: PostProcessorDefinition = {
  kind: "post-processor",
  type: "artifice",
  schema: artificePostProcessorSchema,
  prepare: (config) =>
    prepareWithSchema(artificePostProcessorSchema, config, async (compiled) => ({
      instance: {
        async postProcess(ctx, input) {
          if (input.files.length > 0) ctx.log("say", `Discarding files from artifact: ${input.files.join(", ")}`);
          const files: string[] = [];
          for (const pattern of compiled.files) {
            for (const match of await goGlob(pattern, ctx.workDir)) {
              try {
                await stat(path.resolve(ctx.workDir, match));
              } catch (err) {
                throw new BuildFailedError(goPathError("stat", match, err), { cause: err });
              }
              files.push(match);
            }
          }
          const artifact = filesArtifact(ARTIFICE_BUILDER_ID, files, ctx.workDir);
          ctx.log("say", `Using these artifact files: ${files.join(", ")}`);
          return { artifact, keep: true, forceOverride: false };
        },
      },
    })),
};
