/**
 * kiln's template engine: Go `text/template` (as linked into Packer 1.6.6, Go 1.19) plus Packer's functions.
 *
 * ```
 * text ──lexer.ts──▶ items ──parser.ts──▶ trees ──exec.ts (+ builtins.ts, funcs.ts, fmt.ts)──▶ string
 * ```
 *
 * Every failure is a {@link TemplateEngineError} whose message reads like Go's, e.g.
 * `template: root:1:2: executing "root" at <env `X`>: error calling env: env vars are not allowed here`.
 */

import { BUILTINS } from "./builtins.js";
import { TemplateEngineError } from "./errors.js";
import { execute } from "./exec.js";
import { PACKER_FUNC_NAMES, packerFuncs } from "./funcs.js";
import { ROOT_NAME, parseTemplate } from "./parser.js";
import type { FuncSpec } from "./spec.js";
import type { EngineContext } from "./types.js";
import { fromJs } from "./values.js";

export type { EngineContext, RunStaticsContext, TemplateFailure } from "./types.js";
export { TemplateEngineError } from "./errors.js";
export { BUILD_PLACEHOLDER_MSG, BUILD_VALUE_KEYS, basicPlaceholderData } from "./funcs.js";
export { MAX_EXEC_DEPTH } from "./exec.js";
/** Go's `strconv.Quote` / `%q` of a string, exactly (the one implementation kiln has). */
export { quote as goQuote } from "./strconv.js";

const LEFT_DELIM = "{{";

/** True when the text contains an action delimiter, i.e. rendering could change it. Cheap; no parsing. */
export function hasTemplateSyntax(text: string): boolean {
  return text.includes(LEFT_DELIM);
}

/** Turns anything unexpected into the engine's error so callers only ever see one class. */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TemplateEngineError) throw e;
    if (e instanceof RangeError) {
      throw new TemplateEngineError(`template: ${ROOT_NAME}: template too deeply nested`, "exec", { cause: e });
    }
    const message = e instanceof Error ? e.message : String(e);
    throw new TemplateEngineError(`template: ${ROOT_NAME}: internal error: ${message}`, "exec", { cause: e });
  }
}

function funcsFor(ctx: EngineContext): Map<string, FuncSpec> {
  const fns = new Map<string, FuncSpec>(BUILTINS);
  // Packer's (and plugins') functions shadow builtins of the same name, as a Go FuncMap does.
  for (const [name, spec] of packerFuncs(ctx)) fns.set(name, spec);
  return fns;
}

/**
 * Parses and executes a template text, as Packer's `interpolate.Render` does (template name `root`, dot =
 * `ctx.data`).
 * @throws TemplateEngineError on a syntax or execution error.
 */
export function render(text: string, ctx: EngineContext): string {
  // Text without actions parses to a single text node: the output is the input.
  if (!hasTemplateSyntax(text)) return text;
  return guarded(() => {
    const funcs = funcsFor(ctx);
    const tmpl = parseTemplate(text, new Set(funcs.keys()));
    return execute(tmpl, funcs, ctx.data === undefined ? undefined : fromJs(ctx.data));
  });
}

export interface ParseOptions {
  /** Names of plugin functions in scope (e.g. `clean_resource_name`); builtins and Packer's are always known. */
  readonly funcNames?: Iterable<string>;
}

/**
 * Syntax check only (Packer's `interpolate` parse step): unknown functions, unbalanced `{{end}}`, bad literals.
 * @throws TemplateEngineError with Go's parse error text.
 */
export function parseTemplateText(text: string, opts?: ParseOptions): void {
  if (!hasTemplateSyntax(text)) return;
  guarded(() => {
    const names = new Set<string>([...BUILTINS.keys(), ...PACKER_FUNC_NAMES, ...(opts?.funcNames ?? [])]);
    parseTemplate(text, names);
  });
}

export interface InterpolateOptions {
  /**
   * Object keys whose values stay raw, at any depth (a plugin renders those itself later, e.g. with its own
   * dot data).
   */
  readonly skipKeys?: ReadonlySet<string>;
}

/**
 * Renders every string inside a JSON value: array elements, object values and object keys (Packer decodes
 * configs through mapstructure with its interpolation hook, which also runs on map keys, e.g. `"tags":
 * {"{{user \`k\`}}": "v"}`). Other values are returned as they are; the input is not modified.
 * @throws TemplateEngineError from the first string that fails; its `path` says where (e.g. `inline[2]`).
 */
export function interpolateValue(value: unknown, ctx: EngineContext, opts?: InterpolateOptions): unknown {
  const skip = opts?.skipKeys;
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === "string") {
      try {
        return render(v, ctx);
      } catch (e) {
        if (e instanceof TemplateEngineError && e.path === undefined) throw e.at(path);
        throw e;
      }
    }
    if (Array.isArray(v)) return v.map((el, i) => walk(el, `${path}[${i}]`));
    const proto = v !== null && typeof v === "object" ? Object.getPrototypeOf(v) : undefined;
    if (proto === Object.prototype || proto === null) {
      const out: Record<string, unknown> = {};
      for (const [k, el] of Object.entries(v as Record<string, unknown>)) {
        const at = path === "" ? k : `${path}.${k}`;
        if (skip?.has(k) === true) {
          out[k] = el;
          continue;
        }
        out[hasTemplateSyntax(k) ? (walk(k, at) as string) : k] = walk(el, at);
      }
      return out;
    }
    return v;
  };
  return walk(value, "");
}
