/** Runs a typed step pipeline: steps in order, the signal checked between them, cleanups in reverse. */
import { CancelledError, ensureKilnError, hasErrorCode, ErrorCode, type KilnError } from "../../../core/src/mod.js";
import { withOnErrorPolicy, type OnErrorPolicy } from "./on_error.js";
import type { PipelineState, Step, StepContext, StepOutcome } from "./step.js";

/** A StepContext that also reports step boundaries (the job's `step` events). */
export interface PipelineContext extends StepContext {
  step?(name: string, finished: boolean, outcome?: StepOutcome): void;
}

export interface PipelineOptions {
  /** @default "cleanup" */
  readonly onError?: OnErrorPolicy;
}

export interface PipelineResult {
  readonly outcome: StepOutcome;
  /** Set when a step halted (or threw); on "cancelled", the abort reason when no step recorded an error. */
  readonly error?: KilnError;
}

function abortReason(signal: AbortSignal): KilnError {
  const reason: unknown = signal.reason;
  return hasErrorCode(reason, ErrorCode.Cancelled) ? ensureKilnError(reason) : new CancelledError(undefined, { cause: reason });
}

/**
 * Runs `steps` against `state`. Never throws for a step's failure: the result says how the run ended. Every step
 * that started gets its cleanup once, in reverse order, even when the job was cancelled; a cleanup that throws is
 * logged and the others still run.
 */
export async function runPipeline<S extends PipelineState>(
  steps: readonly Step<S>[],
  state: S,
  ctx: PipelineContext,
  options: PipelineOptions = {},
): Promise<PipelineResult> {
  const wrapped = options.onError === undefined ? steps : withOnErrorPolicy(steps, options.onError);
  const started: Step<S>[] = [];
  let outcome: StepOutcome = "ok";
  try {
    for (const step of wrapped) {
      if (ctx.signal.aborted) {
        outcome = "cancelled";
        break;
      }
      started.push(step);
      ctx.step?.(step.name, false);
      let action: "continue" | "halt";
      try {
        action = await step.run(ctx, state);
      } catch (err) {
        state.error ??= ensureKilnError(err);
        action = "halt";
      }
      // A cancel that lands while a step runs wins over its result, as in Packer's BasicRunner.
      const stepOutcome: StepOutcome = ctx.signal.aborted ? "cancelled" : action === "halt" ? "halted" : "ok";
      ctx.step?.(step.name, true, stepOutcome);
      if (stepOutcome !== "ok") {
        outcome = stepOutcome;
        break;
      }
      ctx.heartbeat();
    }
  } finally {
    for (const step of started.reverse()) {
      try {
        await step.cleanup?.(state, outcome, ctx);
      } catch (err) {
        ctx.log("error", `cleanup of step "${step.name}" failed: ${ensureKilnError(err).message}`);
      }
      ctx.heartbeat();
    }
  }
  if (outcome === "cancelled") return { outcome, error: state.error ?? abortReason(ctx.signal) };
  if (outcome === "halted") return { outcome, error: state.error ?? ensureKilnError(new Error("a step halted without an error")) };
  return { outcome };
}
