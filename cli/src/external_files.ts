/**
 * Files a template names outside its bundle, hashed for the build cache's fingerprint. The bundle (the template's
 * directory) is hashed by the coordinator; a file named by an absolute path, or by a relative path leaving the
 * template's directory, is not in it, so a changed script there would otherwise reuse a stale image. The CLI hashes
 * such files as it sees them when submitting; on a farm they are read on the agent, which hashes them again and
 * records its artifacts as not reusable when it sees other content (agent/src/upload/store_artifacts.ts). A file the
 * CLI cannot read gets "" and makes the build uncacheable rather than cached on an unknown input.
 *
 * Only settings Packer reads as local input files are followed (scripts, file-provisioner sources, floppy and CD
 * contents, HTTP directories, Ansible files, ...), after `{{user}}` variables are filled in. Source images are not:
 * their `iso_checksum` is their identity (see the coordinator's build_cache.ts); but a local checksum file it names
 * (`iso_checksum: "file:/srv/isos/SHA256SUMS"`) is followed, so its content pins the source image.
 */
import path from "node:path";
import { checksumFileLocation, fillUserVariables, inputDigest } from "../../core/src/mod.js";

/** Settings, at any depth of a builder, provisioner or post-processor, whose values are local files or directories. */
const FILE_SETTINGS = new Set([
  "script",
  "scripts",
  "source",
  "sources",
  "floppy_files",
  "floppy_dirs",
  "cd_files",
  "http_directory",
  "playbook_file",
  "playbook_dir",
  "galaxy_file",
  "inventory_file",
  "role_paths",
  "group_vars",
  "host_vars",
  "vagrantfile_template",
  "user_data_file",
]);

/** Paths of local input files the template's plugins name, with user variables filled in. */
export function referencedPaths(templateText: string, variables: Readonly<Record<string, string>>): string[] {
  const found = new Set<string>();
  const visit = (node: unknown, downloads: boolean): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item, downloads);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const obj = node as Record<string, unknown>;
    // A file provisioner with direction "download" names a guest path in `source`.
    const download = downloads || obj["direction"] === "download";
    for (const [key, value] of Object.entries(obj)) {
      if (key === "iso_checksum" && typeof value === "string") {
        const location = checksumFileLocation(fillUserVariables(value, variables));
        if (location !== undefined && location !== "remote" && location !== "") found.add(location);
      } else if (FILE_SETTINGS.has(key) && !(download && (key === "source" || key === "sources"))) {
        for (const v of Array.isArray(value) ? value : [value]) if (typeof v === "string" && v !== "") found.add(fillUserVariables(v, variables));
      } else if (typeof value === "object") visit(value, download);
    }
  };
  let template: Record<string, unknown>;
  try {
    template = JSON.parse(templateText) as Record<string, unknown>;
  } catch {
    return [];
  }
  for (const section of ["builders", "provisioners", "post-processors"]) visit(template[section], false);
  // Other template functions ({{template_dir}}, {{env}}, ...) are left as written: the template text covers them.
  return [...found].filter((p) => !p.includes("{{")).sort();
}

/**
 * The sha256 of every referenced file outside the bundle (absolute, or relative and leaving `templateDir`), by the
 * path as written; "" for one the CLI cannot read.
 */
export async function externalFileDigests(templateText: string, templateDir: string, variables: Readonly<Record<string, string>>): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  const root = path.resolve(templateDir);
  for (const ref of referencedPaths(templateText, variables)) {
    const target = path.resolve(root, ref);
    if (!path.isAbsolute(ref) && (target === root || target.startsWith(root + path.sep))) continue;
    digests[ref] = await inputDigest(target);
  }
  return digests;
}
