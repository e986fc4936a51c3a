/**
 * The `file` provisioner: copies files between the agent and the machine through the communicator (Packer 1.6.6's
 * provisioner/file Config, without the file system part — `Bad source` is checked on the agent). `content` is a kiln
 * extension (newer Packer versions accept it): the text uploaded to `destination`.
 */
import { definePluginSchema, type CheckResult, type CompiledConfig, type FieldSpecs } from "./schema.js";

export const FILE_PROVISIONER_FIELDS = {
  source: { type: "string" },
  sources: { type: "array" },
  content: { type: "string" },
  destination: { type: "string" },
  direction: { type: "string", default: "upload", description: "upload or download" },
  generated: { type: "bool" },
} as const satisfies FieldSpecs;

export type FileProvisionerConfig = CompiledConfig<typeof FILE_PROVISIONER_FIELDS>;

function checkFile(c: FileProvisionerConfig): CheckResult {
  const problems: string[] = [];
  const sources = [...(c.sources ?? []), ...((c.source ?? "") !== "" ? [c.source ?? ""] : [])];
  const content = c.content ?? "";
  if (c.direction !== "download" && c.direction !== "upload") problems.push("Direction must be one of: download, upload.");
  if (sources.length > 0 && content !== "") problems.push("source(s) conflicts with content.");
  if (content !== "" && c.direction === "download") problems.push("content cannot be used with direction download.");
  if (sources.length === 0 && content === "") problems.push("Source must be specified.");
  if ((c.destination ?? "") === "") problems.push("Destination must be specified.");
  if (c.direction === "download") {
    for (const src of sources) {
      if (/[*?[]/.test(src)) {
        problems.push(`source '${src}': wildcards in download sources are not supported by kiln: download the directory (with a trailing slash) instead`);
      }
    }
  }
  return { problems };
}

/** Packer's Prepare: `source` is appended to `sources`. */
function normalizeFile(c: FileProvisionerConfig): FileProvisionerConfig {
  if ((c.source ?? "") === "") return c;
  return { ...c, sources: [...(c.sources ?? []), c.source ?? ""] };
}

export const fileProvisionerSchema = definePluginSchema({
  kind: "provisioner",
  type: "file",
  fields: FILE_PROVISIONER_FIELDS,
  check: checkFile,
  normalize: normalizeFile,
  decodeErrorsOnly: true,
});
