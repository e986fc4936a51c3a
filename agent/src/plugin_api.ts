/**
 * What the agent's builder, provisioner and post-processor implementations look like, and what they may use.
 * Each implementation pairs with its config schema in core/src/plugins (one source of truth for `validate`).
 */
import type { ManifestEntry } from "../../proto/src/mod.js";
import { META_KEYS, validateWithSchema, type CompiledConfig, type FieldSpecs, type PluginKind, type PluginSchema } from "../../core/src/mod.js";
import type { LocalArtifact } from "./artifact.js";
import type { Communicator } from "./communicators/communicator.js";
import type { CleanupContext, OnErrorPolicy, PipelineContext } from "./pipeline/mod.js";
import type { LogLevel } from "./run_types.js";

/** Facts about the build a plugin runs in. */
export interface BuildInfo {
  /** The Packer build name (`PACKER_BUILD_NAME`). */
  readonly name: string;
  /** The builder type (`PACKER_BUILDER_TYPE`). */
  readonly builderType: string;
  /** `PACKER_RUN_UUID`, the manifest's `packer_run_uuid`. */
  readonly runUuid: string;
  readonly jobId: string;
  /** Which attempt at the job this is (1 for the first; a retry after a lost agent or an infrastructure failure counts up). */
  readonly attempt?: number;
  /** `-force`: builders replace an existing output directory instead of failing. */
  readonly force?: boolean;
}

/** What every plugin may use while it runs. */
export interface PluginContext {
  /** Aborted on cancellation (or the provisioner's timeout): pass it to every long operation. */
  readonly signal: AbortSignal;
  /** The job's working directory: relative paths resolve here, never against process.cwd(). */
  readonly workDir: string;
  readonly build: BuildInfo;
  /**
   * The build values the builder generated (Packer's generated data): provisioners get the builder's, a
   * post-processor gets its input artifact's. The dot data of the run-time rendering pass; undefined for none.
   */
  readonly generatedData?: Readonly<Record<string, string>>;
  /** The builder's connection to the machine (undefined with `communicator: none`). */
  readonly communicator?: Communicator;
  log(level: LogLevel, text: string): void;
  heartbeat(): void;
  /**
   * Renders a text the plugin renders late (Packer's excluded keys, e.g. `execute_command`), in the job's engine
   * context plus dot data (`{{.Script}}`). @throws when the text is not a valid template
   */
  render(text: string, data?: Readonly<Record<string, unknown>>): string;
  /** Waits until the build is continued (`kiln continue`); absent where nothing could continue it. */
  pause?(note: string, signal: AbortSignal): Promise<void>;
}

/** The same context with another signal (a provisioner's timeout, a cleanup that must outlive a cancel). */
export function withSignal(ctx: PluginContext, signal: AbortSignal): PluginContext {
  return {
    signal,
    workDir: ctx.workDir,
    build: ctx.build,
    generatedData: ctx.generatedData,
    communicator: ctx.communicator,
    log: (level, text) => ctx.log(level, text),
    heartbeat: () => ctx.heartbeat(),
    render: (text, data) => ctx.render(text, data),
    pause: ctx.pause?.bind(ctx),
  };
}

/** Host-side checks done once a config is compiled (files exist, ...): problems in Packer's wording. */
export interface PrepareContext {
  readonly workDir: string;
}

/** A compiled plugin, or everything that is wrong with its config. */
export interface Prepared<T> {
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
  readonly instance?: T;
}

/** Runs the provisioners (and, after a failure, the error-cleanup-provisioner) from inside a builder's pipeline. */
export interface ProvisionHook {
  /** Runs the provisioners in order with the builder's generated data; throws the first failure. */
  provision(ctx: PipelineContext, generatedData?: Readonly<Record<string, string>>, communicator?: Communicator): Promise<void>;
  /** Runs the error-cleanup-provisioner, if the template has one; throws its failure. */
  cleanupProvision(ctx: CleanupContext, generatedData?: Readonly<Record<string, string>>, communicator?: Communicator): Promise<void>;
}

export interface BuilderContext extends PluginContext, PipelineContext {
  readonly onError: OnErrorPolicy;
  readonly hook: ProvisionHook;
}

export interface BuilderInstance {
  /** Runs the builder's pipeline. Returns its artifact (none for a builder that makes nothing); throws on failure. */
  run(ctx: BuilderContext): Promise<LocalArtifact | undefined>;
}

export interface ProvisionerInstance {
  /** Throws on failure, with Packer's message. */
  provision(ctx: PluginContext): Promise<void>;
}

/** Packer's `PostProcess` result: `(artifact, keep, forceOverride)`. */
export interface PostProcessResult {
  /** The new artifact; undefined ends the chain quietly, as a nil artifact does in Packer. */
  readonly artifact?: LocalArtifact;
  /** Whether the input artifact should be kept by default. */
  readonly keep: boolean;
  /** When set with `keep`, the user's `keep_input_artifact: false` is ignored. */
  readonly forceOverride: boolean;
  /** The manifest post-processor's entry for the coordinator to merge. */
  readonly manifestEntry?: ManifestEntry;
}

export interface PostProcessorInstance {
  /** Throws on failure, with Packer's message. */
  postProcess(ctx: PluginContext, input: LocalArtifact): Promise<PostProcessResult>;
}

/** An agent-side plugin implementation: its schema, and how to turn an interpolated config into an instance. */
export interface PluginDefinition<K extends PluginKind, T> {
  readonly kind: K;
  readonly type: string;
  readonly schema: PluginSchema;
  /** Validates (through the schema) and does the host-side checks; no other side effects. */
  prepare(config: Readonly<Record<string, unknown>>, ctx: PrepareContext): Promise<Prepared<T>>;
}

export interface BuilderDefinition extends PluginDefinition<"builder", BuilderInstance> {
  /** Whether this host can run the builder (a hypervisor installed, ...). Cheap and synchronous. */
  detect(): boolean;
  /**
   * Removes what jobs of a crashed agent process on this host left (VMs, domains, volumes, containers), never what
   * a live process owns (util/owner.ts). Called once at agent start for each advertised builder; a failure is logged
   * and does not stop the agent. Reports each removal through `log`.
   */
  reapLeftovers?(log: (line: string) => void): Promise<void>;
}
export type ProvisionerDefinition = PluginDefinition<"provisioner", ProvisionerInstance>;
export type PostProcessorDefinition = PluginDefinition<"post-processor", PostProcessorInstance>;

/**
 * Validates a config against its schema, then lets the implementation do its host-side checks and build the
 * instance from the compiled config. Every problem is reported at once.
 */
export async function prepareWithSchema<F extends FieldSpecs, T>(
  schema: PluginSchema<F>,
  config: Readonly<Record<string, unknown>>,
  make: (compiled: CompiledConfig<F>) => Promise<{ problems?: readonly string[]; instance: T }>,
): Promise<Prepared<T>> {
  const result = validateWithSchema(schema, config, META_KEYS[schema.kind]);
  if (result.compiled === undefined) return { problems: result.problems, warnings: result.warnings };
  const made = await make(result.compiled);
  const problems = made.problems ?? [];
  return problems.length > 0 ? { problems, warnings: result.warnings } : { problems, warnings: result.warnings, instance: made.instance };
}
