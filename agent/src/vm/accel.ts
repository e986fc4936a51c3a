/**
 * Does KVM work on this host? `/dev/kvm` can exist and hang (nested virtualisation gone wrong), so the probe never
 * opens it in-process: a child `qemu-system-x86_64 -machine none,accel=kvm` is asked to quit over its monitor and
 * must do so within a short timeout; anything else (missing device, error, hang) means "use TCG". The answer is
 * cached per binary for the life of the process.
 */
import { spawn } from "node:child_process";

/** How long the child may take to start with KVM and quit. */
export const KVM_PROBE_TIMEOUT_MS = 3000;

export interface KvmProbeResult {
  readonly usable: boolean;
  /** Why KVM is not usable (for the fallback warning). */
  readonly reason?: string;
}

const cache = new Map<string, Promise<KvmProbeResult>>();

/** Probes once per binary (concurrent callers share the probe). Never throws. */
export function probeKvm(qemuBinary = "qemu-system-x86_64", timeoutMs = KVM_PROBE_TIMEOUT_MS): Promise<KvmProbeResult> {
  let result = cache.get(qemuBinary);
  if (result === undefined) {
    result = runProbe(qemuBinary, timeoutMs);
    cache.set(qemuBinary, result);
  }
  return result;
}

function runProbe(qemuBinary: string, timeoutMs: number): Promise<KvmProbeResult> {
  return new Promise((resolve) => {
    let output = "";
    let settled = false;
    const done = (r: KvmProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const child = spawn(qemuBinary, ["-machine", "none,accel=kvm", "-nodefaults", "-display", "none", "-monitor", "stdio"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      done({ usable: false, reason: `KVM did not answer within ${timeoutMs} ms (/dev/kvm hangs)` });
    }, timeoutMs);
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.stdin.on("error", () => undefined);
    child.on("error", (err) => done({ usable: false, reason: err.message }));
    child.on("close", (code) => {
      const reason = output.split("\n").find((l) => /kvm/i.test(l))?.trim() ?? `exit code ${code}`;
      done(code === 0 ? { usable: true } : { usable: false, reason });
    });
    child.stdin.end("quit\n");
  });
}
