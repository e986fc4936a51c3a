/**
 * The agent's build pipeline: Packer's multistep, with types.
 *
 * ```
 *   run(step 1) ─continue─▶ run(step 2) ─continue─▶ … ─▶ run(step n)
 *        │ halt / throw / abort      │
 *        ▼                           ▼
 *   cleanup(step k) … cleanup(step 1)      (reverse order, only the steps that started, each once)
 * ```
 *
 * A step reports failure by setting `state.error` and returning "halt", or by throwing (the runner records the error
 * and halts). The runner checks the AbortSignal between steps; a step that takes a while must honour it itself.
 */
import type { KilnError } from "../../../core/src/mod.js";
import type { LogLevel } from "../run_types.js";

/** What a step asks for next. */
export type StepAction = "continue" | "halt";

/** How a pipeline run ended, as seen by cleanups: keep artifacts on "ok", remove them otherwise. */
export type StepOutcome = "ok" | "halted" | "cancelled";

/** The minimum every per-builder state carries: the error that halted the pipeline. */
export interface PipelineState {
  error?: KilnError;
}

/** What a cleanup may use: it runs after the job's signal may have fired, so it gets no signal of its own. */
export interface CleanupContext {
  log(level: LogLevel, text: string): void;
  heartbeat(): void;
}

/** What a running step may use. */
export interface StepContext extends CleanupContext {
  /** Aborted when the job is cancelled; pass it on to every long operation. */
  readonly signal: AbortSignal;
}

/** A step of a builder, typed by the builder's state object. */
export interface Step<S extends PipelineState> {
  readonly name: string;
  /**
   * Marks the step whose cleanup runs the error-cleanup-provisioner (Packer's StepProvision): under
   * `-on-error=run-cleanup-provisioner` it is the one cleanup that still runs after a failure.
   */
  readonly runsCleanupProvisioner?: boolean;
  run(ctx: StepContext, state: S): Promise<StepAction>;
  /**
   * Undoes what `run` did, for steps that started. Called at most once per run, in reverse order, whatever the
   * outcome; must tolerate a `run` that stopped half-way (idempotent). Must not throw for expected conditions.
   */
  cleanup?(state: S, outcome: StepOutcome, ctx: CleanupContext): Promise<void>;
}
