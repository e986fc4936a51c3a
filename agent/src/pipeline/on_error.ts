/**
 * Packer's `-on-error` policy, as a wrapper around steps (Packer's `abortStep`), so steps never branch on it.
 */
import { InvalidArgumentError } from "../../../core/src/mod.js";
import type { CleanupContext, PipelineState, Step, StepOutcome } from "./step.js";

export const OnErrorPolicy = {
  /** Run every cleanup (Packer's default). */
  Cleanup: "cleanup",
  /** After a halt or cancel, skip every cleanup: leave everything for inspection. */
  Abort: "abort",
  /** Like abort, but the provision step's cleanup (and so the error-cleanup-provisioner) still runs. */
  RunCleanupProvisioner: "run-cleanup-provisioner",
} as const;
export type OnErrorPolicy = (typeof OnErrorPolicy)[keyof typeof OnErrorPolicy];

/** Reads `BuildOptions.on_error` ("" means the default). */
export function parseOnErrorPolicy(value: string): OnErrorPolicy {
  if (value === "") return OnErrorPolicy.Cleanup;
  if ((Object.values(OnErrorPolicy) as string[]).includes(value)) return value as OnErrorPolicy;
  throw new InvalidArgumentError(
    `-on-error=${value} is not supported: use cleanup, abort or run-cleanup-provisioner (ask needs a terminal)`,
  );
}

/**
 * Wraps steps with an on-error policy. Under `cleanup` the steps are returned unchanged. Otherwise every cleanup
 * after a halt or cancel is skipped (except the provision step's under run-cleanup-provisioner), with Packer's
 * messages: the error and the reason once, then "aborted: skipping cleanup of step ..." for each later step.
 */
export function withOnErrorPolicy<S extends PipelineState>(steps: readonly Step<S>[], policy: OnErrorPolicy): Step<S>[] {
  if (policy === OnErrorPolicy.Cleanup) return [...steps];
  let logged = false;
  const skip = (step: Step<S>, state: S, outcome: StepOutcome, ctx: CleanupContext): void => {
    if (logged) {
      ctx.log("error", `aborted: skipping cleanup of step "${step.name}"`);
      return;
    }
    logged = true;
    if (state.error) ctx.log("error", state.error.message);
    ctx.log("error", outcome === "cancelled" ? "Interrupted, aborting..." : `Step "${step.name}" failed, aborting...`);
  };
  return steps.map((step): Step<S> => ({
    name: step.name,
    runsCleanupProvisioner: step.runsCleanupProvisioner,
    run: (ctx, state) => step.run(ctx, state),
    async cleanup(state, outcome, ctx) {
      const keep = outcome === "ok" || (policy === OnErrorPolicy.RunCleanupProvisioner && step.runsCleanupProvisioner === true);
      if (keep) await step.cleanup?.(state, outcome, ctx);
      else skip(step, state, outcome, ctx);
    },
  }));
}
