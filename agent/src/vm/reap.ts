/**
 * Leftovers of a crashed agent: a QEMU started by a job keeps running when the agent process dies (SIGKILL, OOM),
 * and its run directory stays in the temp dir. Every run directory is named `kiln-qemu-<agent pid>-XXXXXX` and QEMU's
 * QMP socket lives in it, so the owner of a QEMU process is in its command line. At start, an agent kills the QEMU
 * processes whose owner is no longer alive and removes their run directories; QEMU owned by a live process (another
 * agent on the host) is never touched.
 */
import { readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

const PREFIX = "kiln-qemu-";

/** The run-directory prefix for this process (pass to mkdtemp). */
export function runDirPrefix(): string {
  return path.join(tmpdir(), `${PREFIX}${process.pid}-`);
}

export interface ReapResult {
  /** QEMU pids killed. */
  readonly killed: number[];
  /** Run directories removed. */
  readonly removed: string[];
}

/** Kills orphaned kiln QEMU processes and removes orphaned run directories. Never throws for a vanished process. */
export async function reapOrphanedQemu(log: (text: string) => void = () => undefined): Promise<ReapResult> {
  const ownerPattern = new RegExp(`${escape(path.join(tmpdir(), PREFIX))}(\\d+)-`);
  const killed: number[] = [];
  for (const entry of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).split("\0");
    if (!path.basename(cmdline[0] ?? "").startsWith("qemu-system")) continue;
    const owner = Number(ownerPattern.exec(cmdline.join(" "))?.[1] ?? "0");
    if (owner === 0 || isAlive(owner)) continue;
    const pid = Number(entry);
    try {
      process.kill(pid, "SIGKILL");
      killed.push(pid);
      log(`killed QEMU ${pid} left behind by agent process ${owner}`);
    } catch {
      // Already gone.
    }
  }
  for (const pid of killed) await waitGone(pid);
  const removed: string[] = [];
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const m = new RegExp(`^${escape(PREFIX)}(\\d+)-`).exec(name);
    if (m === null || isAlive(Number(m[1]))) continue;
    const dir = path.join(tmpdir(), name);
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
    log(`removed ${dir} left behind by agent process ${m[1] ?? ""}`);
  }
  return { killed, removed };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 100 && isAlive(pid); i++) {
    // A killed child of ours stays a zombie until reaped; /proc/<pid>/stat says so.
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (stat === "" || / Z /.test(stat)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
