/**
 * Packer's template functions (`FuncGens` in Packer 1.6.6 `template/interpolate/funcs.go`, since moved to
 * packer-plugin-sdk), bound to an {@link EngineContext}. Error texts are Packer's, so a failing kiln render reads
 * like the `packer validate` output users already know.
 */

import { UnsupportedError } from "../../errors.js";
import { callJs } from "./builtins.js";
import { FuncCallError } from "./errors.js";
import { RFC3339, formatGoTime, formatStrftime } from "./gotime.js";
import type { FuncSpec } from "./spec.js";
import type { EngineContext } from "./types.js";

/** Packer's `packerbuilderdata.PlaceholderMsg`: marks a build value that is not known yet. */
export const BUILD_PLACEHOLDER_MSG = "To set this dynamically in the Packer template, you must use the `build` function";

/** The keys Packer's `BasicPlaceholderData()` provides to provisioners before a build has produced them. */
export const BUILD_VALUE_KEYS = [
  "ID", "Host", "Port", "User", "Password", "ConnType", "PackerRunUUID", "PackerHTTPPort", "PackerHTTPIP",
  "PackerHTTPAddr", "SSHPublicKey", "SSHPrivateKey", "WinRMPassword",
] as const;

/**
 * Packer's `BasicPlaceholderData()`: a `buildValues` map for the first interpolation pass, where
 * `{{build \`ID\`}}` renders as `{{.ID}}` for the provisioner to fill in later.
 */
export function basicPlaceholderData(keys: readonly string[] = BUILD_VALUE_KEYS): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, `Build_${k}. ${BUILD_PLACEHOLDER_MSG}`]));
}

/** Names of Packer's functions, known at parse time whatever the context. */
export const PACKER_FUNC_NAMES: readonly string[] = [
  "build_name", "build_type", "env", "isotime", "strftime", "pwd", "split", "template_dir", "timestamp", "uuid",
  "user", "packer_version", "consul_key", "vault", "sed", "build", "aws_secretsmanager", "replace", "replace_all",
  "upper", "lower",
];

/** Go's strings.Split: an empty separator splits into UTF-8 sequences (code points). */
function goSplit(s: string, sep: string): string[] {
  if (sep === "") return Array.from(s);
  return s.split(sep);
}

/** Go's strings.Replace; n < 0 means all. An empty `old` matches before every code point and at the end. */
export function goReplace(s: string, old: string, repl: string, n: number): string {
  if (old === repl || n === 0) return s;
  if (old === "") {
    const chars = Array.from(s);
    const limit = n < 0 ? chars.length + 1 : Math.min(n, chars.length + 1);
    let out = "";
    for (let i = 0; i < chars.length; i++) out += (i < limit ? repl : "") + chars[i];
    if (chars.length < limit) out += repl;
    return out;
  }
  let out = "";
  let start = 0;
  let done = 0;
  for (;;) {
    if (n >= 0 && done >= n) break;
    const j = s.indexOf(old, start);
    if (j < 0) break;
    out += s.slice(start, j) + repl;
    start = j + old.length;
    done++;
  }
  return out + s.slice(start);
}

/**
 * Go's unicode.ToUpper/ToLower per code point: simple case mapping only, so "ß" stays "ß" (JS would give "SS").
 */
function mapCase(s: string, upper: boolean): string {
  let out = "";
  for (const ch of s) {
    if (!upper && ch === "\u0130") {
      out += "i"; // İ's simple lowercase mapping; JS only knows the full "i̇"
      continue;
    }
    const m = upper ? ch.toUpperCase() : ch.toLowerCase();
    out += [...m].length === 1 ? m : ch;
  }
  return out;
}

const notAvailable = (what: string): never => {
  throw new FuncCallError(`${what} not available`);
};

/** kiln runs builds on agents that do not hold the coordinator's secrets stores; these functions cannot work. */
function unreachable(service: string): never {
  const cause = new UnsupportedError(
    `kiln does not reach ${service} from templates; resolve the value before the build and pass it with -var`,
  );
  throw new FuncCallError(cause.message, { cause });
}

/** Packer's functions bound to one context. */
export function packerFuncs(ctx: EngineContext): Map<string, FuncSpec> {
  const envEnabled = ctx.env !== undefined;
  const s = "string" as const;
  const fns = new Map<string, FuncSpec>([
    ["build_name", { params: [], call: () => ctx.buildName || notAvailable("build_name") }],
    ["build_type", { params: [], call: () => ctx.buildType || notAvailable("build_type") }],
    [
      "env",
      {
        params: [s],
        call: ([k]) => {
          if (ctx.env === undefined) throw new FuncCallError("env vars are not allowed here");
          return ctx.env[k as string] ?? "";
        },
      },
    ],
    [
      "isotime",
      {
        params: [],
        variadic: s,
        call: (format) => {
          if (format.length === 0) return formatGoTime(ctx.statics.initTimeMs, RFC3339);
          if (format.length > 1) throw new FuncCallError(`too many values, 1 needed: [${format.join(" ")}]`);
          return formatGoTime(ctx.statics.initTimeMs, format[0] as string);
        },
      },
    ],
    ["strftime", { params: [s], call: ([f]) => formatStrftime(ctx.statics.initTimeMs, f as string) }],
    ["pwd", { params: [], call: () => ctx.pwd ?? process.cwd() }],
    [
      "split",
      {
        params: [s, s, "int"],
        call: ([k, sep, i]) => {
          const parts = goSplit(k as string, sep as string);
          const n = i as bigint;
          if (BigInt(parts.length) <= n) {
            throw new FuncCallError(
              `the substring ${n} was unavailable using the separator value, ${sep as string}, only ${parts.length} values were found`,
            );
          }
          // Go indexes with i; a negative i panics in Go ("index out of range"), which safeCall reports.
          if (n < 0n) throw new FuncCallError(`runtime error: index out of range [${n}]`);
          return parts[Number(n)] ?? "";
        },
      },
    ],
    ["template_dir", { params: [], call: () => ctx.templateDir || notAvailable("template path") }],
    ["timestamp", { params: [], call: () => String(Math.trunc(ctx.statics.initTimeUnix)) }],
    ["uuid", { params: [], call: () => ctx.statics.uuid }],
    [
      "user",
      {
        params: [s],
        call: ([k]) => {
          const name = k as string;
          const value = Object.prototype.hasOwnProperty.call(ctx.userVariables, name) ? ctx.userVariables[name] : undefined;
          // Packer errors only while resolving variables (so it can retry); elsewhere an unknown variable is "".
          if (value === undefined && (envEnabled || ctx.strictUserVariables === true)) {
            throw new FuncCallError(`Error: variable not set: ${name}`);
          }
          return value ?? "";
        },
      },
    ],
    ["packer_version", { params: [], call: () => ctx.packerVersion || notAvailable("packer_version") }],
    [
      "consul_key",
      {
        params: [s],
        call: () => {
          if (!envEnabled) throw new FuncCallError("consul_key is not allowed here");
          return unreachable("Consul");
        },
      },
    ],
    [
      "vault",
      {
        params: [s, s],
        call: () => {
          if (!envEnabled) throw new FuncCallError("Vault vars are only allowed in the variables section");
          return unreachable("Vault");
        },
      },
    ],
    [
      "aws_secretsmanager",
      {
        params: [],
        variadic: s,
        call: (secret) => {
          if (!envEnabled) {
            throw new FuncCallError("AWS Secrets Manager is only allowed in the variables section");
          }
          if (secret.length === 0) throw new FuncCallError("secret name must be provided");
          if (secret.length > 2) throw new FuncCallError("only secret name and optional secret key can be provided.");
          return unreachable("AWS Secrets Manager");
        },
      },
    ],
    [
      "sed",
      {
        params: [s, s],
        call: () => {
          throw new FuncCallError(
            "template function `sed` is deprecated use `replace` or `replace_all` instead." +
              "Documentation: https://www.packer.io/docs/templates/engine",
          );
        },
      },
    ],
    [
      "build",
      {
        params: [s],
        call: ([k]) => {
          const key = k as string;
          if (ctx.buildValues === undefined) {
            throw new FuncCallError(
              `Error validating build variable: the given variable ${key} will not be passed into your plugin.`,
            );
          }
          const held = Object.prototype.hasOwnProperty.call(ctx.buildValues, key) ? ctx.buildValues[key] : undefined;
          if (typeof held === "string") {
            // First pass: keep the reference for the provisioner to resolve once the build has the value.
            return held.includes(BUILD_PLACEHOLDER_MSG) ? `{{.${key}}}` : held;
          }
          throw new FuncCallError(`loaded data, but couldnt find ${key} in it.`);
        },
      },
    ],
    [
      "replace",
      {
        params: [s, s, "int", s],
        call: ([old, repl, n, src]) => goReplace(src as string, old as string, repl as string, Number(n as bigint)),
      },
    ],
    [
      "replace_all",
      { params: [s, s, s], call: ([old, repl, src]) => goReplace(src as string, old as string, repl as string, -1) },
    ],
    ["upper", { params: [s], call: ([v]) => mapCase(v as string, true) }],
    ["lower", { params: [s], call: ([v]) => mapCase(v as string, false) }],
  ]);
  // Plugin functions (ctx.Funcs in Packer) override the defaults. Their Go signatures are unknown to kiln, so
  // they take any arguments.
  for (const [name, fn] of Object.entries(ctx.funcs ?? {})) {
    fns.set(name, { params: [], variadic: "any", call: (args) => callJs(fn, args) });
  }
  return fns;
}
