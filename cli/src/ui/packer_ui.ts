/**
 * Packer 1.6.6's terminal output, reproduced from build events: `==> name: say`, `    name: message`, red errors,
 * per-build colours, `Build 'x' finished after ...`, the final artifact list — or `-machine-readable` lines
 * (`timestamp,target,type,data...`), optionally with `-timestamp-ui` prefixes.
 */
import { machineArg } from "../../../core/src/mod.js";
import type { Artifact__Output } from "../../../proto/src/mod.js";

/** Packer's build colours, in the order builds are assigned them. */
const BUILD_COLORS = [32, 36, 35, 33, 34] as const; // green, cyan, magenta, yellow, blue
const RED = 31;

export interface UiOptions {
  color: boolean;
  machineReadable: boolean;
  timestamp: boolean;
  write: (text: string) => void;
  now?: () => Date;
}

export interface BuildOutcomeForUi {
  readonly name: string;
  readonly error?: string;
  readonly artifacts: readonly Artifact__Output[];
}

/** Go's durafmt, limited to the first two non-zero units, as Packer prints build times. */
export function formatDuration(ms: number): string {
  let micro = Math.max(0, Math.floor(ms * 1000)); // durafmt truncates
  const units: [string, number][] = [
    ["year", 365 * 24 * 3600e6],
    ["week", 7 * 24 * 3600e6],
    ["day", 24 * 3600e6],
    ["hour", 3600e6],
    ["minute", 60e6],
    ["second", 1e6],
    ["millisecond", 1e3],
    ["microsecond", 1],
  ];
  const parts: string[] = [];
  for (const [name, size] of units) {
    const n = Math.floor(micro / size);
    micro -= n * size;
    if (n > 0) parts.push(`${n} ${name}${n === 1 ? "" : "s"}`);
  }
  return parts.length === 0 ? "0 microseconds" : parts.slice(0, 2).join(" ");
}

export class PackerUi {
  private readonly colors = new Map<string, number>();

  constructor(private readonly options: UiOptions) {}

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private line(text: string, color?: { code: number; bold: boolean }): void {
    const stamped = this.options.timestamp ? `${this.now().toISOString().replace(/\.\d{3}Z$/, "Z")}: ${text}` : text;
    const painted = this.options.color && color ? `\x1b[${color.bold ? 1 : 0};${color.code}m${stamped}\x1b[0m` : stamped;
    this.options.write(`${painted}\n`);
  }

  private machine(target: string, type: string, ...data: string[]): void {
    const ts = Math.floor(this.now().getTime() / 1000);
    this.options.write(`${[String(ts), target, type, ...data.map(machineArg)].join(",")}\n`);
  }

  private colorOf(name: string): number {
    return this.colors.get(name) ?? BUILD_COLORS[0];
  }

  /** Assigns colours in template order and, in colour mode, prints Packer's "output will be in this color" lines. */
  start(buildNames: readonly string[]): void {
    buildNames.forEach((name, i) => this.colors.set(name, BUILD_COLORS[i % BUILD_COLORS.length] ?? 32));
    if (this.options.machineReadable || !this.options.color) return;
    for (const name of buildNames) this.line(`${name}: output will be in this color.`, { code: this.colorOf(name), bold: true });
    this.options.write("\n");
  }

  say(build: string, text: string): void {
    if (this.options.machineReadable) return this.machine("", "ui", "say", `==> ${build}: ${text}`);
    this.line(`==> ${build}: ${text}`, { code: this.colorOf(build), bold: true });
  }

  message(build: string, text: string): void {
    if (this.options.machineReadable) return this.machine("", "ui", "message", `    ${build}: ${text}`);
    this.line(`    ${build}: ${text}`, { code: this.colorOf(build), bold: false });
  }

  error(build: string, text: string): void {
    if (this.options.machineReadable) return this.machine("", "ui", "error", `==> ${build}: ${text}`);
    this.line(`==> ${build}: ${text}`, { code: RED, bold: true });
  }

  /** A line that belongs to no build (kiln's own notices: waiting for an agent, cancel requested). */
  notice(text: string): void {
    if (this.options.machineReadable) return this.machine("", "ui", "say", text);
    this.line(text, { code: 0, bold: true });
  }

  buildFinished(build: string, durationMs: number, error?: string): void {
    const took = formatDuration(durationMs);
    if (error !== undefined) {
      const text = `Build '${build}' errored after ${took}: ${error}`;
      if (this.options.machineReadable) return this.machine("", "ui", "error", text);
      return this.line(text, { code: RED, bold: true });
    }
    const text = `Build '${build}' finished after ${took}.`;
    if (this.options.machineReadable) return this.machine("", "ui", "say", text);
    this.line(text, { code: this.colorOf(build), bold: true });
  }

  /** The closing summary: wait time, errors, artifacts — exactly Packer's shape. */
  finish(totalMs: number, outcomes: readonly BuildOutcomeForUi[], cancelled: boolean): void {
    const mr = this.options.machineReadable;
    const say = (text: string): void => (mr ? this.machine("", "ui", "say", text) : this.line(text));
    const err = (text: string): void => (mr ? this.machine("", "ui", "error", text) : this.line(text, { code: RED, bold: true }));
    if (cancelled) {
      err(`\n==> Wait completed after ${formatDuration(totalMs)}`);
      err("Cleanly cancelled builds after being interrupted.");
      return;
    }
    say(`\n==> Wait completed after ${formatDuration(totalMs)}`);
    const failed = outcomes.filter((o) => o.error !== undefined);
    if (failed.length > 0) {
      if (mr) this.machine("", "error-count", String(failed.length));
      err("\n==> Some builds didn't complete successfully and had errors:");
      for (const f of failed) {
        if (mr) this.machine(f.name, "error", f.error ?? "");
        err(`--> ${f.name}: ${f.error ?? ""}`);
      }
    }
    const succeeded = outcomes.filter((o) => o.error === undefined && o.artifacts.length > 0);
    if (succeeded.length === 0) {
      say("\n==> Builds finished but no artifacts were created.");
      return;
    }
    say("\n==> Builds finished. The artifacts of successful builds are:");
    for (const o of succeeded) {
      if (mr) this.machine(o.name, "artifact-count", String(o.artifacts.length));
      o.artifacts.forEach((a, i) => {
        if (mr) {
          const idx = String(i);
          this.machine(o.name, "artifact", idx, "builder-id", a.builder_id);
          this.machine(o.name, "artifact", idx, "id", a.id);
          this.machine(o.name, "artifact", idx, "string", a.description);
          this.machine(o.name, "artifact", idx, "files-count", String(a.files.length));
          a.files.forEach((f, j) => this.machine(o.name, "artifact", idx, "file", String(j), f.name));
          this.machine(o.name, "artifact", idx, "end");
        }
        say(`--> ${o.name}: ${a.description}`);
      });
    }
  }
}
