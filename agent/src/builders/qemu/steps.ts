/**
 * The qemu builder's steps (Packer's builder/qemu, 1.6.6), in pipeline order:
 *
 * ```
 *  output-dir ─▶ download ─▶ run-dir ─▶ cd ─▶ create-disk ─▶ http-server ─▶ run-vm ─▶ boot-command ─▶ connect
 *      ─▶ provision ─▶ shutdown ─▶ convert-disk
 * ```
 * Every cleanup is idempotent. On failure or cancel: the VM is stopped (QMP `quit`, then SIGKILL), ports released,
 * the run directory (QMP socket, cd image) and the output directory removed. On success only the output directory
 * (the artifact) stays.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { BuildFailedError, TimeoutError, ensureKilnError, formatGoDuration, type QemuBuilderConfig } from "../../../../core/src/mod.js";
import { SshCommunicator, sshOptionsFromConfig } from "../../communicators/ssh.js";
import type { PipelineState, Step, StepContext } from "../../pipeline/mod.js";
import { cancellationOf, sleep } from "../../util/abort.js";
import { probeKvm } from "../../vm/accel.js";
import { runDirPrefix } from "../../vm/reap.js";
import { parseBootCommand, renderBootCommand } from "../../vm/boot_command.js";
import type { HttpServerState } from "../../vm/http_server.js";
import { reservePort, type PortReservation } from "../../vm/ports.js";
import { QmpClient } from "../../vm/qmp.js";
import { sharedSourceCache } from "../../vm/source_cache.js";

const execFileP = promisify(execFile);

/** The address the guest reaches the host at on QEMU's user network. */
export const USER_NET_HOST_IP = "10.0.2.2";
/** Packer's default key interval (`PACKER_KEY_INTERVAL`). */
const DEFAULT_KEY_INTERVAL_MS = 100;
/** How long QEMU gets to quit over QMP before SIGKILL. */
const QUIT_GRACE_MS = 3000;
/** How long QEMU gets to create its QMP socket. */
const QMP_START_TIMEOUT_MS = 15_000;

export interface QemuState extends HttpServerState {
  outputDir?: string;
  outputCreated?: boolean;
  sourcePath?: string;
  runDir?: string;
  cdPath?: string;
  diskPaths: string[];
  accel?: string;
  hostPort?: PortReservation;
  vncPort?: PortReservation;
  vm?: QemuProcess;
  communicator?: SshCommunicator;
}

/** What the steps need besides the config. */
export interface QemuRunInfo {
  readonly workDir: string;
  readonly buildName: string;
  readonly force: boolean;
  readonly render: (text: string, data: Readonly<Record<string, unknown>>) => string;
}

/** `vm_name`, Packer's default `packer-<build name>`. */
export function vmName(c: QemuBuilderConfig, info: QemuRunInfo): string {
  return (c.vm_name ?? "") !== "" ? (c.vm_name as string) : `packer-${info.buildName}`;
}

/** `output_directory`, Packer's default `output-<build name>`, resolved against the job's working directory. */
export function outputDir(c: QemuBuilderConfig, info: QemuRunInfo): string {
  return path.resolve(info.workDir, (c.output_directory ?? "") !== "" ? (c.output_directory as string) : `output-${info.buildName}`);
}

/** A running QEMU: the child, its QMP connection, and a promise of its exit. */
export class QemuProcess {
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  stderr = "";

  constructor(
    readonly child: ChildProcess,
    public qmp?: QmpClient,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code) => {
        this.exitCode = code;
        resolve(code);
      });
    });
    child.stderr?.on("data", (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Quits QEMU (QMP `quit`, then SIGKILL after a grace period) and waits for the process to be gone. Idempotent. */
  async stop(): Promise<void> {
    if (this.running) {
      try {
        await Promise.race([this.qmp?.execute("quit"), sleepPlain(QUIT_GRACE_MS)]);
      } catch {
        // QMP gone already: fall through to the kill.
      }
      const gone = await Promise.race([this.exited.then(() => true), sleepPlain(QUIT_GRACE_MS).then(() => false)]);
      if (!gone) this.child.kill("SIGKILL");
      await this.exited;
    }
    this.qmp?.close();
  }
}

function sleepPlain(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Packer's StepDownload, through the agent's shared source cache. Nothing to clean up: the cache outlives jobs. */
export function downloadStep(c: QemuBuilderConfig, info: QemuRunInfo): Step<QemuState> {
  return {
    name: "download",
    async run(ctx, state) {
      ctx.log("say", c.disk_image === true ? "Retrieving disk image" : "Retrieving ISO");
      const urls = (c.iso_urls ?? []).length > 0 ? [...(c.iso_urls ?? [])] : [c.iso_url ?? ""];
      const result = await sharedSourceCache().fetch({
        urls,
        checksum: c.iso_checksum ?? "none",
        workDir: info.workDir,
        signal: ctx.signal,
        log: (text) => ctx.log("message", text),
        extension: c.disk_image === true ? "img" : "iso",
      });
      state.sourcePath = result.path;
      return "continue";
    },
  };
}

/** A private temp directory for the QMP socket and the cd image. */
export function runDirStep(): Step<QemuState> {
  return {
    name: "run-dir",
    async run(_ctx, state) {
      // Named after this process, so an agent restarted after a crash can reap what this one leaves (vm/reap.ts).
      state.runDir = await mkdtemp(runDirPrefix());
      return "continue";
    },
    async cleanup(state) {
      if (state.runDir !== undefined) await rm(state.runDir, { recursive: true, force: true });
      state.runDir = undefined;
    },
  };
}

/** Packer's StepCreateCD: `cd_files` in an ISO (label `cd_label`) attached as a second CD-ROM. */
export function cdStep(c: QemuBuilderConfig, info: QemuRunInfo): Step<QemuState> {
  return {
    name: "cd",
    async run(ctx, state) {
      const files = c.cd_files ?? [];
      if (files.length === 0 || state.runDir === undefined) return "continue";
      ctx.log("say", "Creating CD disk...");
      const out = path.join(state.runDir, "cd.iso");
      const label = (c.cd_label ?? "") !== "" ? (c.cd_label as string) : "packer";
      const sources = files.map((f) => path.resolve(info.workDir, f));
      for (const s of sources) {
        if (!existsSync(s)) throw new BuildFailedError(`cd_files: ${s} does not exist`);
      }
      await run(ctx, "xorriso", ["-as", "mkisofs", "-quiet", "-J", "-R", "-V", label, "-o", out, ...sources], "xorriso (apt-get install xorriso)");
      state.cdPath = out;
      return "continue";
    },
  };
}

/** Packer's StepCopyDisk / StepCreateDisk / StepResizeDisk: the build disk(s) in the output directory. */
export function createDiskStep(c: QemuBuilderConfig, info: QemuRunInfo): Step<QemuState> {
  return {
    name: "create-disk",
    async run(ctx, state) {
      const dir = state.outputDir as string;
      const name = vmName(c, info);
      const disk = path.join(dir, name);
      const size = diskSize(c.disk_size);
      if (c.disk_image === true) {
        const source = state.sourcePath as string;
        if (c.use_backing_file === true) {
          ctx.log("say", "Creating a disk backed by the source image...");
          const info = JSON.parse((await run(ctx, "qemu-img", ["info", "--output=json", source])).stdout) as { format?: string };
          await run(ctx, "qemu-img", ["create", "-f", "qcow2", "-b", source, "-F", info.format ?? "raw", disk]);
        } else {
          ctx.log("say", "Copying hard drive...");
          await run(ctx, "qemu-img", ["convert", "-O", c.format, source, disk]);
        }
        if ((c.disk_size ?? "") !== "") {
          ctx.log("say", `Resizing hard drive to ${size}...`);
          await run(ctx, "qemu-img", ["resize", "-f", c.format, disk, size]);
        }
      } else {
        ctx.log("say", "Creating hard drive...");
        await run(ctx, "qemu-img", ["create", "-f", c.format, disk, size]);
      }
      state.diskPaths = [disk];
      for (const [i, extra] of (c.disk_additional_size ?? []).entries()) {
        const p = path.join(dir, `${name}-${i + 1}`);
        await run(ctx, "qemu-img", ["create", "-f", c.format, p, diskSize(extra)]);
        state.diskPaths.push(p);
      }
      return "continue";
    },
  };
}

/** `disk_size` as qemu-img takes it: a bare number is MiB, as in Packer. */
function diskSize(value: string | undefined): string {
  const v = value ?? "";
  if (v === "") return "40960M";
  return /^\d+$/.test(v) ? `${v}M` : v.toUpperCase();
}

/** Packer's StepConfigureVNC + StepForwardSSH + StepRun: reserves ports, builds the command line, starts QEMU. */
export function runVmStep(c: QemuBuilderConfig, info: QemuRunInfo): Step<QemuState> {
  return {
    name: "run-vm",
    async run(ctx, state) {
      state.accel = await chooseAccelerator(c, ctx);
      let lastError: unknown;
      // A port can be taken by another process between our check and QEMU's bind: retry with fresh ports.
      for (let attempt = 1; attempt <= 3; attempt++) {
        state.hostPort?.release();
        state.vncPort?.release();
        if (c.communicator === "ssh") {
          state.hostPort = await reservePort(c.ssh_host_port_min ?? c.host_port_min, c.ssh_host_port_max ?? c.host_port_max, "127.0.0.1", "host_port");
          ctx.log("say", `Found port for communicator (SSH, WinRM, etc): ${state.hostPort.port}.`);
        }
        state.vncPort = await reservePort(c.vnc_port_min, c.vnc_port_max, c.vnc_bind_address, "vnc_port");
        ctx.log("say", `Found available VNC port: ${state.vncPort.port} on IP: ${c.vnc_bind_address}`);
        const args = qemuArgs(c, info, state);
        ctx.log("message", `Executing ${c.qemu_binary}: ${JSON.stringify(args)}`);
        ctx.log("say", c.disk_image === true ? "Starting VM, booting disk image" : "Starting VM, booting from CD-ROM");
        try {
          state.vm = await startQemu(c.qemu_binary, args, path.join(state.runDir as string, "qmp.sock"), ctx.signal);
          ctx.log("message", `The VM's screen is on VNC: vnc://${c.vnc_bind_address}:${state.vncPort.port}`);
          return "continue";
        } catch (err) {
          lastError = err;
          if (!/address already in use|Failed to find an available port|Could not set up host forwarding/i.test(ensureKilnError(err).message)) throw err;
          ctx.log("message", `QEMU could not bind its ports, retrying: ${ensureKilnError(err).message}`);
        }
      }
      throw lastError;
    },
    async cleanup(state, _outcome, ctx) {
      if (state.vm?.running === true) ctx.log("say", "Stopping the virtual machine...");
      await state.vm?.stop();
      state.vm = undefined;
      state.hostPort?.release();
      state.vncPort?.release();
    },
  };
}

/** Packer's accelerator default, made safe: KVM only when a child QEMU proves it works; else TCG with a warning. */
async function chooseAccelerator(c: QemuBuilderConfig, ctx: StepContext): Promise<string> {
  const asked = c.accelerator ?? "";
  if (asked !== "" && asked !== "kvm") return asked;
  const probe = await probeKvm(c.qemu_binary);
  if (probe.usable) return "kvm";
  ctx.log("say", `Warning: KVM is not usable on this agent (${probe.reason ?? "unknown"}): falling back to the tcg accelerator (slow)`);
  return "tcg";
}

/**
 * The QEMU command line: Packer's defaults, then `qemuargs` merged over them the way Packer does — a user option
 * replaces every default with the same flag, other user options are appended — after rendering qemuargs with
 * `{{ .HTTPIP }} {{ .HTTPPort }} {{ .HTTPDir }} {{ .OutputDir }} {{ .Name }} {{ .SSHHostPort }}`.
 */
export function qemuArgs(c: QemuBuilderConfig, info: QemuRunInfo, state: QemuState): string[] {
  const name = vmName(c, info);
  const defaults: [string, string[]][] = [];
  const add = (flag: string, ...values: string[]): void => {
    defaults.push([flag, values]);
  };
  add("-name", name);
  add("-machine", `type=${c.machine_type}${state.accel !== "none" && state.accel !== undefined ? `,accel=${state.accel}` : ""}`);
  const fwd = state.hostPort !== undefined ? `,hostfwd=tcp:127.0.0.1:${state.hostPort.port}-:${c.ssh_port}` : "";
  add("-netdev", `user,id=user.0${fwd}`);
  add("-device", `${c.net_device},netdev=user.0`);
  const drives: string[] = [];
  for (const [i, disk] of state.diskPaths.entries()) {
    const common = `file=${disk},cache=${c.disk_cache},discard=${c.disk_discard},format=${c.format},detect-zeroes=${c.disk_detect_zeroes}`;
    if (c.disk_interface === "virtio-scsi") {
      if (i === 0) add("-device", "virtio-scsi-pci,id=scsi0");
      add("-device", `scsi-hd,bus=scsi0.0,drive=drive${i}`);
      drives.push(`if=none,id=drive${i},${common}`);
    } else {
      drives.push(`${common},if=${c.disk_interface}`);
    }
  }
  for (const d of drives) add("-drive", d);
  if (c.disk_image !== true && state.sourcePath !== undefined) add("-cdrom", state.sourcePath);
  if (state.cdPath !== undefined) add("-drive", `file=${state.cdPath},media=cdrom,readonly=on`);
  add("-boot", c.disk_image === true ? "c" : "once=d");
  add("-m", `${c.memory}M`);
  if (c.cpus > 1) add("-smp", `cpus=${c.cpus},sockets=${c.cpus}`);
  if ((c.firmware ?? "") !== "") add("-bios", path.resolve(info.workDir, c.firmware as string));
  if (state.vncPort !== undefined) add("-vnc", `${c.vnc_bind_address}:${state.vncPort.port - 5900}`);
  if (c.use_default_display !== true) add("-display", (c.display ?? "") !== "" ? (c.display as string) : "none");
  add("-qmp", `unix:${path.join(state.runDir as string, "qmp.sock")},server=on,wait=off`);

  const data = {
    HTTPIP: state.httpServer !== undefined ? USER_NET_HOST_IP : "",
    HTTPPort: state.httpServer !== undefined ? String(state.httpServer.port) : "",
    HTTPDir: (c.http_directory ?? "") !== "" ? path.resolve(info.workDir, c.http_directory as string) : "",
    OutputDir: state.outputDir ?? "",
    Name: name,
    SSHHostPort: state.hostPort !== undefined ? String(state.hostPort.port) : "",
  };
  const user = (c.qemuargs ?? []).map((arg) => arg.map((a) => info.render(a, data)));
  const userFlags = new Set(user.map((a) => a[0]));
  const merged = [...defaults.filter(([flag]) => !userFlags.has(flag)), ...user.map((a): [string, string[]] => [a[0] as string, a.slice(1)])];
  // Kiln needs its QMP socket whatever the user passes.
  if (userFlags.has("-qmp")) merged.push(["-qmp", [`unix:${path.join(state.runDir as string, "qmp.sock")},server=on,wait=off`]]);
  return merged.flatMap(([flag, values]) => [flag, ...values]);
}

async function startQemu(binary: string, args: string[], qmpSocket: string, signal: AbortSignal): Promise<QemuProcess> {
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  const vm = new QemuProcess(child);
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once("spawn", () => resolve(undefined));
    child.once("error", resolve);
  });
  if (spawned !== undefined) {
    const missing = (spawned as NodeJS.ErrnoException).code === "ENOENT";
    throw new BuildFailedError(
      missing ? `qemu_binary "${binary}" was not found on this agent: install qemu-system-x86 (apt-get install qemu-system-x86) or fix qemu_binary` : `Error launching VM: ${spawned.message}`,
      { cause: spawned },
    );
  }
  const deadline = Date.now() + QMP_START_TIMEOUT_MS;
  try {
    for (;;) {
      if (!vm.running) throw new BuildFailedError(`Error launching VM: ${binary} exited: ${vm.stderr.trim()}`);
      if (signal.aborted) throw cancellationOf(signal);
      if (existsSync(qmpSocket)) {
        try {
          vm.qmp = await QmpClient.connect(qmpSocket);
          return vm;
        } catch {
          // Not listening yet.
        }
      }
      if (Date.now() > deadline) throw new BuildFailedError(`Error launching VM: QEMU did not open its QMP socket within ${QMP_START_TIMEOUT_MS / 1000}s`);
      await sleepPlain(50);
    }
  } catch (err) {
    await vm.stop();
    throw err;
  }
}

/** Packer's stepTypeBootCommand, over QMP: waits `boot_wait`, then types the rendered `boot_command`. */
export function bootCommandStep(c: QemuBuilderConfig, info: QemuRunInfo): Step<QemuState> {
  return {
    name: "boot-command",
    async run(ctx, state) {
      const command = c.boot_command ?? [];
      if (command.length === 0) return "continue";
      const vm = state.vm as QemuProcess;
      const signal = whileRunning(ctx.signal, vm);
      const data = {
        HTTPIP: state.httpServer !== undefined ? USER_NET_HOST_IP : "",
        HTTPPort: state.httpServer !== undefined ? String(state.httpServer.port) : "",
        Name: vmName(c, info),
      };
      const actions = parseBootCommand(renderBootCommand(command, data, info.render));
      const bootWait = Math.max(0, c.boot_wait ?? 10_000);
      try {
        if (bootWait > 0) {
          ctx.log("say", `Waiting ${formatGoDuration(bootWait)} for boot...`);
          await sleep(bootWait, signal);
        }
        ctx.log("say", "Typing the boot command over QMP...");
        const interval = c.boot_key_interval ?? keyIntervalFromEnv();
        await (vm.qmp as QmpClient).type(actions, interval, signal);
      } catch (err) {
        if (!vm.running && !ctx.signal.aborted) throw new BuildFailedError(`the VM exited while the boot command was typed: ${vm.stderr.trim()}`);
        throw err;
      }
      return "continue";
    },
  };
}

function keyIntervalFromEnv(): number {
  const env = process.env.PACKER_KEY_INTERVAL;
  const m = env !== undefined ? /^(\d+)ms$/.exec(env) : null;
  return m?.[1] !== undefined ? Number(m[1]) : DEFAULT_KEY_INTERVAL_MS;
}

/** The job's signal, also aborted when the VM exits (so waits on a dead VM end at once). */
function whileRunning(signal: AbortSignal, vm: QemuProcess): AbortSignal {
  const exited = new AbortController();
  void vm.exited.then(() => exited.abort(new BuildFailedError("the VM exited")));
  return AbortSignal.any([signal, exited.signal]);
}

/** Packer's StepConnect (SSH) through the forwarded host port. */
export function connectStep(c: QemuBuilderConfig, info: QemuRunInfo): Step<QemuState> {
  return {
    name: "connect",
    async run(ctx, state) {
      if (c.communicator !== "ssh") return "continue";
      const vm = state.vm as QemuProcess;
      const host = (c.ssh_host ?? "") !== "" ? (c.ssh_host as string) : "127.0.0.1";
      const port = (c.ssh_host ?? "") !== "" ? c.ssh_port : (state.hostPort as PortReservation).port;
      ctx.log("say", `Using ssh communicator to connect: ${host}`);
      ctx.log("say", "Waiting for SSH to become available...");
      const seen = new Set<string>();
      try {
        state.communicator = await SshCommunicator.connect(
          // Every communicator option (host-key pinning, bastion, proxy, ...), with the forwarded port when kiln
          // chose the address.
          { ...sshOptionsFromConfig(c, host), ssh_port: port },
          {
            signal: whileRunning(ctx.signal, vm),
            workDir: info.workDir,
            log: (text) => {
              const reason = text.replace(/^SSH attempt \d+ /, "SSH attempt ");
              if (!text.startsWith("Connected") && !seen.has(reason)) {
                seen.add(reason);
                ctx.log("message", text);
              }
            },
          },
        );
      } catch (err) {
        if (!vm.running && !ctx.signal.aborted) throw new BuildFailedError(`the VM exited before SSH was available: ${vm.stderr.trim()}`, { cause: err });
        throw err;
      }
      ctx.log("say", "Connected to SSH!");
      return "continue";
    },
    async cleanup(state) {
      state.communicator?.close();
      state.communicator = undefined;
    },
  };
}

/** Packer's StepShutdown: `shutdown_command` and a wait of `shutdown_timeout` for QEMU to exit; else a hard stop. */
export function shutdownStep(c: QemuBuilderConfig): Step<QemuState> {
  return {
    name: "shutdown",
    async run(ctx, state) {
      const vm = state.vm as QemuProcess;
      const command = c.shutdown_command ?? "";
      if (command === "" || state.communicator === undefined) {
        ctx.log("say", "Halting the virtual machine...");
        await vm.stop();
        return "continue";
      }
      ctx.log("say", "Gracefully halting virtual machine...");
      // The connection usually drops as the guest goes down: the command's own result does not matter.
      void state.communicator.start(command, { signal: ctx.signal }).catch(() => undefined);
      const timeout = sleep(c.shutdown_timeout, ctx.signal).then(() => "timeout" as const);
      timeout.catch(() => undefined);
      const result = await Promise.race([vm.exited.then(() => "exited" as const), timeout]);
      if (result === "timeout") {
        throw new TimeoutError(`Timeout while waiting for machine to shutdown (shutdown_timeout ${formatGoDuration(c.shutdown_timeout)})`);
      }
      ctx.log("message", "VM shut down.");
      state.communicator.close();
      state.communicator = undefined;
      await vm.stop();
      return "continue";
    },
  };
}

/** Packer's StepConvertDisk: qcow2 images are compacted (and compressed with `disk_compression`) unless skipped. */
export function convertDiskStep(c: QemuBuilderConfig): Step<QemuState> {
  return {
    name: "convert-disk",
    async run(ctx, state) {
      if (c.format !== "qcow2" || c.skip_compaction === true || c.use_backing_file === true) return "continue";
      ctx.log("say", "Converting hard drive...");
      for (const disk of state.diskPaths) {
        const tmp = `${disk}.convert`;
        try {
          await run(ctx, "qemu-img", ["convert", ...(c.disk_compression === true ? ["-c"] : []), "-O", "qcow2", disk, tmp]);
          await rename(tmp, disk);
        } finally {
          await rm(tmp, { force: true });
        }
      }
      return "continue";
    },
  };
}

/** Runs a host tool with the job's signal. @throws BuildFailedError with its stderr, naming the package when missing */
async function run(ctx: StepContext, file: string, args: string[], pkg = "qemu-utils (apt-get install qemu-utils)"): Promise<{ stdout: string }> {
  try {
    const { stdout } = await execFileP(file, args, { signal: ctx.signal, maxBuffer: 16 * 1024 * 1024 });
    return { stdout };
  } catch (err) {
    if (ctx.signal.aborted) throw cancellationOf(ctx.signal);
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") throw new BuildFailedError(`${file} was not found on this agent: install ${pkg}`, { cause: err });
    throw new BuildFailedError(`${file} ${args[0] ?? ""} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** Every file under the output directory (the artifact's `Files()`), sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(p)));
    else if ((await stat(p)).isFile()) out.push(p);
  }
  return out.sort();
}

export type { PipelineState };
