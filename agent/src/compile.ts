/**
 * Turns a Job into runnable plugins: each config is interpolated with the template engine (the agent is where
 * `template_dir`, `pwd` and the build's facts are known), validated through its schema and prepared on this host.
 * Like Packer, which prepares every plugin before it builds, all problems are found before anything runs.
 */
import { InvalidTemplateError, UnsupportedError, ensureKilnError, type KilnError, DurationSyntaxError, parseGoDuration, type PluginKind } from "../../core/src/mod.js";
import type { Job__Output, Provisioner__Output } from "../../proto/src/mod.js";
import type { EngineContext } from "./template.js";
import { findBuilder, findPostProcessor, findProvisioner } from "./plugins.js";
import { parseOnErrorPolicy, type OnErrorPolicy } from "./pipeline/mod.js";
import type { BuildInfo, BuilderInstance, PluginDefinition, PrepareContext } from "./plugin_api.js";
import type { CompiledPostProcessor } from "./post_process.js";
import type { CompiledProvisioner } from "./provision.js";
import { basicPlaceholderData, interpolateValue, renderCore } from "./template.js";

/** The version kiln reports for `{{packer_version}}`: the Packer whose behaviour it reproduces. */
export const PACKER_COMPAT_VERSION = "1.6.6";

export interface CompiledJob {
  readonly build: BuildInfo;
  readonly engine: EngineContext;
  readonly builder: BuilderInstance;
  readonly provisioners: readonly CompiledProvisioner[];
  readonly errorCleanupProvisioner?: CompiledProvisioner;
  readonly chains: readonly (readonly CompiledPostProcessor[])[];
  readonly onError: OnErrorPolicy;
  /** Prepare warnings, prefixed with the plugin they concern. */
  readonly warnings: readonly string[];
}

export interface CompileContext {
  readonly workDir: string;
  readonly templateDir: string;
  readonly attempt?: number;
}

/** The engine context of a job: the same statics in every job of a build, so `{{timestamp}}` agrees across agents. */
export function engineContextFor(job: Job__Output, ctx: CompileContext): EngineContext {
  const statics = job.statics;
  const unix = Number(statics?.init_time_unix ?? "0");
  const nanos = BigInt(statics?.init_time_nanos || "0");
  const initTimeUnix = unix > 0 ? unix : Math.floor(Date.now() / 1000);
  return {
    userVariables: { ...job.user_variables },
    buildName: job.name,
    buildType: job.builder_type,
    templateDir: ctx.templateDir,
    pwd: ctx.workDir,
    packerVersion: PACKER_COMPAT_VERSION,
    statics: {
      initTimeUnix,
      initTimeMs: nanos > 0n ? Number(nanos / 1_000_000n) : initTimeUnix * 1000,
      uuid: statics?.template_uuid ?? "",
    },
  };
}

/** Go's `strconv.Atoi`, for `max_retries`. */
function atoi(s: string): number | string {
  if (/^[+-]?\d+$/.test(s)) {
    const n = Number(s);
    if (Number.isSafeInteger(n)) return n;
    return `strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`;
  }
  return `strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`;
}

class Problems {
  readonly problems: string[] = [];
  readonly unsupported: string[] = [];
  readonly warnings: string[] = [];
  add(where: string, messages: readonly string[]): void {
    for (const m of messages) this.problems.push(`${where}: ${m}`);
  }
  error(): KilnError | undefined {
    if (this.unsupported.length > 0) return new UnsupportedError([...this.unsupported, ...this.problems].join("\n"));
    if (this.problems.length > 0) return new InvalidTemplateError(this.problems);
    return undefined;
  }
}

function parseConfig(json: string, where: string, out: Problems): Record<string, unknown> | undefined {
  if (json.trim() === "") return {};
  try {
    const v: unknown = JSON.parse(json);
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    out.add(where, ["the plugin config is not a JSON object"]);
  } catch (err) {
    out.add(where, [`the plugin config is not valid JSON: ${(err as Error).message}`]);
  }
  return undefined;
}

/**
 * The engine context a plugin's config is interpolated in. Builders get no build values (`{{build}}` is an error
 * there, as in Packer); provisioners and post-processors get Packer's placeholders, so `{{build \`ID\`}}` becomes
 * `{{.ID}}` for the run-time pass to fill in with the build's generated data.
 */
function configContext(kind: PluginKind, engine: EngineContext): EngineContext {
  if (kind === "builder") return engine;
  const placeholders = basicPlaceholderData();
  return { ...engine, data: placeholders, buildValues: placeholders };
}

async function preparePlugin<K extends PluginKind, T>(
  def: PluginDefinition<K, T> | undefined,
  kind: K,
  type: string,
  configJson: string,
  where: string,
  engine: EngineContext,
  prep: PrepareContext,
  out: Problems,
): Promise<T | undefined> {
  if (def === undefined) {
    out.unsupported.push(`${where}: kiln does not run ${kind} type "${type}" (Unknown ${kind} ${type})`);
    return undefined;
  }
  const raw = parseConfig(configJson, where, out);
  if (raw === undefined) return undefined;
  let interpolated: unknown;
  try {
    interpolated = interpolateValue(raw, configContext(kind, engine), { skipKeys: new Set(def.schema.lateRenderedKeys ?? []) });
  } catch (err) {
    out.add(where, [ensureKilnError(err).message]);
    return undefined;
  }
  const prepared = await def.prepare(interpolated as Record<string, unknown>, prep);
  out.add(where, prepared.problems);
  for (const w of prepared.warnings) out.warnings.push(`${where}: ${w}`);
  return prepared.instance;
}

async function compileProvisioner(
  p: Provisioner__Output,
  where: string,
  engine: EngineContext,
  prep: PrepareContext,
  out: Problems,
): Promise<CompiledProvisioner | undefined> {
  const duration = (key: string, text: string): number => {
    if (text === "") return 0;
    try {
      return parseGoDuration(text);
    } catch (err) {
      if (!(err instanceof DurationSyntaxError)) throw err;
      out.add(where, [`error decoding '${key}': ${err.message}`]);
      return 0;
    }
  };
  const pauseBeforeMs = duration("pause_before", p.pause_before);
  const timeoutMs = duration("timeout", p.timeout);
  let maxRetries = 0;
  if (p.max_retries !== "") {
    try {
      // Packer core renders `max_retries` until it stops changing, not once as plugin configs are.
      const parsed = atoi(renderCore(p.max_retries, engine));
      if (typeof parsed === "number") maxRetries = parsed;
      else out.add(where, [`\`max_retries\` must be a valid integer: ${parsed}`]);
    } catch (err) {
      out.add(where, [`failed to interpolate \`max_retries\`: ${ensureKilnError(err).message}`]);
    }
  }
  const instance = await preparePlugin(findProvisioner(p.type), "provisioner", p.type, p.config_json, where, engine, prep, out);
  return instance === undefined ? undefined : { type: p.type, pauseBeforeMs, timeoutMs, maxRetries, instance };
}

/**
 * Compiles every plugin of the job. @throws InvalidTemplateError with every problem, UnsupportedError when a plugin
 * type is not implemented here, InvalidArgumentError for a bad `-on-error`.
 */
export async function compileJob(job: Job__Output, ctx: CompileContext): Promise<CompiledJob> {
  const onError = parseOnErrorPolicy(job.options?.on_error ?? "");
  const engine = engineContextFor(job, ctx);
  const prep: PrepareContext = { workDir: ctx.workDir };
  const out = new Problems();

  const builder = await preparePlugin(
    findBuilder(job.builder_type),
    "builder",
    job.builder_type,
    job.builder_config_json,
    `builder "${job.name}" (${job.builder_type})`,
    engine,
    prep,
    out,
  );
  const provisioners: CompiledProvisioner[] = [];
  for (const [i, p] of job.provisioners.entries()) {
    const c = await compileProvisioner(p, `provisioner ${i + 1} (${p.type})`, engine, prep, out);
    if (c) provisioners.push(c);
  }
  let errorCleanupProvisioner: CompiledProvisioner | undefined;
  if (job.has_error_cleanup_provisioner && job.error_cleanup_provisioner) {
    const p = job.error_cleanup_provisioner;
    errorCleanupProvisioner = await compileProvisioner(p, `error-cleanup-provisioner (${p.type})`, engine, prep, out);
  }
  const chains: CompiledPostProcessor[][] = [];
  for (const [c, chain] of job.post_processor_chains.entries()) {
    const compiled: CompiledPostProcessor[] = [];
    for (const [j, pp] of chain.steps.entries()) {
      const where = `post-processor ${c + 1}.${j + 1} (${pp.type})`;
      const instance = await preparePlugin(findPostProcessor(pp.type), "post-processor", pp.type, pp.config_json, where, engine, prep, out);
      if (instance) {
        compiled.push({
          type: pp.type,
          name: pp.name || pp.type,
          keepInputArtifact: pp.has_keep_input_artifact ? pp.keep_input_artifact : undefined,
          instance,
        });
      }
    }
    if (compiled.length > 0) chains.push(compiled);
  }

  const error = out.error();
  if (error !== undefined || builder === undefined) throw error ?? new InvalidTemplateError([`builder "${job.name}": could not be prepared`]);
  return {
    build: {
      name: job.name,
      builderType: job.builder_type,
      runUuid: job.statics?.run_uuid || job.build_id,
      jobId: job.job_id,
      attempt: ctx.attempt,
      force: job.options?.force ?? false,
    },
    engine,
    builder,
    provisioners,
    errorCleanupProvisioner,
    chains,
    onError,
    warnings: out.warnings,
  };
}
