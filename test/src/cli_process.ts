/**
 * Runs the real `kiln` CLI as a subprocess (through tsx, so tests need no build step), and `packer` for comparison.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export const REPO_ROOT = path.resolve(import.meta.dirname, "..", "..");
const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
const BIN = path.join(REPO_ROOT, "cli", "src", "bin.ts");
const COMPILED_BIN = path.join(REPO_ROOT, "dist", "cli", "src", "bin.js");

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Called with the child as soon as it starts (to send signals). */
  onSpawn?: (child: ChildProcess) => void;
  /** Called with accumulated stdout whenever it grows. */
  onStdout?: (stdout: string, child: ChildProcess) => void;
  /** Runs kiln under this command, e.g. ["ip", "netns", "exec", NAME] (chaos tests put an agent in a namespace). */
  prefix?: readonly string[];
  /**
   * Runs the compiled CLI in dist/ instead of the sources through tsx: benchmarks measure what ships (`npm run bench`
   * builds first), without the loader's worker thread and transforms in the process's time and memory.
   */
  compiled?: boolean;
}

function collect(child: ChildProcess, options: RunOptions, what: string): Promise<ProcessResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => {
    stdout += c.toString();
    options.onStdout?.(stdout, child);
  });
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  options.onSpawn?.(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${what} did not finish within ${options.timeoutMs ?? 60_000} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function runKiln(args: readonly string[], options: RunOptions): Promise<ProcessResult> {
  if (options.compiled && !existsSync(COMPILED_BIN)) throw new Error(`${COMPILED_BIN} is missing: run \`npm run build\` first`);
  const entry = options.compiled ? [COMPILED_BIN] : ["--import", TSX_LOADER, BIN];
  const [command, ...rest] = [...(options.prefix ?? []), process.execPath, ...entry, ...args];
  const child = spawn(command ?? process.execPath, rest, {
    cwd: options.cwd,
    env: { ...process.env, KILN_COORDINATOR: undefined, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return collect(child, options, `kiln ${args.join(" ")}`);
}

export const PACKER = "/usr/bin/packer";

/** Runs the reference Packer; a missing binary fails the test with the package to install. */
export function runPacker(args: readonly string[], options: RunOptions): Promise<ProcessResult> {
  if (!existsSync(PACKER)) {
    throw new Error(`packer is not installed at ${PACKER}: install the Debian package packer (apt-get install packer)`);
  }
  const child = spawn(PACKER, args, {
    cwd: options.cwd,
    env: { PATH: "/usr/bin:/bin", HOME: options.cwd, CHECKPOINT_DISABLE: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return collect(child, options, `packer ${args.join(" ")}`);
}

/** Runs a TypeScript script of the repository in its own node process (through tsx). */
export function runScript(script: string, args: readonly string[], options: RunOptions): Promise<ProcessResult> {
  const child = spawn(process.execPath, ["--import", TSX_LOADER, path.join(REPO_ROOT, script), ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return collect(child, options, script);
}
