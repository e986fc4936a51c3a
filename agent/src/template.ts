/**
 * TEMPORARY adapter for the template engine (core/src/template/engine/mod.ts, being written in parallel).
 * The agent calls only `render` and `interpolateValue` through this module, with the engine's signatures; once the
 * engine lands this file becomes a re-export of it and the subset below is deleted.
 *
 * Supported meanwhile: `{{.Field}}` (missing: `<no value>`), `{{user `x`}}`, `{{build_name}}`, `{{build_type}}`,
 * `{{template_dir}}`, `{{pwd}}`, `{{packer_version}}`, `{{timestamp}}`, `{{uuid}}`, `{{build `Key`}}`.
 */
import { InvalidTemplateError } from "../../core/src/mod.js";
import type { EngineContext } from "./core_internal.js";

export type { EngineContext };

export interface InterpolateOptions {
  /** Top-level keys left as they are (the plugin renders them later with more data). */
  readonly skipKeys?: readonly string[];
}

function arg(text: string): string | undefined {
  const m = /^(?:`([^`]*)`|"((?:[^"\\]|\\.)*)")$/.exec(text.trim());
  if (m === null) return undefined;
  return m[1] ?? JSON.parse(`"${m[2] ?? ""}"`);
}

function action(body: string, ctx: EngineContext, text: string): string {
  const expr = body.trim();
  const fail = (why: string): never => {
    throw new InvalidTemplateError([`template: root:1: ${why} in: ${text}`]);
  };
  if (expr.startsWith(".")) {
    const v = ctx.data?.[expr.slice(1)];
    return v === undefined ? "<no value>" : String(v);
  }
  const [name = "", ...rest] = expr.split(/\s+/);
  const a = arg(rest.join(" "));
  switch (name) {
    case "user": {
      const v = a === undefined ? undefined : ctx.userVariables[a];
      return v ?? fail(`error calling user: variable ${a ?? ""} not set`);
    }
    case "build_name":
      return ctx.buildName ?? "";
    case "build_type":
      return ctx.buildType ?? "";
    case "template_dir":
      return ctx.templateDir ?? "";
    case "pwd":
      return ctx.pwd ?? "";
    case "packer_version":
      return ctx.packerVersion;
    case "timestamp":
      return String(ctx.statics.initTimeUnix);
    case "uuid":
      return ctx.statics.uuid;
    case "build":
      return (a !== undefined ? ctx.buildValues?.[a] : undefined) ?? fail(`error calling build: unknown key ${a ?? ""}`);
    default:
      return fail(`function "${name}" not defined`);
  }
}

/** Renders one template text. @throws InvalidTemplateError */
export function render(text: string, ctx: EngineContext): string {
  return text.replace(/\{\{-?(.*?)-?\}\}/gs, (_m, body: string) => action(body, ctx, text));
}

/** Renders every string inside a decoded JSON value (keys of objects are kept). @throws InvalidTemplateError */
export function interpolateValue(value: unknown, ctx: EngineContext, options: InterpolateOptions = {}): unknown {
  const skip = new Set(options.skipKeys ?? []);
  const walk = (v: unknown, top: boolean): unknown => {
    if (typeof v === "string") return render(v, ctx);
    if (Array.isArray(v)) return v.map((x) => walk(x, false));
    if (typeof v === "object" && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, top && skip.has(k) ? x : walk(x, false)]));
    }
    return v;
  };
  return walk(value, true);
}
