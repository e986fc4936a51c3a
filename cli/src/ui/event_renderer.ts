import type { JobEvent__Output } from "../../../proto/src/mod.js";
import type { PackerUi } from "./packer_ui.js";

/**
 * Turns events into Packer's lines. Only the latest attempt of a job speaks: a superseded attempt (its agent lost the
 * lease) may still publish a late result, which is dropped.
 */
export class EventRenderer {
  private readonly attempts = new Map<string, number>();
  /** Jobs whose latest attempt failed with a retryable error and were put back in the queue. */
  private readonly retrying = new Set<string>();

  constructor(private readonly ui: PackerUi) {}

  render(event: JobEvent__Output): void {
    const ui = this.ui;
    const name = event.name;
    const latest = this.attempts.get(event.job_id) ?? 0;
    if (event.attempt > latest) this.attempts.set(event.job_id, event.attempt);
    if (event.attempt < latest) return;
    if (event.log) {
      if (event.log.level === "LEVEL_SAY") ui.say(name, event.log.text);
      else if (event.log.level === "LEVEL_ERROR") ui.error(name, event.log.text);
      else ui.message(name, event.log.text);
    } else if (event.state) {
      const s = event.state;
      if (s.job_state === "JOB_STATE_WAITING") ui.say(name, "Waiting: no live agent can run this build's builder type yet; it stays queued.");
      else if (s.job_state === "JOB_STATE_QUEUED" && Number(s.retry_in_ms) > 0) {
        this.retrying.add(event.job_id);
        ui.error(name, `Attempt ${s.attempt} failed: ${s.failure?.message ?? "unknown error"}`);
        ui.say(name, `That is an infrastructure error, not the template's: retrying in ${(Number(s.retry_in_ms) / 1000).toFixed(1)}s.`);
      } else if (s.job_state === "JOB_STATE_RUNNING" && s.attempt > 1) {
        const why = this.retrying.delete(event.job_id) ? "retrying after an infrastructure error" : "the previous attempt was lost";
        ui.say(name, `Running again on agent ${s.agent} (attempt ${s.attempt}): ${why}.`);
      } else if (s.job_state === "JOB_STATE_FAILED" && s.failure) {
        // A job that never started: the build timed out or a sibling failed with -fail-fast.
        ui.buildFinished(name, 0, s.failure.message);
      }
    } else if (event.result) {
      const r = event.result;
      const error = r.state === "JOB_STATE_SUCCEEDED" ? undefined : r.failure?.message || "Build was cancelled.";
      ui.buildFinished(name, Number(r.duration_ms), error);
    }
  }
}
