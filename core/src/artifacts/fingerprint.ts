/**
 * The build cache's fingerprint: a sha256 over everything that determines what one job produces —
 *
 * - the template text as submitted (every builder, provisioner and post-processor setting, source image URLs and
 *   their `iso_checksum`s included),
 * - the resolved user variables (var files, -var, `env` defaults: all resolved by the CLI before submitting),
 * - the content hash of every file in the template's directory as bundled (scripts, file-provisioner sources, ...:
 *   every file a template can reference by a relative path), by path,
 * - the content hash of every file the template names outside the bundle (absolute paths: scripts, file-provisioner
 *   sources, ...), hashed by the CLI at submit (cli/src/external_files.ts), by path,
 * - the build's name and builder type.
 *
 * Deliberately not included: values Packer makes up per run ({{timestamp}}, {{uuid}}, {{isotime}}); they name an
 * image, they do not change what is in it — otherwise no template using them could ever hit the cache.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";

/** Format version: bump when what the fingerprint covers changes, so old entries stop matching. */
const FINGERPRINT_VERSION = 1;

/** sha256 of every regular file in a bundle (tar.gz), by its path inside the bundle. */
export async function bundleDigests(bundle: Uint8Array): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  const pending: Promise<void>[] = [];
  const parser = tar.t({
    onReadEntry: (entry) => {
      if (entry.type !== "File") {
        entry.resume();
        return;
      }
      const hash = createHash("sha256");
      const name = entry.path.replace(/^\.\//, "");
      pending.push(
        new Promise((resolve, reject) => {
          entry.on("data", (c: Buffer) => hash.update(c));
          entry.on("end", () => {
            digests[name] = hash.digest("hex");
            resolve();
          });
          entry.on("error", reject);
        }),
      );
    },
  });
  await pipeline(Readable.from([Buffer.from(bundle)]), parser);
  await Promise.all(pending);
  return digests;
}

export interface FingerprintInputs {
  readonly templateJson: string;
  readonly variables: Readonly<Record<string, string>>;
  readonly files: Readonly<Record<string, string>>;
  /** Files outside the bundle, by path as written (the CLI's digests). */
  readonly external?: Readonly<Record<string, string>>;
}

function sortedEntries(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The fingerprint of one job (one Packer build) of a submitted template. */
export function jobFingerprint(inputs: FingerprintInputs, buildName: string, builderType: string): string {
  const canonical = JSON.stringify({
    v: FINGERPRINT_VERSION,
    template: inputs.templateJson,
    variables: sortedEntries(inputs.variables),
    files: sortedEntries(inputs.files),
    // Only when there are any: fingerprints of templates that name no outside file stay what they were.
    ...(inputs.external && Object.keys(inputs.external).length > 0 ? { external: sortedEntries(inputs.external) } : {}),
    build: buildName,
    type: builderType,
  });
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * Where an `iso_checksum` of the form `file:<location>` reads its checksum file: the local path (`file:/abs`,
 * `file:relative`, `file:file:///abs`), or "remote" for a URL (`file:https://...`), whose content nothing here can pin;
 * undefined for a checksum that names no file.
 */
export function checksumFileLocation(isoChecksum: string): string | "remote" | undefined {
  const value = isoChecksum.trim();
  if (!/^file:/i.test(value)) return undefined;
  const location = value.slice("file:".length);
  if (/^file:\/\//i.test(location)) {
    try {
      return decodeURIComponent(new URL(location).pathname);
    } catch {
      return "remote";
    }
  }
  return /^[a-z][a-z0-9+.-]*:/i.test(location) ? "remote" : location;
}

/**
 * `{{user `name`}}` references filled in from the resolved variables, for reading file settings before the agent
 * interpolates the template; other template functions are left as written (the template text covers them).
 */
export function fillUserVariables(value: string, variables: Readonly<Record<string, string>>): string {
  return value.replace(/\{\{\s*user\s+[`"]([^`"]*)[`"]\s*\}\}/g, (_m, name: string) => variables[name] ?? "");
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(file), hash);
  return hash.digest("hex");
}

/**
 * The digest of a local input the fingerprint covers outside the bundle: a file's sha256; a directory's, sha256 over
 * `<relative path> <sha256>` lines of its files, sorted; "" for anything unreadable. The CLI computes it at submit,
 * the agent again where it reads the input, and the two must agree.
 */
export async function inputDigest(target: string): Promise<string> {
  try {
    const s = await stat(target);
    if (s.isFile()) return await fileDigest(target);
    if (!s.isDirectory()) return "";
    const names = (await readdir(target, { recursive: true })).sort();
    const lines: string[] = [];
    for (const name of names) {
      const full = path.join(target, name);
      if ((await stat(full)).isFile()) lines.push(`${name.split(path.sep).join("/")} ${await fileDigest(full)}\n`);
    }
    return createHash("sha256").update(lines.join("")).digest("hex");
  } catch {
    return "";
  }
}
