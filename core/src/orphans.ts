/**
 * Leftovers of a process that died without cleaning up (SIGKILL, OOM): a child it started keeps running, and its
 * temporary directories stay. Marking makes them findable: such a directory is named `<name>-<owner pid>-XXXXXX` in
 * the temp dir, and the child's command line names a path inside it, so the owner of both is in the name. Whoever
 * starts the same kind of thing later kills the children whose owner is no longer alive and removes their
 * directories; what a live process (another agent, another `kiln build`) owns is never touched.
 */
import { readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/** The mkdtemp prefix that marks a temporary directory as this process's `name`. */
export function ownedTempPrefix(name: string): string {
  return path.join(tmpdir(), `${name}-${process.pid}-`);
}

export interface ReapResult {
  /** Child pids killed. */
  readonly killed: number[];
  /** Directories removed. */
  readonly removed: string[];
}

/**
 * Kills the processes running `binary` (the basename of their argv[0] starts with it) whose command line names a
 * directory `name` of a dead owner, then removes every such directory. Never throws for a vanished process.
 * `what` and `owner` word the log lines: "killed <what> <pid> left behind by <owner> <owner pid>".
 */
export async function reapOrphans(
  name: string,
  binary: string,
  words: { readonly what: string; readonly owner: string },
  log: (text: string) => void = () => undefined,
): Promise<ReapResult> {
  const ownerPattern = new RegExp(`${escapeRegExp(path.join(tmpdir(), name))}-(\\d+)-`);
  const killed: number[] = [];
  for (const entry of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).split("\0");
    if (!path.basename(cmdline[0] ?? "").startsWith(binary)) continue;
    const owner = Number(ownerPattern.exec(cmdline.join(" "))?.[1] ?? "0");
    if (owner === 0 || isProcessAlive(owner)) continue;
    const pid = Number(entry);
    try {
      process.kill(pid, "SIGKILL");
      killed.push(pid);
      log(`killed ${words.what} ${pid} left behind by ${words.owner} ${owner}`);
    } catch {
      // Already gone.
    }
  }
  for (const pid of killed) await waitGone(pid);
  const removed: string[] = [];
  for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
    const m = new RegExp(`^${escapeRegExp(name)}-(\\d+)-`).exec(entry);
    if (m === null || isProcessAlive(Number(m[1]))) continue;
    const dir = path.join(tmpdir(), entry);
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
    log(`removed ${dir} left behind by ${words.owner} ${m[1] ?? ""}`);
  }
  return { killed, removed };
}

/** Whether a process with this pid exists (EPERM: it does, owned by another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 100 && isProcessAlive(pid); i++) {
    // A killed child of ours stays a zombie until reaped; /proc/<pid>/stat says so.
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (stat === "" || / Z /.test(stat)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
