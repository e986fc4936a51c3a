/** The `checksum` post-processor (builder id `packer.post-processor.checksum`): appends `<hex>\t<basename>` lines. */
import { definePluginSchema, type CompiledConfig } from "./schema.js";

export const CHECKSUM_BUILDER_ID = "packer.post-processor.checksum";

/** The hash names Packer accepts, mapped to node:crypto's names. */
export const CHECKSUM_TYPES: Readonly<Record<string, string>> = {
  md5: "md5",
  sha1: "sha1",
  sha224: "sha224",
  sha256: "sha256",
  sha384: "sha384",
  sha512: "sha512",
};

export const checksumPostProcessorSchema = definePluginSchema({
  kind: "post-processor",
  type: "checksum",
  fields: {
    checksum_types: { type: "array", default: ["md5"], description: "md5, sha1, sha224, sha256, sha384, sha512" },
    output: {
      type: "string",
      default: "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum",
      description: "rendered per checksum type with .BuildName, .BuilderType and .ChecksumType",
    },
  },
  lateRenderedKeys: ["output"],
  check(c) {
    return { problems: c.checksum_types.filter((t) => CHECKSUM_TYPES[t] === undefined).map((t) => `Unrecognized checksum type: ${t}`) };
  },
});

export type ChecksumPostProcessorConfig = CompiledConfig<typeof checksumPostProcessorSchema.fields>;
