/**
 * The job runner: one Packer build on this agent. The worker (./worker) claims a job and calls `runJob`; everything
 * Packer does for one build happens here, in Packer's order:
 *
 * ```
 *   compile (interpolate, validate, prepare every plugin)
 *     └─▶ builder pipeline (its steps, with the provision step calling the provisioners)
 *           └─▶ post-processor chains (keep/destroy rules)
 *                 └─▶ outcome: Packer's artifact list, manifest entries, or the failure
 * ```
 */
import { BuildFailedError, ensureKilnError } from "../../core/src/mod.js";
import type { Job__Output, ManifestEntry } from "../../proto/src/mod.js";
import { toWireArtifact, type LocalArtifact } from "./artifact.js";
import { compileJob, type CompiledJob } from "./compile.js";
import type { PipelineContext } from "./pipeline/mod.js";
import { BUILDERS } from "./plugins.js";
import type { Communicator } from "./communicators/communicator.js";
import type { BuilderContext, PluginContext } from "./plugin_api.js";
import { runPostProcessors } from "./post_process.js";
import { makeProvisionHook } from "./provision.js";
import type { JobOutcome, JobRunContext } from "./run_types.js";
import { render, type EngineContext } from "./template.js";
import { cancellationOf, stoppedJobState, throwIfCancelled } from "./util/abort.js";

/**
 * The builder types this host can run, as the agent advertises them: every implemented builder whose detection
 * (hypervisor installed, ...) succeeds. `file` and `null` need nothing and are always there.
 */
export function localBuilderTypes(): string[] {
  return BUILDERS.filter((b) => b.detect()).map((b) => b.type);
}

/** Packer's MultiError text. */
function multiError(errors: readonly string[]): string {
  return `${errors.length} error(s) occurred:\n\n${errors.map((e) => `* ${e}`).join("\n")}`;
}

/**
 * The engine context of a plugin's run-time rendering: the dot data is also what `{{build}}` reads, as in Packer,
 * where both come from the plugin's generated data.
 */
function runPassContext(compiled: CompiledJob, data: Readonly<Record<string, unknown>> | undefined): EngineContext {
  if (data === undefined) return compiled.engine;
  const buildValues = Object.fromEntries(Object.entries(data).filter((e): e is [string, string] => typeof e[1] === "string"));
  return { ...compiled.engine, data, buildValues };
}

function pluginContextFor(
  compiled: CompiledJob,
  ctx: JobRunContext,
  step: Pick<PipelineContext, "signal" | "log" | "heartbeat">,
  generatedData?: Readonly<Record<string, string>>,
  communicator?: Communicator,
): PluginContext {
  return {
    signal: step.signal,
    workDir: ctx.workDir,
    build: compiled.build,
    generatedData,
    communicator,
    log: (level, text) => step.log(level, text),
    heartbeat: () => step.heartbeat(),
    render: (text, data) => render(text, runPassContext(compiled, data)),
    pause: ctx.pause?.bind(ctx),
  };
}

/**
 * Runs one job (one Packer build) to its end. Never throws: failures and cancellation are in the outcome. Relative
 * paths resolve against `ctx.workDir`; every long operation honours `ctx.signal`.
 *
 * @returns on success, the artifacts exactly as Packer lists them at the end of the run (duplicates included); on
 *   failure or cancel, no artifacts (Packer lists none for a failed build). Manifest entries produced before a
 *   post-processor failure are returned either way, as Packer has written them to the file by then.
 */
export async function runJob(job: Job__Output, ctx: JobRunContext): Promise<JobOutcome> {
  let manifestEntries: readonly ManifestEntry[] = [];
  const wire = (a: LocalArtifact): ReturnType<typeof toWireArtifact> => toWireArtifact(a, ctx.workDir, job.name, job.job_id);
  try {
    throwIfCancelled(ctx.signal);
    const compiled = await compileJob(job, ctx);
    for (const w of compiled.warnings) ctx.log("say", `Warning: ${w}`);

    const base = pluginContextFor(compiled, ctx, ctx);
    const hook = makeProvisionHook(compiled.provisioners, compiled.errorCleanupProvisioner, (step, data, comm) =>
      pluginContextFor(compiled, ctx, step, data, comm),
    );
    const builderCtx: BuilderContext = {
      ...base,
      step: (name, finished, outcome) => ctx.step(name, finished, outcome),
      onError: compiled.onError,
      hook,
    };
    const artifact = await compiled.builder.run(builderCtx);
    throwIfCancelled(ctx.signal);
    if (artifact === undefined) return { state: "succeeded", artifacts: [], manifestEntries };
    ctx.artifact(await wire(artifact));

    const post = await runPostProcessors(compiled.chains, artifact, base, async (a) => ctx.artifact(await wire(a)));
    manifestEntries = post.manifestEntries;
    if (post.errors.length > 0) {
      return { state: "failed", failure: new BuildFailedError(multiError(post.errors)), artifacts: [], manifestEntries };
    }
    const artifacts = [];
    for (const a of post.artifacts) artifacts.push(await wire(a));
    return { state: "succeeded", artifacts, manifestEntries };
  } catch (err) {
    if (ctx.signal.aborted) {
      const failure = cancellationOf(ctx.signal);
      return { state: stoppedJobState(failure), failure, artifacts: [], manifestEntries };
    }
    return { state: "failed", failure: ensureKilnError(err), artifacts: [], manifestEntries };
  }
}
