/**
 * The state machine of a build, shared by coordinators (submit, cancel) and agents (claim, finish):
 *
 *   job:    QUEUED ──claim(attempt n)──▶ RUNNING ──▶ SUCCEEDED | FAILED | CANCELLED
 *              │   ◀──lease lost, re-claimed with n+1──┘
 *              └──cancel──▶ CANCELLED
 *   build:  QUEUED ──first claim──▶ RUNNING ──every job terminal──▶ SUCCEEDED | FAILED | CANCELLED
 *
 * Whoever makes the last job terminal also settles the build (compare-and-set picks exactly one writer), merges the
 * manifest entries of all jobs into the build's output files, and publishes the build-level state event that ends
 * every WatchBuild stream. Held jobs (-parallel-builds) are released here as running jobs end.
 */
import { headers, type NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient } from "@nats-io/jetstream";
import { codecs } from "../../../proto/src/mod.js";
import type { BuildRecord__Output, BuildState__Output, Failure, Job, Job__Output, JobEvent, JobRecord, JobRecord__Output, OutputFile } from "../../../proto/src/mod.js";
import { BUILD_EVENT_JOB, subjects } from "./names.js";
import { FarmStore, TERMINAL_BUILD_STATES, TERMINAL_JOB_STATES, UNCHANGED } from "./store.js";
import { NotFoundError } from "../errors.js";
import { retryTransient } from "./transient.js";

/** Publishes one event on the build's event subject. Returns the stream sequence. */
export async function publishEvent(js: JetStreamClient, event: JobEvent, msgId?: string): Promise<number> {
  const subject = subjects.events(event.build_id ?? "", event.job_id || BUILD_EVENT_JOB);
  const opts = msgId ? { msgID: msgId } : {};
  const data = codecs.JobEvent.encode({ time_ms: Date.now(), ...event });
  // Only an event with a message id is safe to publish again (the stream drops the repeat).
  const ack = msgId ? await retryTransient(() => js.publish(subject, data, opts)) : await js.publish(subject, data, opts);
  return ack.seq;
}

/** Publishes a job onto its routing subject; the msg id makes a repeated publish of the same job a no-op. */
export async function publishJob(js: JetStreamClient, job: Job__Output, traceHeaders?: Record<string, string>): Promise<void> {
  const h = headers();
  for (const [k, v] of Object.entries(traceHeaders ?? {})) h.set(k, v);
  const data = codecs.Job.encode(job);
  await retryTransient(() => js.publish(subjects.job(job.datacenter, job.builder_type), data, { msgID: `${job.build_id}.${job.job_id}`, headers: h }));
}

/** A job's record as the coordinator creates it; agents rebuild it from the job to claim without reading it. */
export function queuedJobRecord(job: Job__Output | Job): JobRecord {
  return {
    build_id: job.build_id ?? "",
    job_id: job.job_id ?? "",
    name: job.name ?? "",
    builder_type: job.builder_type ?? "",
    datacenter: job.datacenter ?? "",
    state: "JOB_STATE_QUEUED",
    subject: subjects.job(job.datacenter ?? "", job.builder_type ?? ""),
  };
}

function finalBuildState(build: BuildRecord__Output, jobs: readonly JobRecord__Output[]): BuildState__Output {
  if (jobs.some((j) => j.state === "JOB_STATE_FAILED")) return "BUILD_STATE_FAILED";
  if (build.cancel_requested || jobs.some((j) => j.state === "JOB_STATE_CANCELLED")) return "BUILD_STATE_CANCELLED";
  return "BUILD_STATE_SUCCEEDED";
}

/**
 * Merges the manifest entries of every job into one document per output path, in the order the jobs finished
 * (Packer appends in completion order). The CLI merges each into the file on the user's side.
 */
export function mergeManifests(buildId: string, jobs: readonly JobRecord__Output[]): OutputFile[] {
  const byOutput = new Map<string, unknown[]>();
  const ordered = [...jobs].sort((a, b) => Number(a.finished_at_ms) - Number(b.finished_at_ms));
  for (const job of ordered) {
    for (const entry of job.manifest_entries) {
      const list = byOutput.get(entry.output) ?? [];
      list.push(JSON.parse(entry.entry_json));
      byOutput.set(entry.output, list);
    }
  }
  return [...byOutput].map(([output, builds]) => ({
    path: output,
    content: Buffer.from(JSON.stringify({ builds, last_run_uuid: buildId }, null, 2)),
    merge_manifest: true,
  }));
}

export interface SettleResult {
  readonly build: BuildRecord__Output;
  /** True when this call moved the build into a terminal state. */
  readonly finished: boolean;
}

/**
 * Brings the build record in line with its jobs: RUNNING once a job runs, terminal once all are, and releases held
 * jobs while the build runs fewer than its parallel limit. Safe to call from anywhere, any number of times.
 */
export async function settleBuild(
  store: FarmStore,
  js: JetStreamClient,
  buildId: string,
  /** Job records the caller has just written (its CAS result): they are not read again. */
  justWritten: readonly JobRecord__Output[] = [],
): Promise<SettleResult> {
  const known = await store.getBuildEntry(buildId);
  if (!known) throw new NotFoundError(`no build with id ${buildId}`);
  const before = known.record;
  if (TERMINAL_BUILD_STATES.has(before.state)) return { build: before, finished: false };
  const jobs = await store.getJobs(before, justWritten);
  const allTerminal = jobs.length === before.job_ids.length && jobs.every((j) => TERMINAL_JOB_STATES.has(j.state));
  const anyStarted = jobs.some((j) => j.state !== "JOB_STATE_QUEUED" && j.state !== "JOB_STATE_WAITING");
  let released: string[] = [];

  const { record, changed } = await store.updateBuild(buildId, (current) => {
    if (TERMINAL_BUILD_STATES.has(current.state)) return UNCHANGED;
    released = [];
    if (allTerminal) {
      return {
        ...current,
        state: finalBuildState(current, jobs),
        finished_at_ms: Date.now(),
        output_files: mergeManifests(current.id, jobs),
        held_job_ids: [],
      };
    }
    const limit = current.options?.parallel_builds ?? 0;
    const held = [...current.held_job_ids];
    if (limit > 0 && held.length > 0 && !current.cancel_requested) {
      const active = jobs.filter((j) => !TERMINAL_JOB_STATES.has(j.state) && !held.includes(j.job_id)).length;
      while (held.length > 0 && active + released.length < limit) released.push(held.shift() as string);
    }
    const state: BuildState__Output = anyStarted ? "BUILD_STATE_RUNNING" : current.state;
    if (state === current.state && released.length === 0) return UNCHANGED;
    return { ...current, state, held_job_ids: held };
  }, known);

  if (changed) {
    for (const jobId of released) {
      await publishJob(js, await store.getSpec(buildId, jobId));
      await store.deleteSpec(buildId, jobId);
    }
  }
  const finished = changed && TERMINAL_BUILD_STATES.has(record.state);
  if (finished && (record.options?.parallel_builds ?? 0) > 0) {
    // Specs of jobs that were still held when the build ended (cancelled) go too.
    await Promise.all(record.job_ids.map((jobId) => store.deleteSpec(buildId, jobId)));
  }
  if (finished) {
    await publishEvent(js, { build_id: buildId, job_id: "", state: { build_state: record.state } }, `${buildId}.finished`);
  }
  return { build: record, finished };
}

/** Why a build is being stopped before its jobs ended. */
export interface StopReason {
  /** What the jobs that have not started end as: CANCELLED for a cancel, FAILED for a timeout or fail-fast. */
  readonly queuedJobsEndAs: "JOB_STATE_CANCELLED" | "JOB_STATE_FAILED";
  /** Recorded on those jobs, and sent to the agents running the others, which stop with it. */
  readonly failure: Failure;
}

/**
 * Stops a build: marks it, ends its queued jobs, tells the agents running the others (they stop with
 * `reason.failure`, running their cleanup) and settles it. Used by cancel, the build timeout and fail-fast; safe to
 * call more than once and from several processes (the first marker wins; later calls change nothing).
 *
 * @returns false when the build had already ended or was already being stopped.
 */
export async function stopBuild(store: FarmStore, js: JetStreamClient, nc: NatsConnection, buildId: string, reason: StopReason): Promise<boolean> {
  const { changed } = await store.updateBuild(buildId, (b) =>
    TERMINAL_BUILD_STATES.has(b.state) || b.cancel_requested ? UNCHANGED : { ...b, cancel_requested: true },
  );
  if (!changed) return false;
  // Queued jobs end here; an agent that pulls one later finds it terminal and drops it. Running jobs stop on the
  // message, published after: an agent listens before it claims, so a job claimed while this loop ran still hears it.
  const build = await store.requireBuild(buildId);
  for (const jobId of build.job_ids) {
    const { changed: ended, record } = await store.updateJob(buildId, jobId, (j) =>
      j.state === "JOB_STATE_QUEUED" || j.state === "JOB_STATE_WAITING"
        ? { ...j, state: reason.queuedJobsEndAs, finished_at_ms: Date.now(), failure: reason.failure }
        : UNCHANGED,
    );
    if (ended) {
      await publishEvent(js, { build_id: buildId, job_id: jobId, name: record.name, state: { job_state: record.state, failure: record.failure } });
    }
  }
  nc.publish(subjects.cancel(buildId), codecs.Failure.encode(reason.failure));
  await settleBuild(store, js, buildId);
  return true;
}
