/**
 * Does KVM work on this host? `/dev/kvm` can exist and hang (nested virtualisation gone wrong), or open fine and run
 * guests a hundred times slower than TCG (seen on a nested host: a 50-million-iteration loop took 18 s under KVM and
 * 0.1 s under TCG, and a Linux kernel never got past its decompressor), so the probe never opens it in-process and
 * does not stop at "it opens": on x86 a child QEMU boots a tiny guest with KVM that counts down a loop and then asks
 * QEMU to exit (isa-debug-exit), which must happen within a short timeout; anything else (missing device, error,
 * hang, crawl) means "use TCG". The answer is cached per binary for the life of the process.
 */
import { spawn } from "node:child_process";
import { mkdtemp, open, rm, writeFile, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/** How long the child may take to start with KVM, run the test guest and exit. */
export const KVM_PROBE_TIMEOUT_MS = 3000;

export interface KvmProbeResult {
  readonly usable: boolean;
  /** Why KVM is not usable (for the fallback warning). */
  readonly reason?: string;
}

/**
 * The test guest: a multiboot kernel (QEMU's `-kernel` loads it at 1 MiB in 32-bit protected mode, after SeaBIOS).
 *   header: magic 0x1BADB002, flags 0x00010000 (the load addresses follow), checksum, header/load address 0x100000,
 *           load end 0 (the whole file), bss end 0, entry 0x100020
 *   entry:  mov $50000000, %ecx; 1: dec %ecx; jnz 1b      a loop healthy KVM runs in ~20 ms and TCG in ~0.1 s
 *           mov $1, %al; out %al, $0xf4                    isa-debug-exit: QEMU exits with status (1 << 1) | 1 = 3
 *           2: hlt; jmp 2b
 */
const PROBE_GUEST = Buffer.from(
  "02b0ad1b00000100fe4f51e4000010000000100000000000000000002000" + "1000b980f0fa024975fdb001e6f4f4ebfd",
  "hex",
);
const PROBE_GUEST_EXIT_STATUS = 3;

const cache = new Map<string, Promise<KvmProbeResult>>();

/** Probes once per binary (concurrent callers share the probe). Never throws. */
export function probeKvm(qemuBinary = "qemu-system-x86_64", timeoutMs = KVM_PROBE_TIMEOUT_MS): Promise<KvmProbeResult> {
  let result = cache.get(qemuBinary);
  if (result === undefined) {
    // KVM runs guests of the host's architecture only; the test guest is x86 code.
    result = process.arch === "x64" || process.arch === "ia32" ? runProbeGuest(qemuBinary, "kvm", timeoutMs) : probeKvmOpens(qemuBinary, timeoutMs);
    cache.set(qemuBinary, result);
  }
  return result;
}

/**
 * Boots the test guest with `accel` and reports whether it finished within `timeoutMs`. Exported so that tests can
 * run it with TCG, which works everywhere. Never throws. Nothing outlives the probe even if this process dies during
 * it: the guest's file is deleted before QEMU starts (QEMU reads it through the descriptor it inherits), and QEMU runs
 * under coreutils' `timeout`, which kills it at the deadline whether or not anyone is still waiting.
 */
export async function runProbeGuest(qemuBinary: string, accel: "kvm" | "tcg", timeoutMs: number): Promise<KvmProbeResult> {
  let guest: FileHandle | undefined;
  try {
    const dir = await mkdtemp(path.join(tmpdir(), "kiln-kvm-probe-"));
    try {
      const file = path.join(dir, "probe-guest.bin");
      await writeFile(file, PROBE_GUEST);
      guest = await open(file, "r");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const args = ["-machine", `accel=${accel}`, "-m", "32", "-nodefaults", "-display", "none", "-monitor", "none", "-serial", "none"];
    args.push("-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", `/dev/fd/${CHILD_GUEST_FD}`);
    const { code, output, timedOut } = await runChild(qemuBinary, args, timeoutMs, "", guest.fd);
    if (timedOut) return { usable: false, reason: `a test guest under ${accel.toUpperCase()} did not finish within ${timeoutMs} ms, where TCG needs ~0.2 s` };
    if (code === PROBE_GUEST_EXIT_STATUS) return { usable: true };
    return { usable: false, reason: firstMessage(output) ?? `the test guest ended with exit code ${code ?? "none"}` };
  } catch (err) {
    return { usable: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    await guest?.close();
  }
}

/** Elsewhere than x86: only whether a QEMU with KVM starts and quits over its monitor in time. */
async function probeKvmOpens(qemuBinary: string, timeoutMs: number): Promise<KvmProbeResult> {
  try {
    const { code, output, timedOut } = await runChild(qemuBinary, ["-machine", "none,accel=kvm", "-nodefaults", "-display", "none", "-monitor", "stdio"], timeoutMs, "quit\n");
    if (timedOut) return { usable: false, reason: `KVM did not answer within ${timeoutMs} ms (/dev/kvm hangs)` };
    if (code === 0) return { usable: true };
    return { usable: false, reason: firstMessage(output) ?? `exit code ${code ?? "none"}` };
  } catch (err) {
    return { usable: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** The first line of QEMU's (or `timeout`'s) output that is not a warning: why it failed. */
function firstMessage(output: string): string | undefined {
  return output
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l !== "" && !/warning/i.test(l) && !/^QEMU [\d.]+ monitor/.test(l) && !l.startsWith("(qemu)"));
}

/** The descriptor the guest's file has in the child (after stdin, stdout, stderr). */
const CHILD_GUEST_FD = 3;
/**
 * `timeout --signal=KILL` at its deadline kills the command's whole process group, itself included, so it ends by
 * SIGKILL rather than with the documented 137 (kept for `--foreground`-like builds).
 */
const TIMEOUT_KILLED_STATUS = 128 + 9;
/** If `timeout` itself does not end the child in time (it should), this much later the wait gives up on it. */
const BACKSTOP_MS = 2000;

/**
 * Runs `binary` under `timeout --signal=KILL` to its end and resolves once it is gone; `guestFd` is passed as the
 * child's descriptor CHILD_GUEST_FD. A spawn failure rejects.
 */
function runChild(binary: string, args: string[], timeoutMs: number, stdin = "", guestFd?: number): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    let output = "";
    let backstopFired = false;
    const stdio: ("pipe" | number)[] = ["pipe", "pipe", "pipe"];
    if (guestFd !== undefined) stdio.push(guestFd);
    const child = spawn("timeout", ["--signal=KILL", `${(timeoutMs / 1000).toFixed(3)}s`, binary, ...args], { stdio });
    const backstop = setTimeout(() => {
      backstopFired = true;
      child.kill("SIGKILL");
    }, timeoutMs + BACKSTOP_MS);
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    child.stdin?.on("error", () => undefined);
    child.on("error", (err) => {
      clearTimeout(backstop);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(backstop);
      resolve({ code, output, timedOut: backstopFired || signal === "SIGKILL" || code === TIMEOUT_KILLED_STATUS });
    });
    child.stdin?.end(stdin);
  });
}
