/**
 * The `compress` post-processor (builder id `packer.post-processor.compress`). The archive and compression come from
 * the `output` name (or `format`), exactly as Packer 1.6.6 reads them: the last two `.ext` groups of the raw,
 * uninterpolated text, falling back to tar + gzip.
 */
import { definePluginSchema, type CompiledConfig } from "./schema.js";

export const COMPRESS_BUILDER_ID = "packer.post-processor.compress";

/** gzip's level when none is given. */
export const DEFAULT_COMPRESSION_LEVEL = 6;

export type CompressArchive = "tar" | "zip";
export type CompressAlgorithm = "pgzip" | "lz4" | "bgzf" | "xz";

/** What `compress` writes: an optional archive, then an optional compression over it. */
export interface CompressFormat {
  readonly archive?: CompressArchive;
  readonly algorithm?: CompressAlgorithm;
}

/** Algorithms kiln implements (Node's zlib); Packer's others are reported as problems. */
export const SUPPORTED_COMPRESS_ALGORITHMS: readonly CompressAlgorithm[] = ["pgzip"];

const EXTENSIONS: Readonly<Record<string, CompressAlgorithm>> = { gz: "pgzip", lz4: "lz4", bgzf: "bgzf", xz: "xz" };

/** Packer's `detectFromFilename`, on the raw output text. */
export function detectCompressFormat(output: string, format?: string): CompressFormat {
  const text = format !== undefined && format !== "" ? `${output}.${format}` : output;
  const groups = [...text.matchAll(/\.([a-z0-9]+)/g)].map((m) => m[1] ?? "");
  if (groups.length === 0) return { archive: "tar", algorithm: "pgzip" };
  const last = groups[groups.length - 1] ?? "";
  const nextToLast = groups.length > 1 ? groups[groups.length - 2] : undefined;
  const archive: CompressArchive | undefined = nextToLast === "tar" ? "tar" : undefined;
  if (last === "zip" || last === "tar") return { archive: last };
  const algorithm = EXTENSIONS[last];
  if (algorithm !== undefined) return { archive, algorithm };
  return { archive: "tar", algorithm: "pgzip" };
}

export const compressPostProcessorSchema = definePluginSchema({
  kind: "post-processor",
  type: "compress",
  fields: {
    output: { type: "string", default: "packer_{{.BuildName}}_{{.BuilderType}}", description: "the archive to write" },
    format: { type: "string", description: "an extension that overrides the one in output" },
    compression_level: { type: "int", default: DEFAULT_COMPRESSION_LEVEL, description: "-1 to 9" },
  },
  lateRenderedKeys: ["output"],
  check(c) {
    const { algorithm } = detectCompressFormat(c.output, c.format);
    if (algorithm !== undefined && !SUPPORTED_COMPRESS_ALGORITHMS.includes(algorithm)) {
      return { problems: [`compress: kiln cannot write ${algorithm} archives yet; use .tar.gz, .tar, .gz or .zip (output "${c.output}")`] };
    }
    return {};
  },
  normalize(c) {
    // Packer: 0 and -1 both mean "default" (it cannot tell 0 from unset), anything above 9 is 9.
    let level = c.compression_level;
    if (level > 9) level = 9;
    if (level === 0 || level === -1) level = DEFAULT_COMPRESSION_LEVEL;
    return { ...c, compression_level: level };
  },
});

export type CompressPostProcessorConfig = CompiledConfig<typeof compressPostProcessorSchema.fields>;
