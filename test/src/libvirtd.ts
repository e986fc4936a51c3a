/**
 * A libvirtd for tests. When the host's system daemon answers on its socket, tests use it (and leave it running);
 * otherwise a private libvirtd is started as root with its own config and socket directory in a temp dir, and
 * `stop()` terminates it. (A second root libvirtd cannot run beside a system one: the QEMU driver's state
 * directories are fixed, so "private" means private socket and lifetime.) Tests get transient storage pools in
 * temp dirs that `stop()` destroys.
 *
 * Needs the one-time host setup of deploy/install.sh (the `libvirt-qemu` user and group, /etc/libvirt/qemu.conf with
 * user/group root). A missing component fails with the Debian package to install.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const LIBVIRTD = "/usr/sbin/libvirtd";
export const SYSTEM_SOCKET = "/var/run/libvirt/libvirt-sock";
const QEMU_DRIVER = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so";

/** Each binary or file the libvirt tests need, and the Debian package that provides it. */
const REQUIRED: readonly (readonly [string, string])[] = [
  [LIBVIRTD, "libvirt-daemon"],
  [QEMU_DRIVER, "libvirt-daemon-driver-qemu"],
  ["/usr/bin/virsh", "libvirt-clients"],
  ["/usr/bin/qemu-system-x86_64", "qemu-system-x86"],
  ["/usr/bin/qemu-img", "qemu-utils"],
];

/** Throws naming the Debian packages to install (or the host setup to run) when something is missing. */
export function checkLibvirtPrerequisites(): void {
  const missing = REQUIRED.filter(([file]) => !existsSync(file)).map(([, pkg]) => pkg);
  if (missing.length > 0) throw new Error(`libvirt tests need these Debian packages: apt-get install ${missing.join(" ")} (see deploy/install.sh)`);
  try {
    if (!bindingPresent()) throw new Error("missing");
  } catch {
    throw new Error("the @unraid/libvirt binding is not installed: apt-get install libvirt-dev, then npm install (see deploy/install.sh)");
  }
  const conf = existsSync("/etc/libvirt/qemu.conf") ? readFileSync("/etc/libvirt/qemu.conf", "utf8") : "";
  if (!/^\s*user\s*=\s*"root"/m.test(conf)) {
    throw new Error("/etc/libvirt/qemu.conf does not run QEMU as root: run deploy/install.sh (it sets up libvirt for kiln's tests)");
  }
}

/** Whether node_modules holds the binding (its ESM-only exports defeat require.resolve). */
function bindingPresent(): boolean {
  const dirs = createRequire(import.meta.url).resolve.paths("@unraid/libvirt") ?? [];
  return dirs.some((d) => existsSync(path.join(d, "@unraid", "libvirt", "package.json")));
}

async function virsh(uri: string, args: readonly string[], timeoutMs = 15_000): Promise<string> {
  const { stdout } = await run("virsh", ["-q", "-c", uri, ...args], { timeout: timeoutMs });
  return stdout;
}

async function answers(uri: string): Promise<boolean> {
  try {
    await virsh(uri, ["version"], 5_000);
    return true;
  } catch {
    return false;
  }
}

export class Libvirtd implements AsyncDisposable {
  private readonly pools: string[] = [];

  private constructor(
    /** The URI to connect to this daemon with (`qemu:///system`, with `?socket=` for a private one). */
    readonly uri: string,
    /** Whether this harness started the daemon (and stops it). */
    readonly private_: boolean,
    private readonly dir: string,
    private readonly proc: ChildProcess | undefined,
  ) {}

  /** Uses the running system daemon, or starts a private one. */
  static async start(): Promise<Libvirtd> {
    checkLibvirtPrerequisites();
    const dir = await mkdtemp(path.join(tmpdir(), "kiln-libvirtd-"));
    if (existsSync(SYSTEM_SOCKET) && (await answers("qemu:///system"))) return new Libvirtd("qemu:///system", false, dir, undefined);
    for (const d of ["/var/run/libvirt", "/var/log/libvirt", "/var/lib/libvirt/qemu"]) await mkdir(d, { recursive: true });
    const conf = path.join(dir, "libvirtd.conf");
    await writeFile(
      conf,
      [
        `unix_sock_dir = "${dir}"`,
        `unix_sock_rw_perms = "0700"`,
        `auth_unix_rw = "none"`,
        `auth_unix_ro = "none"`,
        `log_outputs = "3:file:${path.join(dir, "libvirtd.log")}"`,
        "",
      ].join("\n"),
    );
    const proc = spawn(LIBVIRTD, ["--config", conf, "--pid-file", path.join(dir, "libvirtd.pid")], { stdio: "ignore" });
    let exited: string | undefined;
    proc.on("exit", (code, sig) => (exited = `libvirtd exited (${code ?? sig ?? "?"})`));
    const uri = `qemu:///system?socket=${path.join(dir, "libvirt-sock")}`;
    const daemon = new Libvirtd(uri, true, dir, proc);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited !== undefined) {
        await rm(dir, { recursive: true, force: true });
        throw new Error(`${exited}: is another libvirtd running without its socket at ${SYSTEM_SOCKET}?`);
      }
      if (existsSync(path.join(dir, "libvirt-sock")) && (await answers(uri))) return daemon;
      if (Date.now() > deadline) {
        await daemon.stop();
        throw new Error("libvirtd did not answer within 30 s");
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A transient `dir` storage pool in a fresh temp dir; destroyed (with its volumes) by `stop()`. */
  async createPool(name: string): Promise<{ name: string; dir: string }> {
    const dir = path.join(this.dir, `pool-${name}`);
    await mkdir(dir, { recursive: true });
    await virsh(this.uri, ["pool-create-as", name, "dir", "--target", dir]);
    this.pools.push(name);
    return { name, dir };
  }

  /** Runs virsh against this daemon (for the tests' own checks). */
  virsh(args: readonly string[]): Promise<string> {
    return virsh(this.uri, args);
  }

  /**
   * Removes the `kiln-` domains a failed test may have left on a private daemon (it keeps their definitions in
   * /etc/libvirt/qemu and their QEMU processes outlive it), destroys the test pools, stops a private daemon, removes
   * the temp dir. Idempotent.
   */
  async stop(): Promise<void> {
    // Only on a private daemon: the system one may run real kiln builds.
    const names = this.private_ ? await virsh(this.uri, ["list", "--all", "--name"]).catch(() => "") : "";
    for (const name of names.split("\n").map((s) => s.trim()).filter((s) => s.startsWith("kiln-"))) {
      await virsh(this.uri, ["destroy", name]).catch(() => undefined);
      await virsh(this.uri, ["undefine", name]).catch(() => undefined);
    }
    for (const pool of this.pools.splice(0)) {
      await virsh(this.uri, ["pool-destroy", pool]).catch(() => undefined);
    }
    const proc = this.proc;
    if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
