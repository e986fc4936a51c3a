/**
 * Writes the files a build hands back to the user's side, relative to the directory `kiln build` ran in. Manifests
 * merge as Packer's manifest post-processor does across runs: builds are appended to an existing file, unless -force
 * is given and the file's last_run_uuid belongs to another run, in which case it starts over.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { OutputFile__Output } from "../../proto/src/mod.js";
import { InvalidArgumentError } from "../../core/src/mod.js";

interface ManifestDocument {
  builds: unknown[];
  last_run_uuid: string;
}

export interface OutputFileOptions {
  cwd: string;
  runUuid: string;
  force: boolean;
}

async function readManifest(file: string): Promise<ManifestDocument | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (text.trim() === "") return undefined;
  try {
    const doc = JSON.parse(text) as Partial<ManifestDocument>;
    return { builds: Array.isArray(doc.builds) ? doc.builds : [], last_run_uuid: String(doc.last_run_uuid ?? "") };
  } catch (err) {
    throw new InvalidArgumentError(`manifest ${file} exists but is not valid JSON; move it away or fix it: ${(err as Error).message}`, { cause: err });
  }
}

export async function writeOutputFiles(files: readonly OutputFile__Output[], options: OutputFileOptions): Promise<void> {
  for (const file of files) {
    const target = path.resolve(options.cwd, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    if (!file.merge_manifest) {
      await writeFile(target, file.content);
      continue;
    }
    const incoming = JSON.parse(Buffer.from(file.content).toString("utf8")) as ManifestDocument;
    const existing = await readManifest(target);
    const keepOld = existing && !(options.force && existing.last_run_uuid !== options.runUuid);
    const merged: ManifestDocument = {
      builds: [...(keepOld ? existing.builds : []), ...incoming.builds],
      last_run_uuid: options.runUuid,
    };
    await writeFile(target, goJsonIndent(merged));
  }
}

/** Go's json.MarshalIndent(v, "", "  "): HTML-safe escapes, no trailing newline — byte-identical to Packer's files. */
export function goJsonIndent(value: unknown): string {
  return JSON.stringify(value, null, 2)
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}
