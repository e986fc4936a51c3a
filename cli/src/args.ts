/**
 * Packer-style flag parsing: `-flag`, `--flag`, `-flag=value`, `-flag value`; booleans also take `=true|false`;
 * repeatable flags collect every value. Unknown flags are an error that lists the known ones.
 */
import { InvalidArgumentError } from "../../core/src/mod.js";

export type FlagKind = "bool" | "string" | "list";

export interface FlagSpec {
  readonly kind: FlagKind;
  readonly help: string;
  /** Other spellings, e.g. ["j"]. */
  readonly aliases?: readonly string[];
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export interface ParsedArgs {
  readonly flags: ReadonlyMap<string, string | boolean | readonly string[]>;
  readonly positional: readonly string[];
}

export function parseArgs(command: string, argv: readonly string[], specs: FlagSpecs): ParsedArgs {
  const flags = new Map<string, string | boolean | string[]>();
  const positional: string[] = [];
  const byName = new Map<string, [string, FlagSpec]>();
  for (const [name, spec] of Object.entries(specs)) {
    byName.set(name, [name, spec]);
    for (const alias of spec.aliases ?? []) byName.set(alias, [name, spec]);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const rawName = eq >= 0 ? body.slice(0, eq) : body;
    const found = byName.get(rawName);
    if (!found) {
      const known = Object.keys(specs).map((n) => `-${n}`).join(", ");
      throw new InvalidArgumentError(`kiln ${command}: unknown flag '${arg}'. Known flags: ${known || "(none)"}`);
    }
    const [name, spec] = found;
    let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (spec.kind === "bool") {
      if (value === undefined) flags.set(name, true);
      else if (value === "true" || value === "1") flags.set(name, true);
      else if (value === "false" || value === "0") flags.set(name, false);
      else throw new InvalidArgumentError(`kiln ${command}: -${name} takes true or false, got '${value}'`);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new InvalidArgumentError(`kiln ${command}: -${name} needs a value`);
    }
    if (spec.kind === "list") {
      const list = (flags.get(name) as string[] | undefined) ?? [];
      list.push(value);
      flags.set(name, list);
    } else {
      flags.set(name, value);
    }
  }
  return { flags, positional };
}

export function flagString(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === "string" ? v : undefined;
}

export function flagBool(args: ParsedArgs, name: string, fallback = false): boolean {
  const v = args.flags.get(name);
  return typeof v === "boolean" ? v : fallback;
}

export function flagList(args: ParsedArgs, name: string): string[] {
  const v = args.flags.get(name);
  return Array.isArray(v) ? [...(v as readonly string[])] : [];
}

/**
 * `--label k=v` (repeatable) as a map: the last value of a key wins. Keys are letters, digits and `._-/`; a bad one is
 * refused with the flag and the fix.
 */
export function flagLabels(args: ParsedArgs, name: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const kv of flagList(args, name)) {
    const eq = kv.indexOf("=");
    const key = eq < 0 ? kv : kv.slice(0, eq);
    if (eq <= 0 || !/^[A-Za-z0-9._/-]+$/.test(key)) {
      throw new InvalidArgumentError(`--${name} '${kv}': expected key=value with a key of letters, digits, '.', '_', '-' or '/' (e.g. --${name} release=2.1)`);
    }
    labels[key] = kv.slice(eq + 1);
  }
  return labels;
}

/** `-only a,b -only c` → [a, b, c]. */
export function flagCsv(args: ParsedArgs, name: string): string[] {
  return flagList(args, name)
    .flatMap((v) => v.split(","))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function flagInt(args: ParsedArgs, name: string, fallback: number): number {
  const v = flagString(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`-${name} takes a whole number >= 0, got '${v}'`);
  return n;
}
