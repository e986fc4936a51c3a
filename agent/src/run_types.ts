/**
 * The contract between the agent's worker (NATS side: claim, lease, events) and the job runner (pipeline side:
 * builder steps, provisioners, post-processors). The worker calls `runJob(job, ctx)` from ./runner.ts and turns
 * every callback into a JobEvent on NATS.
 */
import type { Artifact, ManifestEntry } from "../../proto/src/mod.js";
import type { KilnError } from "../../core/src/mod.js";

export type LogLevel = "say" | "message" | "error";

export interface JobRunContext {
  /** Aborted when the build is cancelled or the agent shuts down; the reason is a KilnError (Cancelled). */
  readonly signal: AbortSignal;
  /** The job's working directory: relative paths in the template resolve here (Packer's cwd). */
  readonly workDir: string;
  /** The directory of the template (`{{template_dir}}`), inside workDir's bundle or the user's real directory. */
  readonly templateDir: string;
  /** Which attempt at the job this is (1 for the first, the default). */
  readonly attempt?: number;
  /** A line for the user; "say" prints `==> name: text`, "message" prints `    name: text`. */
  log(level: LogLevel, text: string): void;
  /** A pipeline step started or finished. */
  step(name: string, finished: boolean, outcome?: "ok" | "halted" | "cancelled"): void;
  /** An artifact was produced (builder or post-processor), for live display. */
  artifact(artifact: Artifact): void;
  /** Keeps the job's lease alive; cheap to call often (the worker throttles). */
  heartbeat(): void;
  /**
   * Pauses the job (the `breakpoint` provisioner) until the build is continued (`kiln continue`); rejects with the
   * cancellation if the job is stopped meanwhile. Absent where nothing could continue it.
   */
  pause?(note: string, signal: AbortSignal): Promise<void>;
}

export type JobOutcomeState = "succeeded" | "failed" | "cancelled";

export interface JobOutcome {
  readonly state: JobOutcomeState;
  /** Set when state is failed or cancelled. */
  readonly failure?: KilnError;
  /** The artifacts Packer lists at the end of the run for this build, in Packer's order. */
  readonly artifacts: readonly Artifact[];
  /** Entries for the coordinator to merge into manifest files (the `manifest` post-processor). */
  readonly manifestEntries: readonly ManifestEntry[];
}
