/**
 * Leftovers of a crashed agent: a QEMU started by a job keeps running when the agent process dies (SIGKILL, OOM),
 * and its run directory stays in the temp dir. Every run directory is named `kiln-qemu-<agent pid>-XXXXXX` and QEMU's
 * QMP socket lives in it, so the owner of a QEMU process is in its command line. At start, an agent kills the QEMU
 * processes whose owner is no longer alive and removes their run directories (core's reapOrphans); QEMU owned by a
 * live process (another agent on the host) is never touched.
 */
import { ownedTempPrefix, reapOrphans, type ReapResult } from "../../../core/src/mod.js";

const RUN_DIR = "kiln-qemu";

/** The run-directory prefix for this process (pass to mkdtemp). */
export function runDirPrefix(): string {
  return ownedTempPrefix(RUN_DIR);
}

/** Kills orphaned kiln QEMU processes and removes orphaned run directories. Never throws for a vanished process. */
export function reapOrphanedQemu(log: (text: string) => void = () => undefined): Promise<ReapResult> {
  return reapOrphans(RUN_DIR, "qemu-system", { what: "QEMU", owner: "agent process" }, log);
}
