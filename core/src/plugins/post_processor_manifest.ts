/**
 * The `manifest` post-processor: records the artifact it sees (name, builder type, files, id, run uuid) in a JSON
 * file. In kiln the agent only produces the entry; the coordinator merges every job's entries into the file.
 */
import { definePluginSchema, type CompiledConfig } from "./schema.js";

export const manifestPostProcessorSchema = definePluginSchema({
  kind: "post-processor",
  type: "manifest",
  fields: {
    output: { type: "string", default: "packer-manifest.json", description: "the manifest file" },
    strip_path: { type: "bool", default: false, description: "record file names without their directory" },
    strip_time: { type: "bool", default: false, description: "omit build_time" },
    custom_data: { type: "map", description: "arbitrary strings to record" },
  },
});

export type ManifestPostProcessorConfig = CompiledConfig<typeof manifestPostProcessorSchema.fields>;
