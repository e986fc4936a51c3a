/** The `file` builder (builder id `packer.file`): writes `content` to `target`, or copies `source` there. */
import { definePluginSchema, type CompiledConfig } from "./schema.js";

export const FILE_BUILDER_ID = "packer.file";

export const fileBuilderSchema = definePluginSchema({
  kind: "builder",
  type: "file",
  fields: {
    target: { type: "string", required: "target required", description: "the file to create" },
    source: { type: "string", description: "a file to copy to target" },
    content: { type: "string", description: "text to write to target" },
  },
  check(c) {
    const problems: string[] = [];
    const warnings: string[] = [];
    // Packer 1.6.6 accepts neither (an empty file, with a warning) but not both.
    if ((c.content ?? "") !== "" && (c.source ?? "") !== "") problems.push("Cannot specify source file AND content");
    if ((c.source ?? "") === "" && (c.content ?? "") === "") warnings.push("Both source file and contents are blank; target will have no content");
    return { problems, warnings };
  },
});

export type FileBuilderConfig = CompiledConfig<typeof fileBuilderSchema.fields>;
