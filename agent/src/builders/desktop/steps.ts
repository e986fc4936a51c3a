/**
 * Steps the desktop-hypervisor builders share (Packer's commonsteps as the VirtualBox and VMware plugins use them):
 * output directory, ISO download through the agent's source cache, floppy image, SSH connect, shutdown wait, and
 * the upload of a local file to the guest. The product-specific steps are in ../virtualbox and ../vmware.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { BuildFailedError, TimeoutError, formatGoDuration, type CommunicatorConfig } from "../../../../core/src/mod.js";
import { SshCommunicator, sshOptionsFromConfig } from "../../communicators/ssh.js";
import type { Step, StepContext } from "../../pipeline/mod.js";
import { cancellationOf } from "../../util/abort.js";
import type { HttpServerState } from "../../vm/http_server.js";
import { sharedSourceCache } from "../../vm/source_cache.js";
import { currentHostRunner } from "./host_runner.js";
import { type OutputDirState } from "../../steps/output_dir.js";

const execFileP = promisify(execFile);

/** What every desktop builder's state carries. */
export interface DesktopState extends HttpServerState, OutputDirState {
  sourcePath?: string;
  /** A private temp dir for build-time files (the floppy image). */
  runDir?: string;
  floppyPath?: string;
  communicator?: SshCommunicator;
}

/** Packer's StepDownload through the agent's shared source cache (a local path is used in place, verified). */
export function downloadStep<S extends DesktopState>(what: string, urls: readonly string[], checksum: string, workDir: string, extension: string): Step<S> {
  return {
    name: "download",
    async run(ctx, state) {
      ctx.log("say", `Retrieving ${what}`);
      const result = await sharedSourceCache().fetch({ urls, checksum, workDir, signal: ctx.signal, log: (t) => ctx.log("message", t), extension });
      state.sourcePath = result.path;
      return "continue";
    },
  };
}

/** A private temp directory for build-time files; removed whatever the outcome. */
export function runDirStep<S extends DesktopState>(): Step<S> {
  return {
    name: "run-dir",
    async run(_ctx, state) {
      state.runDir = await mkdtemp(path.join(tmpdir(), "kiln-desktop-"));
      return "continue";
    },
    async cleanup(state) {
      if (state.runDir !== undefined) await rm(state.runDir, { recursive: true, force: true });
      state.runDir = undefined;
    },
  };
}

/**
 * Packer's StepCreateFloppy: a 1.44 MB FAT12 image (label `floppy_label`, default "packer") holding `floppy_files`
 * at its root (globs are not expanded: each entry is a file) and each of `floppy_dirs` as a directory tree, built
 * with mtools.
 */
export function floppyStep<S extends DesktopState>(files: readonly string[], label: string | undefined, workDir: string, dirs: readonly string[] = []): Step<S> {
  return {
    name: "floppy",
    async run(ctx, state) {
      if (files.length === 0 && dirs.length === 0) return "continue";
      ctx.log("say", "Creating floppy disk...");
      const image = path.join(state.runDir as string, "floppy.img");
      const sources = files.map((f) => path.resolve(workDir, f));
      for (const s of sources) if (!existsSync(s)) throw new BuildFailedError(`floppy_files: ${s} does not exist`);
      const tool = async (file: string, args: string[]): Promise<void> => {
        try {
          await execFileP(file, args, { signal: ctx.signal });
        } catch (err) {
          if (ctx.signal.aborted) throw cancellationOf(ctx.signal);
          const e = err as NodeJS.ErrnoException & { stderr?: string };
          if (e.code === "ENOENT") throw new BuildFailedError(`${file} was not found on this agent: install mtools (apt-get install mtools)`, { cause: err });
          throw new BuildFailedError(`${file} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
        }
      };
      await tool("mformat", ["-C", "-f", "1440", "-v", (label ?? "") !== "" ? (label as string) : "packer", "-i", image, "::"]);
      for (const s of sources) {
        ctx.log("message", `Copying files flatly from floppy_files`);
        await tool("mcopy", ["-i", image, s, `::/${path.basename(s)}`]);
      }
      for (const d of dirs.map((x) => path.resolve(workDir, x))) {
        if (!existsSync(d)) throw new BuildFailedError(`floppy_dirs: ${d} does not exist`);
        ctx.log("message", `Adding directory: ${d}`);
        await tool("mcopy", ["-s", "-i", image, d, "::/"]);
      }
      state.floppyPath = image;
      return "continue";
    },
  };
}

/** Packer's StepConnect for SSH: host and port come from the builder (NAT forward, guest IP). */
export function connectStep<S extends DesktopState>(
  c: CommunicatorConfig,
  address: (state: S, ctx: StepContext) => Promise<{ host: string; port: number }>,
  workDir: string,
): Step<S> {
  return {
    name: "connect",
    async run(ctx, state) {
      if (c.communicator !== "ssh") return "continue";
      const { host, port } = await address(state, ctx);
      ctx.log("say", `Using ssh communicator to connect: ${host}`);
      ctx.log("say", "Waiting for SSH to become available...");
      const seen = new Set<string>();
      state.communicator = await SshCommunicator.connect(
        { ...sshOptionsFromConfig(c, host), ssh_port: port },
        {
          signal: ctx.signal,
          workDir,
          log: (text) => {
            const reason = text.replace(/^SSH attempt \d+ /, "SSH attempt ");
            if (!text.startsWith("Connected") && !seen.has(reason)) {
              seen.add(reason);
              ctx.log("message", text);
            }
          },
        },
      );
      ctx.log("say", "Connected to SSH!");
      return "continue";
    },
    async cleanup(state) {
      state.communicator?.close();
      state.communicator = undefined;
    },
  };
}

/**
 * Packer's StepShutdown: runs `shutdown_command` over the communicator and polls `isRunning` every `pollMs`
 * (VirtualBox 500ms, VMware 150ms) until the VM is off, or `shutdown_timeout` passes; without a command, `halt()`
 * stops the VM at once.
 */
export function shutdownStep<S extends DesktopState>(options: {
  readonly command: string | undefined;
  readonly timeoutMs: number;
  readonly postDelayMs?: number;
  readonly pollMs: number;
  /** What Packer says when it halts without a command. */
  readonly haltMessage: string;
  readonly isRunning: (ctx: StepContext, state: S) => Promise<boolean>;
  readonly halt: (ctx: StepContext, state: S) => Promise<void>;
}): Step<S> {
  return {
    name: "shutdown",
    async run(ctx, state) {
      const host = currentHostRunner();
      const command = options.command ?? "";
      if (command === "" || state.communicator === undefined) {
        ctx.log("say", options.haltMessage);
        await options.halt(ctx, state);
      } else {
        ctx.log("say", "Gracefully halting virtual machine...");
        // The connection usually drops as the guest goes down: the command's own result does not matter.
        await state.communicator.start(command, { signal: ctx.signal }).catch(() => undefined);
        let waited = 0;
        while (await options.isRunning(ctx, state)) {
          if (waited >= options.timeoutMs) {
            throw new TimeoutError(`Timeout while waiting for machine to shut down. (shutdown_timeout ${formatGoDuration(options.timeoutMs)})`);
          }
          await host.sleep(options.pollMs, ctx.signal);
          waited += options.pollMs;
        }
        state.communicator.close();
        state.communicator = undefined;
      }
      if ((options.postDelayMs ?? 0) > 0) {
        ctx.log("say", `Waiting ${formatGoDuration(options.postDelayMs ?? 0)} after shutdown...`);
        await host.sleep(options.postDelayMs ?? 0, ctx.signal);
      }
      ctx.log("say", "VM shut down.");
      return "continue";
    },
  };
}

/** Ensures a directory exists (helper for artifact paths). */
export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/** The files a desktop builder's config names, checked on the agent once the config is compiled (Packer's wording). */
export interface DesktopHostFiles {
  readonly floppy_files?: readonly string[];
  readonly floppy_dirs?: readonly string[];
  readonly http_directory?: string;
  readonly communicator?: string;
  readonly ssh_private_key_file?: string;
}

/** Every missing file the build would read, at once. */
export function hostProblems(c: DesktopHostFiles, workDir: string): string[] {
  const problems: string[] = [];
  for (const f of c.floppy_files ?? []) if (!existsSync(path.resolve(workDir, f))) problems.push(`Bad Floppy disk file '${f}': stat ${f}: no such file or directory`);
  for (const d of c.floppy_dirs ?? []) if (!existsSync(path.resolve(workDir, d))) problems.push(`Bad Floppy disk directory '${d}': stat ${d}: no such file or directory`);
  const dir = c.http_directory ?? "";
  if (dir !== "" && !existsSync(path.resolve(workDir, dir))) problems.push(`http_directory ${dir} does not exist`);
  const key = c.ssh_private_key_file ?? "";
  if (c.communicator === "ssh" && key !== "" && !existsSync(path.resolve(workDir, key))) problems.push(`ssh_private_key_file is invalid: stat ${key}: no such file or directory`);
  return problems;
}
