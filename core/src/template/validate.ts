/**
 * `validate`: Packer 1.6.6's checks, in Packer's order, with Packer's verdict and text.
 *
 * ```
 *  parse ─▶ var files ─▶ [syntax-only stops] ─▶ structure ─▶ min version ─▶ variables (required, render)
 *        ─▶ build names ─▶ per build, by name: plugin types (init) ─▶ plugin configs (prepare)
 * ```
 *
 * Packer stops at the first stage that fails; the report's `classes` and printed output follow that. kiln then
 * keeps checking the later stages that can run on their own, so `problems` lists everything wrong at once.
 * Validation has no side effects: no files are read (the caller passes var files), nothing is written.
 */
import path from "node:path";
import { basicPlaceholderData, parseTemplateText, render, TemplateEngineError, type EngineContext, type RunStaticsContext } from "./engine/mod.js";
import { PACKER_CONFIG_FIELDS, pluginSchema, validatePluginConfig, type PluginKind } from "../plugins/mod.js";
import { renderCore } from "./core_render.js";
import { checkMinVersion, checkStructure, coreContext, postProcessorChainsOf, provisionersOf, renderBuildNames, selectBuilds, type NamedBuild, type RenderPlace } from "./builds.js";
import { compareGoStrings, formatMapstructureError, formatMultierror, formatPackerMultiError } from "./go_compat.js";
import { isHcl2Path, parseHclJson } from "./hcl_json.js";
import { toPlain, type JsonMember } from "./json_parser.js";
import { parseTemplate, provisionerConfigFor, type PluginConfig, type Template, type TemplateProvisioner } from "./model.js";
import type { Diagnostic } from "./output.js";
import { pluginTypeStatus } from "./plugin_types.js";
import { ProblemClass, joinPath, type SourceLocation, type TemplateProblem } from "./problems.js";
import { reportFromParseError, type ValidationReport } from "./report.js";
import { readVarFiles, type VarFileInput } from "./var_files.js";
import { checkRequiredVariables, defaultStatics, resolveVariablesOutcome, type VariablesOutcome } from "./variables.js";

/** Options of {@link validateSyntaxOnly}. */
export interface SyntaxOnlyOptions {
  /** `-var-file` files: Packer reads them even with `-syntax-only`. */
  readonly varFiles?: readonly VarFileInput[];
}

/**
 * `packer validate -syntax-only`: the template parses (JSON, keys, shapes) and the var files decode. Nothing is
 * interpolated and no plugin is consulted.
 */
export function validateSyntaxOnly(text: string | Uint8Array, fileName: string, options: SyntaxOnlyOptions = {}): ValidationReport {
  if (isHcl2Path(fileName)) {
    try {
      parseHclJson(text, fileName);
      return { valid: true, classes: [], problems: [], warnings: [], outcome: { kind: "syntax-ok" } };
    } catch (err) {
      return reportFromParseError(err);
    }
  }
  let template: Template;
  try {
    template = parseTemplate(text, fileName);
    readVarFiles(options.varFiles ?? []);
  } catch (err) {
    return reportFromParseError(err);
  }
  return { valid: true, classes: [], problems: [], warnings: [], outcome: { kind: "syntax-ok" }, template };
}

/** Options of {@link validateTemplate}. */
export interface ValidateOptions extends SyntaxOnlyOptions {
  /** `-var` flags. */
  readonly vars?: Readonly<Record<string, string>>;
  /** The user's environment, for `{{env}}` in variable defaults. @default {} */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Variables already resolved (by the CLI, on the user's side): var files, -var and env are then not used, only
   * checked for the required ones. This is how the coordinator validates.
   */
  readonly resolvedVariables?: Readonly<Record<string, string>>;
  /** `-only`: build names to validate. */
  readonly only?: readonly string[];
  /** `-except`: build names (and post-processor names) to leave out. */
  readonly except?: readonly string[];
  /**
   * For `{{template_dir}}`: the template's directory. `validateTemplate` defaults it to the absolute directory of
   * `fileName`, as Packer does; `validateParsed` leaves `{{template_dir}}` unavailable without it.
   */
  readonly templateDir?: string;
  /** For `{{pwd}}`. */
  readonly pwd?: string;
  /** For `{{timestamp}}`, `{{uuid}}`. @default now */
  readonly statics?: RunStaticsContext;
}

/** A stage's contribution: what Packer prints for it (if it fails), and every problem kiln found in it. */
interface StageResult {
  readonly diagnostics: Diagnostic[];
  readonly reported: TemplateProblem[];
  readonly problems: TemplateProblem[];
  readonly warnings: TemplateProblem[];
}

const emptyStage = (): StageResult => ({ diagnostics: [], reported: [], problems: [], warnings: [] });

/** An error diagnostic with an empty summary, as Packer prints errors of `Initialize` ("Error: \n\n<detail>"). */
function coreError(detail: string): Diagnostic {
  return { severity: "error", summary: "", detail };
}

function classOfPluginProblem(message: string): ProblemClass {
  if (message.startsWith("unknown configuration key:")) return ProblemClass.UnknownKey;
  if (message.startsWith("Deprecated configuration key:")) return ProblemClass.DeprecatedKey;
  return ProblemClass.Config;
}

const DECODE_PROBLEM = /^('[^']*' expected |'[^']*': source data must be|error decoding '|cannot parse '|'[^']*' expected a map)/;

/**
 * Plugins that wrap their config-decoding errors (Packer's shell-local: `Error decoding config: ...`), and plugins
 * whose own checks return one bare error instead of the SDK's list (artifice).
 */
const DECODE_PREFIX: ReadonlySet<string> = new Set(["provisioner:shell-local", "post-processor:shell-local"]);
const BARE_CHECK_ERROR: ReadonlySet<string> = new Set(["post-processor:artifice"]);

/** Why a plugin's `Prepare` failed, in the stage Packer stops at. */
type PrepareFailure =
  /** One error Packer prints as it is: a template in the config that did not render, an override that is no map. */
  | { readonly stage: "single"; readonly message: string }
  /** The config did not decode (types, unknown keys) or did not pass the plugin's checks. */
  | { readonly stage: "config"; readonly problems: readonly string[] };

/**
 * How Packer 1.6.6 words a plugin's failed `Prepare`: a template error alone; else decoding errors
 * (mapstructure's list), else unknown and deprecated keys (go-multierror's list) — both behind `Error decoding
 * config: ` for shell-local — else the plugin's own checks (the SDK's `N error(s) occurred` list, or artifice's
 * bare error).
 */
function packerPrepareDetail(kind: PluginKind, type: string, failure: PrepareFailure): string {
  const id = `${kind}:${type}`;
  const decodePrefix = DECODE_PREFIX.has(id) ? "Error decoding config: " : "";
  if (failure.stage === "single") return decodePrefix + failure.message;
  const problems = failure.problems;
  const decode = problems.filter((p) => DECODE_PROBLEM.test(p));
  if (decode.length > 0) return decodePrefix + formatMapstructureError(decode);
  const keys = problems.filter((p) => classOfPluginProblem(p) !== ProblemClass.Config);
  if (keys.length > 0) return decodePrefix + formatMultierror(keys);
  if (BARE_CHECK_ERROR.has(id)) return problems[0] ?? "";
  return formatPackerMultiError(problems);
}

/** `strconv.Atoi`'s verdict on a string (decimal, optional sign, int64 range). */
function atoiError(s: string): string | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return `strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`;
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return `strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`;
  return undefined;
}

/**
 * The detail line of a problem in Packer's output. kiln-only problems (plugin types kiln does not run) say where
 * they are, since Packer has no such message for the user to search for.
 */
function packerDetailOf(p: TemplateProblem): string {
  if (p.class !== ProblemClass.Unsupported || p.location === undefined) return p.message;
  return `${p.message} (${p.location.path} in ${p.location.file}, line ${p.location.line})`;
}

/** One plugin of a build, ready to be checked. */
interface Component {
  readonly kind: PluginKind;
  readonly type: string;
  readonly label: string;
  readonly location: SourceLocation;
  readonly config: PluginConfig;
  readonly members: readonly JsonMember[];
  /** Set when Packer would hand the plugin something that is not an object (an `override` that is not one). */
  readonly badOverride?: string;
  readonly provisioner?: TemplateProvisioner;
}

function componentsOf(template: Template, build: NamedBuild, except: readonly string[]): Component[] {
  const raw = build.builder.name;
  const out: Component[] = [
    { kind: "builder", type: build.builder.type, label: `builders[${build.builder.index}]`, location: build.builder.location, config: build.builder.config, members: build.builder.configMembers },
  ];
  const prov = (p: TemplateProvisioner): Component => {
    const merged = provisionerConfigFor(p, raw);
    const override = p.override.get(raw);
    const bad = override !== undefined && !merged.overrideIsObject ? `'' expected a map, got '${override.value.kind === "array" ? "slice" : override.value.kind === "number" ? "float64" : override.value.kind}'` : undefined;
    return {
      kind: "provisioner",
      type: p.type,
      label: p.location.path,
      location: p.location,
      config: Object.fromEntries(merged.members.map((m) => [m.key, toPlain(m.value)])),
      members: merged.members,
      provisioner: p,
      ...(bad === undefined ? {} : { badOverride: bad }),
    };
  };
  out.push(...provisionersOf(template, raw).map(prov));
  if (template.cleanupProvisioner !== undefined) out.push(prov(template.cleanupProvisioner));
  for (const chain of postProcessorChainsOf(template, raw, except)) {
    for (const pp of chain) out.push({ kind: "post-processor", type: pp.type, label: pp.location.path, location: pp.location, config: pp.config, members: pp.configMembers });
  }
  return out;
}

/** Packer's `Core.Build` for one build: plugin types and `max_retries`. Returns the first problem. */
function initProblem(c: Component, ctx: EngineContext): TemplateProblem | undefined {
  const status = pluginTypeStatus(c.kind, c.type);
  if (status === "unknown") {
    return { class: ProblemClass.UnknownType, message: `error initializing ${c.kind} '${c.type}': Unknown ${c.kind} ${c.type}`, location: c.location };
  }
  if (status === "packer-only") {
    return { class: ProblemClass.Unsupported, message: `kiln does not run ${c.kind} type "${c.type}" yet`, location: c.location };
  }
  const retries = c.provisioner?.maxRetries ?? "";
  if (retries !== "") {
    let rendered: string;
    try {
      rendered = renderCore(retries, ctx);
    } catch (err) {
      if (!(err instanceof TemplateEngineError)) throw err;
      return { class: ProblemClass.Config, message: `failed to interpolate \`max_retries\`: ${err.message}`, location: c.location };
    }
    const bad = atoiError(rendered);
    if (bad !== undefined) return { class: ProblemClass.Config, message: `\`max_retries\` must be a valid integer: ${bad}`, location: c.location };
  }
  return undefined;
}

/** Every string inside a JSON value, in order (object members in document order). */
function stringsIn(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) stringsIn(x, out);
  else if (typeof v === "object" && v !== null) for (const x of Object.values(v)) stringsIn(x, out);
  return out;
}

/** Renders every string of a JSON value; the first failure is thrown. */
function renderDeep(v: unknown, ctx: EngineContext): unknown {
  if (typeof v === "string") return render(v, ctx);
  if (Array.isArray(v)) return v.map((x) => renderDeep(x, ctx));
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, renderDeep(x, ctx)]));
  return v;
}

/**
 * Packer's config decoding renders the plugin's fields in struct order (the core `packer_*` fields first, then the
 * plugin's own); keys the plugin renders later with its own data are only parsed. Unknown keys are not rendered
 * (they fail as unknown). Returns the rendered config, or Packer's message for the first template that fails.
 */
function interpolateConfig(c: Component, ctx: EngineContext): { config: PluginConfig } | { message: string } {
  const schema = pluginSchema(c.kind, c.type);
  const late = new Set(schema?.lateRenderedKeys ?? []);
  const order = [...Object.keys(PACKER_CONFIG_FIELDS), ...Object.keys(schema?.fields ?? {})];
  const out: Record<string, unknown> = { ...c.config };
  for (const key of order) {
    if (!Object.prototype.hasOwnProperty.call(c.config, key)) continue;
    const value = c.config[key];
    for (const text of stringsIn(value)) {
      try {
        if (late.has(key)) parseTemplateText(text);
        else render(text, ctx);
      } catch (err) {
        if (!(err instanceof TemplateEngineError)) throw err;
        return { message: `${err.phase === "parse" ? "invalid" : "render"} '${key}': ${err.message} in:\n\n${text}` };
      }
    }
    if (!late.has(key)) out[key] = renderDeep(value, ctx);
  }
  return { config: out };
}

/** Packer's `Prepare` of one plugin: interpolation, then the plugin's config schema. */
function prepareComponent(
  c: Component,
  build: NamedBuild,
  variables: Readonly<Record<string, string>>,
  place: RenderPlace,
): { failure?: PrepareFailure; problems: TemplateProblem[]; warnings: TemplateProblem[] } {
  const at = (message: string): TemplateProblem => {
    const key = /^unknown configuration key: '"(.*)"'$/.exec(message)?.[1];
    const member = key === undefined ? undefined : c.members.find((m) => m.key === key);
    const location = member === undefined ? c.location : { ...c.location, path: joinPath(c.location.path, member.key), line: member.keyPos.line, column: member.keyPos.column };
    return { class: classOfPluginProblem(message), message, location };
  };
  if (c.badOverride !== undefined) {
    return { failure: { stage: "single", message: c.badOverride }, problems: [at(c.badOverride)], warnings: [] };
  }
  const ctx: EngineContext = {
    ...coreContext(variables, place),
    buildName: build.name,
    buildType: build.builder.type,
    ...(c.kind === "builder" ? {} : { buildValues: basicPlaceholderData() }),
  };
  const rendered = interpolateConfig(c, ctx);
  if ("message" in rendered) {
    return { failure: { stage: "single", message: rendered.message }, problems: [at(rendered.message)], warnings: [] };
  }
  const result = validatePluginConfig(c.kind, c.type, rendered.config);
  const warnings = result.warnings.map((w) => ({ class: ProblemClass.Config, message: w, location: c.location }));
  if (result.problems.length === 0) return { problems: [], warnings };
  return { failure: { stage: "config", problems: result.problems }, problems: result.problems.map(at), warnings };
}

function buildsStage(template: Template, variables: Readonly<Record<string, string>>, options: ValidateOptions, place: RenderPlace, names: readonly NamedBuild[]): StageResult {
  const stage = emptyStage();
  const except = options.except ?? [];
  const selected = selectBuilds(names, options.only ?? [], except).sort((a, b) => compareGoStrings(a.name, b.name));
  const ctx = coreContext(variables, place);
  for (const build of selected) {
    const components = componentsOf(template, build, except);
    const init = components.map((c) => initProblem(c, ctx)).filter((p): p is TemplateProblem => p !== undefined);
    stage.problems.push(...init);
    const first = init[0];
    if (first !== undefined) {
      stage.reported.push(first);
      stage.diagnostics.push({ severity: "error", summary: `Failed to initialize build "${build.name}"`, detail: packerDetailOf(first) });
      continue;
    }
    let failed = false;
    let builderWarnings: TemplateProblem[] = [];
    for (const c of components) {
      const { failure, problems, warnings } = prepareComponent(c, build, variables, place);
      if (c.kind === "builder") builderWarnings = warnings;
      else stage.warnings.push(...warnings);
      if (failure === undefined) continue;
      stage.problems.push(...problems);
      if (failed) continue;
      failed = true;
      stage.reported.push(...problems);
      stage.diagnostics.push({ severity: "error", summary: `Failed to prepare build: "${build.name}"`, detail: packerPrepareDetail(c.kind, c.type, failure) });
    }
    stage.warnings.push(...builderWarnings);
    if (!failed) {
      for (const w of builderWarnings) stage.diagnostics.push({ severity: "warning", summary: `Warning when preparing build: "${build.name}"`, detail: w.message });
    }
  }
  return stage;
}

/**
 * Full `packer validate`: the template, var files, structure, `min_packer_version`, variables, build names, and
 * each selected build's plugins (types, then configs through `validatePluginConfig` after interpolation). Plugin
 * types kiln does not run are reported as such; names Packer 1.6.6 does not know get Packer's `Unknown builder x`.
 *
 * @param text The template, as read from the user's disk.
 * @param fileName The path the user gave (used in messages).
 */
export function validateTemplate(text: string | Uint8Array, fileName: string, options: ValidateOptions = {}): ValidationReport {
  if (isHcl2Path(fileName)) {
    const syntax = validateSyntaxOnly(text, fileName);
    if (!syntax.valid) return syntax;
    const problem: TemplateProblem = {
      class: ProblemClass.Unsupported,
      message: `kiln runs legacy JSON templates; ${fileName} is an HCL2 template (Packer reads *.pkr.json and *.pkr.hcl as HCL2)`,
      location: { file: fileName, path: "", line: 1, column: 1 },
    };
    return { valid: false, classes: [problem.class], problems: [problem], warnings: [], outcome: { kind: "diagnostics", diagnostics: [coreError(problem.message)] } };
  }
  let template: Template;
  try {
    template = parseTemplate(text, fileName);
    readVarFiles(options.varFiles ?? []);
  } catch (err) {
    return reportFromParseError(err);
  }
  return validateParsed(template, { ...options, templateDir: options.templateDir ?? path.dirname(path.resolve(fileName)) });
}

/** {@link validateTemplate} for a template already parsed (the coordinator's case). */
export function validateParsed(template: Template, options: ValidateOptions = {}): ValidationReport {
  const place: RenderPlace = {
    statics: options.statics ?? defaultStatics(),
    ...(options.templateDir === undefined ? {} : { templateDir: options.templateDir }),
    ...(options.pwd === undefined ? {} : { pwd: options.pwd }),
  };
  const stages: StageResult[] = [];
  const warnings: TemplateProblem[] = [];

  // Template.Validate
  const structure = checkStructure(template);
  stages.push({ diagnostics: structure.length > 0 ? [coreError(formatMultierror(structure.map((p) => p.message)))] : [], reported: structure, problems: structure, warnings: [] });

  // min_packer_version
  const min = checkMinVersion(template);
  stages.push(min === undefined ? emptyStage() : { diagnostics: [coreError(min.message)], reported: [min], problems: [min], warnings: [] });

  // variables
  let vars: VariablesOutcome;
  if (options.resolvedVariables !== undefined) {
    vars = checkRequiredVariables(template, options.resolvedVariables) ?? { ok: true, variables: options.resolvedVariables };
  } else {
    vars = resolveVariablesOutcome({
      template,
      ...(options.varFiles ? { varFiles: options.varFiles } : {}),
      ...(options.vars ? { vars: options.vars } : {}),
      env: options.env ?? {},
      statics: place.statics,
      ...(place.templateDir === undefined ? {} : { templateDir: place.templateDir }),
      ...(place.pwd === undefined ? {} : { pwd: place.pwd }),
    });
  }
  if (!vars.ok) {
    stages.push({ diagnostics: [coreError(vars.packerDetail)], reported: [...vars.problems], problems: [...vars.problems], warnings: [] });
  } else {
    // build names, then the builds
    const names = renderBuildNames(template, vars.variables, place);
    if (!names.ok) {
      stages.push({ diagnostics: [coreError(names.problem.message)], reported: [names.problem], problems: [names.problem], warnings: [] });
    } else {
      warnings.push(...names.collisions);
      const builds = buildsStage(template, vars.variables, options, place, names.builds);
      // Packer silently keeps one of two builds whose names render the same; kiln says so (a warning keeps
      // Packer's verdict).
      builds.diagnostics.unshift(
        ...names.collisions.map((p): Diagnostic => ({ severity: "warning", summary: "Duplicate build name", detail: `${p.message} (${p.location?.path ?? ""} in ${p.location?.file ?? ""}, line ${p.location?.line ?? 0})` })),
      );
      stages.push(builds);
    }
  }

  const failing = stages.find((s) => s.diagnostics.some((d) => d.severity === "error"));
  const problems = [...(failing?.reported ?? []), ...stages.flatMap((s) => s.problems).filter((p) => !(failing?.reported ?? []).includes(p))];
  const last = stages[stages.length - 1];
  const allWarnings = [...warnings, ...stages.flatMap((s) => s.warnings)];
  if (failing === undefined) {
    const diagnostics = last?.diagnostics ?? [];
    return { valid: true, classes: [], problems: [], warnings: allWarnings, outcome: { kind: "diagnostics", diagnostics }, template };
  }
  const classes = [...new Set(failing.reported.map((p) => p.class))];
  return { valid: false, classes, problems, warnings: allWarnings, outcome: { kind: "diagnostics", diagnostics: failing.diagnostics }, template };
}
