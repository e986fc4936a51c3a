/**
 * User variables, resolved as Packer 1.6.6 resolves them (`command/meta.go` `Core()` and `packer/core.go`
 * `validate` + `renderVarsRecursively`). This runs where the user is (the CLI): `env` and var files are the user's.
 * The coordinator receives the resolved map and never renders `env`.
 *
 * Precedence, lowest to highest: defaults, then `-var-file` files in order, then `-var` (always wins, whatever
 * its position on the command line). `env` works only here, while defaults (and -var / var-file values, which go
 * through the same loop) are rendered. Defaults may refer to other variables; rendering repeats, up to 100 passes,
 * until every value is free of `{{user ...}}`; a reference that never resolves is an error.
 */
import { TemplateEngineError, render, type EngineContext, type RunStaticsContext } from "./engine/mod.js";
import type { Template } from "./model.js";
import { ProblemClass, TemplateValidationError, type TemplateProblem } from "./problems.js";
import { readVarFiles, type VarFileInput } from "./var_files.js";
import { compareGoStrings, formatMultierror } from "./go_compat.js";

/** The Packer version kiln is compatible with (`{{packer_version}}`, `min_packer_version`). */
export const PACKER_COMPATIBLE_VERSION = "1.6.6";

/** What {@link resolveVariables} needs. */
export interface ResolveVariablesInput {
  readonly template: Template;
  /** `-var-file` files, in command-line order. */
  readonly varFiles?: readonly VarFileInput[];
  /** `-var` flags. */
  readonly vars?: Readonly<Record<string, string>>;
  /** The user's environment, for `{{env}}` in defaults. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** For `{{template_dir}}` in defaults. */
  readonly templateDir?: string;
  /** For `{{pwd}}` in defaults. @default process.cwd() */
  readonly pwd?: string;
  /** For `{{timestamp}}`, `{{isotime}}`, `{{uuid}}` in defaults. @default now, a fresh UUID */
  readonly statics?: RunStaticsContext;
}

/** The outcome of resolving, with Packer's text for each way it can fail. */
export type VariablesOutcome =
  | { readonly ok: true; readonly variables: Readonly<Record<string, string>> }
  | {
      readonly ok: false;
      /** `required` (required variables unset) or `render` (a value could not be rendered). */
      readonly stage: "required" | "render";
      readonly problems: readonly TemplateProblem[];
      /** What Packer prints as the error's detail. */
      readonly packerDetail: string;
    };

/** Values a run fixes once (`{{timestamp}}`, `{{uuid}}`): now, unless given. */
export function defaultStatics(): RunStaticsContext {
  const ms = Date.now();
  return { initTimeMs: ms, initTimeUnix: Math.floor(ms / 1000), uuid: crypto.randomUUID() };
}

// `{{ .HTTPIP }}` and other dot fields are left for the plugin to render later (Packer's RenderRegex filter).
const DOT_FIELD = /\{\{(\s|)\.(.*?)(\s|)\}\}/g;
// A value is final once it no longer calls `user` (Packer's isDoneInterpolating).
const USES_USER = /\{\{\s*user\s*`.*`\s*\}\}/;
const NOT_SET = "Error: variable not set:";

/** `interpolate.RenderRegex`: render, but keep every match of the filter as written. */
function renderExcludingDotFields(value: string, ctx: EngineContext): string {
  const kept = new Map<string, string>();
  let n = 0;
  const masked = value.replace(DOT_FIELD, (m) => {
    const id = `kilnkeep${n++}x${crypto.randomUUID().replaceAll("-", "")}`;
    kept.set(id, m);
    return id;
  });
  // One pass only: unlike core's `interpolate.Render`, RenderRegex renders once (packer 1.6.6 keeps
  // `{{ "{{ env `X` }}" }}` as `{{ env `X` }}`).
  let out = render(masked, ctx);
  for (const [id, m] of kept) out = out.replaceAll(id, m);
  return out;
}

/**
 * Packer's check that every variable with a `null` default is set (all of them are named); undefined when they are.
 * An empty value counts as set.
 */
export function checkRequiredVariables(template: Template, given: Readonly<Record<string, string>>): (VariablesOutcome & { readonly ok: false }) | undefined {
  const missing = template.variables.filter((v) => v.required && !Object.prototype.hasOwnProperty.call(given, v.name));
  if (missing.length === 0) return undefined;
  const messages = missing.map((v) => `required variable not set: ${v.name}`);
  return {
    ok: false,
    stage: "required",
    packerDetail: formatMultierror(messages),
    problems: missing.map((v, i) => ({ class: ProblemClass.RequiredVar, message: `${messages[i] ?? ""} (set it with -var '${v.name}=...' or a -var-file)`, location: v.location })),
  };
}

/**
 * Merges var files and -var flags (without rendering): what Packer passes to its core as `Variables`.
 * @throws VarFileError
 */
export function commandLineVariables(varFiles: readonly VarFileInput[] = [], vars: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { ...readVarFiles(varFiles), ...vars };
}

/**
 * Resolves variables and reports failures as data (for `validate`). See {@link resolveVariables}.
 * @throws VarFileError when a var file does not decode (Packer fails before anything else).
 */
export function resolveVariablesOutcome(input: ResolveVariablesInput): VariablesOutcome {
  const { template } = input;
  const given = commandLineVariables(input.varFiles, input.vars);
  const missing = checkRequiredVariables(template, given);
  if (missing !== undefined) return missing;

  // Packer's loop, faithfully: every key (template and command line) in sorted order, command-line values
  // overriding defaults, a key present in both listed twice; values re-rendered each pass until free of `user`.
  const values = new Map<string, string>();
  for (const v of template.variables) values.set(v.name, v.default);
  for (const [k, v] of Object.entries(given)) values.set(k, v);
  const keys = [...template.variables.map((v) => v.name), ...Object.keys(given)].sort(compareGoStrings);
  // Go builds this list with make([]T, len) and then appends: len(map) empty entries come first. They render
  // at once and make `{{user ``}}` resolve to "" — reproduced, and dropped from the result.
  let pending: { key: string; value: string }[] = [
    ...Array.from({ length: values.size }, () => ({ key: "", value: "" })),
    ...keys.map((key) => ({ key, value: values.get(key) ?? "" })),
  ];
  const current: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(given)) current[k] = v;
  const ctx: EngineContext = {
    userVariables: current,
    env: input.env,
    packerVersion: PACKER_COMPATIBLE_VERSION,
    statics: input.statics ?? defaultStatics(),
    ...(input.templateDir === undefined ? {} : { templateDir: input.templateDir }),
    ...(input.pwd === undefined ? {} : { pwd: input.pwd }),
  };
  const locationOf = (key: string): TemplateProblem["location"] => template.variables.find((v) => v.name === key)?.location;
  const fatal = (key: string, detail: string): VariablesOutcome => ({
    ok: false,
    stage: "render",
    packerDetail: detail,
    problems: [{ class: ProblemClass.Config, message: detail, ...(locationOf(key) ? { location: locationOf(key) } : {}) }],
  });

  let changed = false;
  let shouldRetry = false;
  let failed: { key: string; value: string; error: string } | undefined;
  for (let pass = 0; pass < 100; pass++) {
    shouldRetry = false;
    changed = false;
    let valuesMoved = false;
    const done: string[] = [];
    for (const kv of pending) {
      let rendered: string;
      try {
        rendered = renderExcludingDotFields(kv.value, ctx);
      } catch (err) {
        if (!(err instanceof TemplateEngineError)) throw err;
        if (err.phase === "exec") {
          if (err.message.includes(NOT_SET)) {
            shouldRetry = true;
            failed = { key: kv.key, value: kv.value, error: err.message };
            continue;
          }
          return fatal(kv.key, err.message);
        }
        return fatal(kv.key, `error interpolating default value for '${kv.key}': ${err.message}`);
      }
      changed = true;
      if (current[kv.key] !== rendered) valuesMoved = true;
      current[kv.key] = rendered;
      if (USES_USER.test(kv.value)) shouldRetry = true;
      else done.push(kv.key);
    }
    if (!shouldRetry) break;
    // A pass that changed no value and finished no variable is a fixed point: Packer would repeat it identically
    // until pass 100, so its outcome is the final one.
    if (!valuesMoved && done.length === 0) break;
    for (const key of done) {
      const i = pending.findIndex((kv) => kv.key === key);
      if (i >= 0) pending = [...pending.slice(0, i), ...pending.slice(i + 1)];
    }
  }
  if (!changed && shouldRetry && failed !== undefined) {
    const detail =
      `Failed to interpolate "${failed.key}": "${failed.value}"; error: ${failed.error}: Please make sure that the variable ` +
      "you're referencing has been defined; Packer treats all variables used to interpolate other user variables as required.";
    const loc = locationOf(failed.key);
    return { ok: false, stage: "render", packerDetail: detail, problems: [{ class: ProblemClass.RequiredVar, message: detail, ...(loc ? { location: loc } : {}) }] };
  }
  const result: Record<string, string> = {};
  for (const k of Object.keys(current).sort(compareGoStrings)) if (k !== "") result[k] = current[k] ?? "";
  return { ok: true, variables: Object.freeze(result) };
}

/**
 * Resolves the final user variables of a run: defaults, var files, -var, `env` in defaults, references between
 * variables. Runs on the CLI side, with the user's environment and files.
 *
 * @returns every variable (declared or only given on the command line) with its final value.
 * @throws VarFileError when a var file does not decode; TemplateValidationError when a required variable is not
 *   set (all of them are named) or a value cannot be rendered.
 */
export function resolveVariables(input: ResolveVariablesInput): Record<string, string> {
  const outcome = resolveVariablesOutcome(input);
  if (!outcome.ok) throw new TemplateValidationError(outcome.problems);
  return { ...outcome.variables };
}

/** The values to scrub from output: the final values of the variables listed in `sensitive-variables`. */
export function sensitiveValues(template: Template, variables: Readonly<Record<string, string>>): string[] {
  return [...new Set(template.sensitiveVariables.map((n) => variables[n] ?? "").filter((v) => v !== ""))];
}
