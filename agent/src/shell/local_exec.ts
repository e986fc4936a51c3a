/**
 * Runs a local command for shell-local: argv as given (no extra shell), output streamed line by line, killed with its
 * whole process group when the signal fires.
 */
import { spawn } from "node:child_process";

/** How long a process group gets between SIGTERM and SIGKILL after an abort. */
export const KILL_GRACE_MS = 3_000;
/** How long to wait for the output pipes after the process exited (a background child may hold them open). */
const DRAIN_AFTER_EXIT_MS = 5_000;
/** How often a running command keeps the job's lease alive. */
const HEARTBEAT_INTERVAL_MS = 10_000;

export interface LocalCommandOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly signal: AbortSignal;
  /** Each output line, trimmed like Packer's `cleanOutputLine` (trailing space, text before a `\r`). */
  onLine(stream: "stdout" | "stderr", line: string): void;
  heartbeat?(): void;
}

/** The command could not be started, or was killed because the signal fired. */
export class LocalCommandError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LocalCommandError";
  }
}

/** Packer's `RemoteCmd.cleanOutputLine`. */
export function cleanOutputLine(line: string): string {
  const trimmed = line.replace(/\s+$/u, "");
  const cr = trimmed.lastIndexOf("\r");
  return cr >= 0 ? trimmed.slice(cr + 1) : trimmed;
}

function lineSplitter(emit: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  let rest = "";
  return {
    push(chunk) {
      const text = rest + chunk.toString("utf8");
      const lines = text.split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) emit(cleanOutputLine(l));
    },
    end() {
      if (rest !== "") emit(cleanOutputLine(rest));
      rest = "";
    },
  };
}

/**
 * Runs argv and resolves with its exit code (-1 when killed by a signal, as Go's `ExitStatus()`).
 * @throws LocalCommandError when it cannot start, or when the signal fired (the process group is then killed).
 */
export function runLocalCommand(argv: readonly string[], options: LocalCommandOptions): Promise<{ exitCode: number }> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new LocalCommandError("no command to run"));
  if (options.signal.aborted) return Promise.reject(new LocalCommandError("cancelled before start", { cause: options.signal.reason }));
  return new Promise((resolve, reject) => {
    // detached: the command leads its own process group, so an abort reaches every process it started.
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const out = lineSplitter((l) => {
      options.onLine("stdout", l);
      options.heartbeat?.();
    });
    const err = lineSplitter((l) => {
      options.onLine("stderr", l);
      options.heartbeat?.();
    });
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    const beat = options.heartbeat ? setInterval(() => options.heartbeat?.(), HEARTBEAT_INTERVAL_MS) : undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let exitCode: number | undefined;
    let settled = false;

    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // the group is already gone
      }
    };
    const onAbort = (): void => {
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
      killTimer.unref();
    };
    options.signal.addEventListener("abort", onAbort, { once: true });

    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      options.signal.removeEventListener("abort", onAbort);
      clearInterval(beat);
      clearTimeout(drainTimer);
      clearTimeout(killTimer);
      out.end();
      err.end();
      if (error) reject(error);
      else if (options.signal.aborted) reject(new LocalCommandError("killed: the job was cancelled", { cause: options.signal.reason }));
      else resolve({ exitCode: exitCode ?? -1 });
    };
    child.on("error", (e) => finish(new LocalCommandError(e.message, { cause: e })));
    child.on("exit", (code) => {
      exitCode = code ?? -1;
      // After an abort, whatever is left of the group goes now. Without one, background processes the command
      // started on purpose (a daemon with its output redirected) keep running, as with Packer.
      if (options.signal.aborted) killGroup("SIGKILL");
      drainTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, DRAIN_AFTER_EXIT_MS);
      drainTimer.unref();
    });
    child.on("close", () => finish());
  });
}
