/**
 * Build and job state in the kiln_builds KV bucket. Every write is compare-and-set on the entry's revision, so
 * any number of coordinators and agents can move state concurrently without a lock; a job's `attempt` is the fencing
 * token that keeps a stale agent (one whose lease expired) from overwriting the current attempt's state.
 */
import type { KV } from "@nats-io/kv";
import { codecs } from "../../../proto/src/mod.js";
import type { BuildRecord, BuildRecord__Output, BuildStatus__Output, Job, Job__Output, JobRecord, JobRecord__Output } from "../../../proto/src/mod.js";
import { NotFoundError, UnavailableError } from "../errors.js";
import { kvKeys } from "./names.js";
import { retryTransient } from "./transient.js";

const MAX_CAS_RETRIES = 50;

export const TERMINAL_JOB_STATES: ReadonlySet<string> = new Set(["JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"]);
export const TERMINAL_BUILD_STATES: ReadonlySet<string> = new Set(["BUILD_STATE_SUCCEEDED", "BUILD_STATE_FAILED", "BUILD_STATE_CANCELLED"]);

/** A record as read, with the KV revision a compare-and-set must match. */
export interface Versioned<T> {
  readonly record: T;
  readonly revision: number;
}

/** What a compare-and-set left: the record as stored, whether this call changed it, and its revision. */
export interface CasResult<T> extends Versioned<T> {
  readonly changed: boolean;
}

/** Returned by an update function to leave the entry as it is. */
export const UNCHANGED = Symbol("unchanged");

function isWrongLastSequence(err: unknown): boolean {
  // JetStream answers a failed compare-and-set with API error 10071 ("wrong last sequence").
  return err instanceof Error && "code" in err && (err as { code: unknown }).code === 10071;
}

export class FarmStore {
  constructor(private readonly kv: KV) {}

  /**
   * Creates a build's job records, then the build record (a build that is visible has all its jobs), then stores
   * `specs` — the jobs held back by -parallel-builds — until they are released. Returns each job record's revision.
   */
  async createBuild(build: BuildRecord, jobs: readonly JobRecord[], specs: readonly Job[]): Promise<Map<string, number>> {
    const revisions = await Promise.all(jobs.map((job) => this.kv.create(kvKeys.job(job.build_id ?? "", job.job_id ?? ""), codecs.JobRecord.encode(job))));
    await this.kv.create(kvKeys.build(build.id ?? ""), codecs.BuildRecord.encode(build));
    const byJob = new Map(jobs.map((job, i) => [job.job_id ?? "", revisions[i] ?? 0]));
    for (const spec of specs) {
      await this.kv.put(`spec.${spec.build_id}.${spec.job_id}`, codecs.Job.encode({ ...spec, record_revision: byJob.get(spec.job_id ?? "") ?? 0 }));
    }
    return byJob;
  }

  async getSpec(buildId: string, jobId: string): Promise<Job__Output> {
    const entry = await retryTransient(() => this.kv.get(`spec.${buildId}.${jobId}`));
    if (!entry || entry.operation !== "PUT") throw new NotFoundError(`job ${buildId}/${jobId} has no stored spec`);
    return codecs.Job.decode(entry.value);
  }

  /** Removes a held job's spec once it is published or can no longer run: it carries the build's variables. */
  async deleteSpec(buildId: string, jobId: string): Promise<void> {
    await retryTransient(() => this.kv.purge(`spec.${buildId}.${jobId}`));
  }

  async getBuild(buildId: string): Promise<BuildRecord__Output | null> {
    return (await this.getBuildEntry(buildId))?.record ?? null;
  }

  /** The build record with its KV revision, to pass to updateBuild and save it a read. */
  async getBuildEntry(buildId: string): Promise<Versioned<BuildRecord__Output> | null> {
    const entry = await retryTransient(() => this.kv.get(kvKeys.build(buildId)));
    if (!entry || entry.operation !== "PUT") return null;
    return { record: codecs.BuildRecord.decode(entry.value), revision: entry.revision };
  }

  async requireBuild(buildId: string): Promise<BuildRecord__Output> {
    const build = await this.getBuild(buildId);
    if (!build) throw new NotFoundError(`no build with id ${buildId}`);
    return build;
  }

  async getJob(buildId: string, jobId: string): Promise<JobRecord__Output | null> {
    const entry = await retryTransient(() => this.kv.get(kvKeys.job(buildId, jobId)));
    if (!entry || entry.operation !== "PUT") return null;
    return codecs.JobRecord.decode(entry.value);
  }

  /** The build's job records, in the build's order; `known` records are taken as they are instead of read. */
  async getJobs(build: BuildRecord__Output, known: readonly JobRecord__Output[] = []): Promise<JobRecord__Output[]> {
    const jobs = await Promise.all(build.job_ids.map((id) => known.find((j) => j.job_id === id) ?? this.getJob(build.id, id)));
    return jobs.filter((j): j is JobRecord__Output => j !== null);
  }

  async status(buildId: string): Promise<BuildStatus__Output> {
    const build = await this.requireBuild(buildId);
    return { build, jobs: await this.getJobs(build) };
  }

  /** Build ids, newest first. */
  async listBuildIds(): Promise<string[]> {
    const ids = await retryTransient(async () => {
      const found: string[] = [];
      for await (const key of await this.kv.keys("build.*")) found.push(key.slice("build.".length));
      return found;
    });
    const builds = await Promise.all(ids.map((id) => this.getBuild(id)));
    return builds
      .filter((b): b is BuildRecord__Output => b !== null)
      .sort((a, b) => Number(b.created_at_ms) - Number(a.created_at_ms))
      .map((b) => b.id);
  }

  /**
   * Reads, transforms and writes back a job record with compare-and-set, retrying on conflicts. `update` returns the
   * new record, or UNCHANGED to stop. Returns the record as stored afterwards.
   */
  async updateJob(
    buildId: string,
    jobId: string,
    update: (current: JobRecord__Output) => JobRecord | typeof UNCHANGED,
    known?: Versioned<JobRecord__Output>,
  ): Promise<CasResult<JobRecord__Output>> {
    return this.cas(kvKeys.job(buildId, jobId), codecs.JobRecord, update, () => new NotFoundError(`no job ${jobId} in build ${buildId}`), known);
  }

  async updateBuild(
    buildId: string,
    update: (current: BuildRecord__Output) => BuildRecord | typeof UNCHANGED,
    known?: Versioned<BuildRecord__Output>,
  ): Promise<CasResult<BuildRecord__Output>> {
    return this.cas(kvKeys.build(buildId), codecs.BuildRecord, update, () => new NotFoundError(`no build with id ${buildId}`), known);
  }

  private async cas<In, Out>(
    key: string,
    codec: { encode(v: In): Uint8Array; decode(b: Uint8Array): Out },
    update: (current: Out) => In | typeof UNCHANGED,
    missing: () => Error,
    known?: Versioned<Out>,
  ): Promise<CasResult<Out>> {
    let first = known;
    for (let i = 0; i < MAX_CAS_RETRIES; i++) {
      let current: Out;
      let revision: number;
      if (first) {
        ({ record: current, revision } = first);
        first = undefined;
      } else {
        const entry = await retryTransient(() => this.kv.get(key));
        if (!entry || entry.operation !== "PUT") throw missing();
        current = codec.decode(entry.value);
        revision = entry.revision;
      }
      const next = update(current);
      if (next === UNCHANGED) return { record: current, changed: false, revision };
      const bytes = codec.encode(next);
      try {
        // A retried update whose first try was stored meets "wrong last sequence" and re-reads, as any conflict does.
        const written = await retryTransient(() => this.kv.update(key, bytes, revision));
        return { record: codec.decode(bytes), changed: true, revision: written };
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new UnavailableError(`too much contention updating ${key}`);
  }
}
