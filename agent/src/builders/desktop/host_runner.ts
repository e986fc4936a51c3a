/**
 * How the desktop-hypervisor builders (VirtualBox, VMware Workstation) touch the host: every product command line
 * and every timed wait goes through one {@link HostRunner}. The agent uses {@link execHostRunner} (the real binaries,
 * `execFile` with the job's AbortSignal, real sleeps); tests run a builder inside {@link withHostRunner} with a
 * runner that replays recorded transcripts (./transcript.ts), so a build's exact command sequence, including its
 * waits, is what the test asserts.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { execFile } from "node:child_process";
import { BuildFailedError } from "../../../../core/src/mod.js";
import { cancellationOf, sleep } from "../../util/abort.js";

/** What a command printed and how it exited. */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** The host side of a desktop builder: product commands and waits. */
export interface HostRunner {
  /**
   * Runs `file args...` to completion. A non-zero exit is a result, not an error (drivers decide); a binary that is
   * missing is a BuildFailedError naming `install`.
   */
  run(file: string, args: readonly string[], options: { signal: AbortSignal; install: string }): Promise<CommandResult>;
  /** Waits `ms` (boot_wait, `<wait>` in boot_command, key-group intervals, polls), honouring the signal. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Paces keystrokes (the interval between key groups or VNC key events): timing only, no meaning of its own. */
  pace(ms: number, signal: AbortSignal): Promise<void>;
}

/** The real host: execFile and timers. */
export const execHostRunner: HostRunner = {
  run(file, args, { signal, install }) {
    return new Promise((resolve, reject) => {
      execFile(file, [...args], { signal, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
        if (err === null) return resolve({ stdout, stderr, exitCode: 0 });
        if (signal.aborted) return reject(cancellationOf(signal));
        const e = err as NodeJS.ErrnoException & { code?: unknown };
        if (e.code === "ENOENT") return reject(new BuildFailedError(`${file} was not found on this agent: ${install}`, { cause: err }));
        resolve({ stdout, stderr, exitCode: typeof e.code === "number" ? e.code : 1 });
      });
    });
  },
  sleep: (ms, signal) => sleep(ms, signal),
  pace: (ms, signal) => sleep(ms, signal),
};

const scope = new AsyncLocalStorage<HostRunner>();

/** Runs `fn` with `runner` as the host of every desktop builder started inside it (tests). */
export function withHostRunner<T>(runner: HostRunner, fn: () => Promise<T>): Promise<T> {
  return scope.run(runner, fn);
}

/** The host runner of the current job: the test's transcript inside {@link withHostRunner}, else the real host. */
export function currentHostRunner(): HostRunner {
  return scope.getStore() ?? execHostRunner;
}

/** Quotes one argument the way transcripts and logs show it (POSIX shell single quotes when needed). */
export function quoteArg(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./{}-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A command line as one string, arguments quoted when needed. */
export function formatCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map(quoteArg).join(" ");
}
