/**
 * A {@link HostRunner} that replays a recorded command transcript instead of running the product: each command the
 * builder runs must be the next one the transcript expects, and gets the recorded stdout, stderr and exit code back;
 * each wait must be the next recorded wait. Anything else fails the build with a diff of expected against actual.
 *
 * Transcript files (agent/tests/fixtures/*.transcript) are text, one entry per block:
 * ```
 *   # a comment
 *   $ VBoxManage createvm --name ${VM_NAME} --ostype Ubuntu_64 --register     ← the expected command line
 *   > Virtual machine 'x' is created and registered.                        ← stdout lines
 *   ! VBoxManage: error: ...                                                 ← stderr lines
 *   = 1                                                                       ← exit code (default 0)
 *   @ vm-started                                                              ← an event the test may hook
 *   ~ 5s                                                                      ← an expected wait (Go duration)
 * ```
 * Command lines are compared as shell-quoted strings (see {@link formatCommand}). `${NAME}` stands for a value: a
 * variable the test bound beforehand must match exactly; an unbound one matches one or more characters other than
 * a space and is bound by the first match (so `${HOST_PORT}` learns the port the builder chose, and every later
 * use must agree). Variables are substituted into output lines too.
 */
import { readFileSync } from "node:fs";
import { BuildFailedError, parseGoDuration } from "../../../../core/src/mod.js";
import { cancellationOf } from "../../util/abort.js";
import { formatCommand, type CommandResult, type HostRunner } from "./host_runner.js";

/** One recorded interaction. */
export type TranscriptEntry =
  | { readonly kind: "command"; readonly line: string; readonly stdout: string; readonly stderr: string; readonly exitCode: number; readonly events: readonly string[] }
  | { readonly kind: "wait"; readonly ms: number; readonly text: string };

/** Parses a transcript file's text. @throws Error naming the line of a malformed entry */
export function parseTranscript(text: string): TranscriptEntry[] {
  const out: TranscriptEntry[] = [];
  type Cmd = { kind: "command"; line: string; stdout: string[]; stderr: string[]; exitCode: number; events: string[] };
  let cmd: Cmd | undefined;
  const flush = (): void => {
    if (cmd !== undefined) {
      out.push({ kind: "command", line: cmd.line, stdout: cmd.stdout.map((l) => `${l}\n`).join(""), stderr: cmd.stderr.map((l) => `${l}\n`).join(""), exitCode: cmd.exitCode, events: cmd.events });
    }
    cmd = undefined;
  };
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "" || raw.startsWith("#")) return;
    const tag = raw.slice(0, 1);
    const rest = raw.length > 2 ? raw.slice(2) : "";
    if (tag === "$") {
      flush();
      cmd = { kind: "command", line: rest, stdout: [], stderr: [], exitCode: 0, events: [] };
      return;
    }
    if (tag === "~") {
      flush();
      out.push({ kind: "wait", ms: parseGoDuration(rest.trim()), text: rest.trim() });
      return;
    }
    if (cmd === undefined) throw new Error(`transcript line ${i + 1}: "${raw}" does not follow a command`);
    if (tag === ">") cmd.stdout.push(rest);
    else if (tag === "!") cmd.stderr.push(rest);
    else if (tag === "=") cmd.exitCode = Number(rest.trim());
    else if (tag === "@") cmd.events.push(rest.trim());
    else throw new Error(`transcript line ${i + 1}: unknown entry "${raw}"`);
  });
  flush();
  return out;
}

/** What a replay saw: one line per command (`$ ...`) or wait (`~ ...`), as a transcript would show it. */
export type ReplayLog = string[];

/** Replays transcripts (concatenated in order) against what a builder does. */
export class TranscriptRunner implements HostRunner {
  readonly vars = new Map<string, string>();
  /** Everything the builder did, in transcript notation. */
  readonly actual: ReplayLog = [];
  private readonly entries: TranscriptEntry[];
  private next = 0;
  private failure: Error | undefined;
  private readonly hooks = new Map<string, (vars: ReadonlyMap<string, string>) => Promise<void> | void>();

  constructor(entries: readonly TranscriptEntry[], vars: Readonly<Record<string, string>> = {}) {
    this.entries = [...entries];
    for (const [k, v] of Object.entries(vars)) this.vars.set(k, v);
  }

  /** Reads and concatenates transcript files. */
  static fromFiles(files: readonly string[], vars: Readonly<Record<string, string>> = {}): TranscriptRunner {
    return new TranscriptRunner(files.flatMap((f) => parseTranscript(readFileSync(f, "utf8"))), vars);
  }

  /** Runs `fn` after the command that carries `@ event` returned (e.g. start a port forward when the VM starts). */
  on(event: string, fn: (vars: ReadonlyMap<string, string>) => Promise<void> | void): this {
    this.hooks.set(event, fn);
    return this;
  }

  /** The first mismatch, if any (also thrown into the build). */
  get mismatch(): Error | undefined {
    return this.failure;
  }

  /** Entries the builder never reached, in transcript notation. */
  remaining(): string[] {
    return this.entries.slice(this.next).map((e) => (e.kind === "command" ? `$ ${this.substitute(e.line)}` : `~ ${e.text}`));
  }

  async run(file: string, args: readonly string[], options: { signal: AbortSignal }): Promise<CommandResult> {
    if (options.signal.aborted) throw cancellationOf(options.signal);
    const line = formatCommand(file, args);
    this.actual.push(`$ ${line}`);
    const expected = this.entries[this.next];
    if (expected?.kind !== "command" || !this.match(expected.line, line)) this.fail(`$ ${line}`);
    const entry = expected as Extract<TranscriptEntry, { kind: "command" }>;
    this.next++;
    for (const event of entry.events) await this.hooks.get(event)?.(this.vars);
    return { stdout: this.substitute(entry.stdout), stderr: this.substitute(entry.stderr), exitCode: entry.exitCode };
  }

  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw cancellationOf(signal);
    this.actual.push(`~ ${formatMs(ms)}`);
    const expected = this.entries[this.next];
    if (expected?.kind !== "wait" || expected.ms !== ms) this.fail(`~ ${formatMs(ms)}`);
    this.next++;
    // Yield, so a cancel arriving "during" the wait is seen as it would be by a real sleep.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal.aborted) throw cancellationOf(signal);
  }

  /** Keystroke pacing is counted, not replayed: it carries no meaning a transcript could check. */
  readonly paced = { count: 0, totalMs: 0 };

  async pace(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw cancellationOf(signal);
    this.paced.count++;
    this.paced.totalMs += ms;
    await Promise.resolve();
  }

  private fail(got: string): never {
    const want = this.entries[this.next];
    const wanted = want === undefined ? "(end of transcript)" : want.kind === "command" ? `$ ${this.substitute(want.line)}` : `~ ${want.text}`;
    const context = this.actual.slice(-6, -1).map((l) => `  ${l}`).join("\n");
    const err = new BuildFailedError(`unexpected host command (transcript entry ${this.next + 1}):\n- expected: ${wanted}\n+ actual:   ${got}\nafter:\n${context}`);
    this.failure ??= err;
    throw err;
  }

  private match(pattern: string, line: string): boolean {
    const names: string[] = [];
    let re = "";
    let last = 0;
    for (const m of pattern.matchAll(/\$\{([A-Z0-9_]+)\}/g)) {
      re += escapeRe(pattern.slice(last, m.index));
      const name = m[1] as string;
      const bound = this.vars.get(name);
      if (bound !== undefined) re += escapeRe(bound);
      else if (names.includes(name)) re += `\\k<${name}>`;
      else {
        names.push(name);
        re += `(?<${name}>[^ ]+?)`;
      }
      last = (m.index ?? 0) + m[0].length;
    }
    re += escapeRe(pattern.slice(last));
    const found = new RegExp(`^${re}$`).exec(line);
    if (found === null) return false;
    for (const name of names) this.vars.set(name, found.groups?.[name] ?? "");
    return true;
  }

  private substitute(text: string): string {
    return text.replace(/\$\{([A-Z0-9_]+)\}/g, (all, name: string) => this.vars.get(name) ?? all);
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function formatMs(ms: number): string {
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
