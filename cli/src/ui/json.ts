/** The stable JSON shapes of `--json` output, for scripts. */
import type { BuildStatus__Output } from "../../../proto/src/mod.js";

const SHORT_STATE: Record<string, string> = {
  BUILD_STATE_QUEUED: "queued",
  BUILD_STATE_RUNNING: "running",
  BUILD_STATE_SUCCEEDED: "succeeded",
  BUILD_STATE_FAILED: "failed",
  BUILD_STATE_CANCELLED: "cancelled",
  JOB_STATE_QUEUED: "queued",
  JOB_STATE_WAITING: "waiting",
  JOB_STATE_RUNNING: "running",
  JOB_STATE_SUCCEEDED: "succeeded",
  JOB_STATE_FAILED: "failed",
  JOB_STATE_CANCELLED: "cancelled",
};
/** The stable short name of a build or job state in JSON output. */
export const shortState = (state: string): string => SHORT_STATE[state] ?? "unknown";

/** The stable JSON shape of a build for scripts (`kiln builds --json`). */
export function buildJson(status: BuildStatus__Output): object {
  return {
    id: status.build?.id ?? "",
    state: shortState(status.build?.state ?? ""),
    template: status.build?.template_name ?? "",
    created_at: new Date(Number(status.build?.created_at_ms ?? 0)).toISOString(),
    jobs: status.jobs.map((j) => ({
      name: j.name,
      state: shortState(j.state),
      agent: j.agent,
      attempt: j.attempt,
      builder_type: j.builder_type,
      ...(j.failure ? { error: { code: j.failure.code, message: j.failure.message } } : {}),
      ...(j.waiting_reason ? { waiting_reason: j.waiting_reason } : {}),
      artifacts: j.artifacts.map((a) => ({ builder_id: a.builder_id, id: a.id, description: a.description, files: a.files.map((f) => ({ name: f.name, size: Number(f.size) })) })),
    })),
  };
}
