/**
 * The `manifest` post-processor. In a farm every job would race for one file, so the agent does not write it: it
 * returns the entry (one element of Packer's `builds` array) and the coordinator merges the entries of a build.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { BuildFailedError, ensureKilnError, manifestPostProcessorSchema } from "../../../core/src/mod.js";
import { prepareWithSchema, type PostProcessorDefinition } from "../plugin_api.js";

function sortedKeys(m: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export const manifestPostProcessor: PostProcessorDefinition = {
  kind: "post-processor",
  type: "manifest",
  schema: manifestPostProcessorSchema,
  prepare: (config) =>
    prepareWithSchema(manifestPostProcessorSchema, config, async (compiled) => ({
      instance: {
        async postProcess(ctx, input) {
          // Packer renders custom_data again with the input's generated data.
          const customData = (m: Readonly<Record<string, string>>): Record<string, string> => {
            const out: Record<string, string> = {};
            for (const [k, v] of Object.entries(m)) {
              try {
                out[k] = ctx.render(v, ctx.generatedData);
              } catch (err) {
                throw new BuildFailedError(`Error interpolating custom data: ${ensureKilnError(err).message}`, { cause: err });
              }
            }
            return out;
          };
          const files = await Promise.all(
            input.files.map(async (name) => {
              let size = 0;
              try {
                size = (await stat(path.resolve(ctx.workDir, name))).size;
              } catch {
                // Packer records 0 for a file it cannot stat
              }
              return { name: compiled.strip_path ? path.basename(name) : name, size };
            }),
          );
          // Field order and null-ness as Go's encoding/json writes Packer's manifest Artifact struct.
          const entry = {
            name: ctx.build.name,
            builder_type: ctx.build.builderType,
            ...(compiled.strip_time ? {} : { build_time: Math.floor(Date.now() / 1000) }),
            files: files.length > 0 ? files : null,
            artifact_id: input.id,
            packer_run_uuid: ctx.build.runUuid,
            custom_data: compiled.custom_data === undefined ? null : sortedKeys(customData(compiled.custom_data)),
          };
          return {
            artifact: input,
            keep: true,
            forceOverride: true, // the manifest never deletes what it records
            manifestEntry: { output: compiled.output, entry_json: JSON.stringify(entry), strip_time: compiled.strip_time },
          };
        },
      },
    })),
};
