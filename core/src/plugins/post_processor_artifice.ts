/** The `artifice` post-processor (builder id `packer.post-processor.artifice`): replaces the artifact's files. */
import { definePluginSchema, type CompiledConfig } from "./schema.js";

export const ARTIFICE_BUILDER_ID = "packer.post-processor.artifice";

export const artificePostProcessorSchema = definePluginSchema({
  kind: "post-processor",
  type: "artifice",
  fields: {
    files: { type: "array", required: "No files specified in artifice configuration", description: "globs of the new files" },
    keep_input_artifact: { type: "bool" },
  },
});

export type ArtificePostProcessorConfig = CompiledConfig<typeof artificePostProcessorSchema.fields>;
