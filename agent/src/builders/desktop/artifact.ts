/** Detection and artifacts shared by the desktop-hypervisor builders. */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { LocalArtifact } from "../../artifact.js";

/** True when a binary is on PATH (detect() must be cheap and synchronous). */
export function onPath(binary: string): boolean {
  if (binary.includes("/")) return existsSync(binary);
  try {
    execFileSync("sh", ["-c", 'command -v "$1"', "sh", binary], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Every file under `dir`, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(p)));
    else if ((await stat(p)).isFile()) out.push(p);
  }
  return out.sort();
}

/**
 * Packer's desktop artifact: the files in the output directory; `Id()` is "VM" for VirtualBox and the VM name for
 * VMware; Destroy removes the directory.
 */
export async function outputDirArtifact(
  builderId: string,
  dir: string,
  userDir: string,
  workDir: string,
  generatedData: Readonly<Record<string, string>>,
  options: { id?: string; state?: Readonly<Record<string, string>> } = {},
): Promise<LocalArtifact> {
  const relative = !path.isAbsolute(userDir);
  const show = (p: string): string => (relative ? path.relative(workDir, p) : p);
  return {
    builderId,
    id: options.id ?? "VM",
    ...(options.state !== undefined ? { state: options.state } : {}),
    description: `VM files in directory: ${show(dir)}`,
    files: (await listFiles(dir)).map(show),
    generatedData,
    destroy: async () => {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
