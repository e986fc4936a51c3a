/**
 * Packer 1.6.6's command-line output, reproduced: the `BasicUi` (every line to stdout, errors included), the
 * `-machine-readable` UI (`timestamp,target,type,args`), and HCL's diagnostic writer that `validate` uses
 * (`Error: <summary>` + the detail word-wrapped at 80 columns).
 */
import { goWordWrap } from "./go_compat.js";

/** What a command prints and how it exits. Packer 1.6.6 writes everything, errors included, to stdout. */
export interface CommandOutput {
  readonly stdout: string;
  readonly exitCode: number;
}

/** Options of the output formatters. */
export interface OutputOptions {
  /** `-machine-readable`. @default false */
  readonly machineReadable?: boolean;
  /** The time machine-readable lines carry (Unix seconds). @default now */
  readonly nowUnix?: number;
}

/** One HCL diagnostic as `packer validate` prints it. */
export interface Diagnostic {
  readonly severity: "error" | "warning";
  readonly summary: string;
  readonly detail: string;
}

/** Escapes one machine-readable argument as Packer's `MachineReadableUi.Machine` does. */
export function machineArg(s: string): string {
  return s.replaceAll(",", "%!(PACKER_COMMA)").replaceAll("\r", "\\r").replaceAll("\n", "\\n");
}

/** Collects what a command writes through Packer's UI. */
export class PackerUi {
  private readonly parts: string[] = [];
  private readonly now: number;
  constructor(private readonly options: OutputOptions = {}) {
    this.now = options.nowUnix ?? Math.floor(Date.now() / 1000);
  }

  /** `ui.Say`: the message and a newline (machine-readable: `ui,say`). */
  say(message: string): void {
    if (this.options.machineReadable === true) this.machine("ui", "say", message);
    else this.parts.push(`${message}\n`);
  }

  /** `ui.Error`: like `say` (Packer's error writer is stdout too), `ui,error` when machine-readable. */
  error(message: string): void {
    if (this.options.machineReadable === true) this.machine("ui", "error", message);
    else this.parts.push(`${message}\n`);
  }

  /** `ui.Machine`: printed only in machine-readable mode. The category may carry a target (`target,type`). */
  machine(category: string, ...args: string[]): void {
    if (this.options.machineReadable !== true) return;
    let target = "";
    const comma = category.indexOf(",");
    if (comma >= 0) {
      target = category.slice(0, comma);
      category = category.slice(comma + 1);
    }
    this.parts.push(`${this.now},${target},${category},${args.map(machineArg).join(",")}\n`);
  }

  text(): string {
    return this.parts.join("");
  }
}

/** HCL's `DiagnosticTextWriter` at width 80 without color, as `writeDiags` runs it. */
export function renderDiagnostics(diags: readonly Diagnostic[]): string {
  return diags
    .map((d) => `${d.severity === "error" ? "Error" : "Warning"}: ${d.summary}\n\n${d.detail !== "" ? `${goWordWrap(d.detail, 80)}\n\n` : ""}`)
    .join("");
}

/**
 * `writeDiags`: nothing when there are no diagnostics; otherwise the rendered text through `ui.Error` (exit 1) when
 * any is an error, or `ui.Say` (exit 0) when all are warnings.
 */
export function writeDiagnostics(ui: PackerUi, diags: readonly Diagnostic[]): number {
  const text = renderDiagnostics(diags);
  if (text === "") return 0;
  if (diags.some((d) => d.severity === "error")) {
    ui.error(text);
    return 1;
  }
  ui.say(text);
  return 0;
}
