/** The typed multistep pipeline builders are made of. */
export type { Step, StepAction, StepOutcome, StepContext, CleanupContext, PipelineState } from "./step.js";
export { runPipeline, type PipelineContext, type PipelineOptions, type PipelineResult } from "./runner.js";
export { OnErrorPolicy, parseOnErrorPolicy, withOnErrorPolicy } from "./on_error.js";
