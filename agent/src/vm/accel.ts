/**
 * Does KVM work on this host? `/dev/kvm` can exist and hang (nested virtualisation gone wrong), or open fine and run
 * guests a hundred times slower than TCG (seen on a nested host: a 50-million-iteration loop took 18 s under KVM and
 * 0.1 s under TCG, and a Linux kernel never got past its decompressor), so the probe never opens it in-process and
 * does not stop at "it opens": on x86 a child QEMU boots a tiny guest with KVM that counts down a loop and then asks
 * QEMU to exit (isa-debug-exit), which must happen within a short timeout; anything else (missing device, error,
 * hang, crawl) means "use TCG". The answer is cached per binary for the life of the process.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
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
 * run it with TCG, which works everywhere. Never throws; leaves no process and no file behind.
 */
export async function runProbeGuest(qemuBinary: string, accel: "kvm" | "tcg", timeoutMs: number): Promise<KvmProbeResult> {
  let dir: string | undefined;
  try {
    dir = await mkdtemp(path.join(tmpdir(), "kiln-kvm-probe-"));
    const kernel = path.join(dir, "probe-guest.bin");
    await writeFile(kernel, PROBE_GUEST);
    const args = ["-machine", `accel=${accel}`, "-m", "32", "-nodefaults", "-display", "none", "-monitor", "none", "-serial", "none"];
    args.push("-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", kernel);
    const { code, output, timedOut } = await runChild(qemuBinary, args, timeoutMs);
    if (timedOut) return { usable: false, reason: `a test guest under ${accel.toUpperCase()} did not finish within ${timeoutMs} ms, where TCG needs ~0.2 s` };
    if (code === PROBE_GUEST_EXIT_STATUS) return { usable: true };
    const reason = output.split("\n").find((l) => /kvm|error|could not|not /i.test(l) && !/warning/i.test(l))?.trim();
    return { usable: false, reason: reason ?? `the test guest ended with exit code ${code ?? "none"}` };
  } catch (err) {
    return { usable: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

/** Elsewhere than x86: only whether a QEMU with KVM starts and quits over its monitor in time. */
async function probeKvmOpens(qemuBinary: string, timeoutMs: number): Promise<KvmProbeResult> {
  try {
    const { code, output, timedOut } = await runChild(qemuBinary, ["-machine", "none,accel=kvm", "-nodefaults", "-display", "none", "-monitor", "stdio"], timeoutMs, "quit\n");
    if (timedOut) return { usable: false, reason: `KVM did not answer within ${timeoutMs} ms (/dev/kvm hangs)` };
    if (code === 0) return { usable: true };
    return { usable: false, reason: output.split("\n").find((l) => /kvm/i.test(l))?.trim() ?? `exit code ${code ?? "none"}` };
  } catch (err) {
    return { usable: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** Runs a child to its end, SIGKILLed after `timeoutMs`; resolves once it is gone. A spawn failure rejects. */
function runChild(binary: string, args: string[], timeoutMs: number, stdin = ""): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    let output = "";
    let timedOut = false;
    const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.stdin.on("error", () => undefined);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
    child.stdin.end(stdin);
  });
}
