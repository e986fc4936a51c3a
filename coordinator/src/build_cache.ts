/**
 * The build cache (beyond Packer): a job whose fingerprint (core/src/artifacts/fingerprint.ts) matches a successful
 * earlier job whose stored artifacts still exist is not run. The coordinator completes it at once with copies of the
 * earlier catalog records (sharing the stored objects) and tells the user
 * `==> name: reusing artifacts of build X (identical inputs)`. `-force` rebuilds.
 *
 * Only bundle builds are fingerprinted: a local workspace (the embedded farm) has no bundle to hash, and its
 * catalog lives no longer than the command.
 */
import path from "node:path";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Artifact, ArtifactRecord__Output, Job, SubmitBuildRequest__Output } from "../../proto/src/mod.js";
import { FarmStore, UNCHANGED, bundleDigests, checksumFileLocation, fillUserVariables, jobFingerprint, publishEvent, settleBuild, type Artifacts } from "../../core/src/mod.js";

export type CacheHits = ReadonlyMap<string, readonly ArtifactRecord__Output[]>;

/**
 * Whether a job's source image is pinned by what the fingerprint covers. Its `iso_checksum` (template text or a
 * variable) is the source image's identity. A checksum file (`file:<path>`) pins it by its content: inside the
 * template's directory it is bundled and hashed; outside (an absolute path, or a relative one leaving the directory)
 * the CLI hashed it into `external` (by path as written), and without that digest nothing pins it. `iso_checksum:
 * "none"`, or a checksum file fetched from a URL, leaves the source free to change under the same inputs, so such a job
 * is never reused.
 */
export function sourcePinned(builderConfigJson: string, variables: Readonly<Record<string, string>> = {}, external: Readonly<Record<string, string>> = {}): boolean {
  let config: unknown;
  try {
    config = JSON.parse(builderConfigJson);
  } catch {
    return true;
  }
  const checksum = (config as { iso_checksum?: unknown } | null)?.iso_checksum;
  if (typeof checksum !== "string") return true;
  // The checksum is often a user variable.
  const value = fillUserVariables(checksum, variables).trim();
  if (value.toLowerCase() === "none") return false;
  const location = checksumFileLocation(value);
  if (location === undefined) return true;
  if (location === "remote" || location === "") return false;
  if (external[location]) return true;
  const normalized = path.posix.normalize(location);
  return !path.posix.isAbsolute(location) && normalized !== ".." && !normalized.startsWith("../");
}

/**
 * The jobs with their fingerprints set ("" when the build or the job is not cacheable). A file the template names
 * outside its bundle that the CLI could not read (digest "") leaves the whole build uncacheable: its content is
 * unknown.
 */
export async function fingerprintJobs<J extends Job>(req: SubmitBuildRequest__Output, jobs: readonly J[]): Promise<J[]> {
  if (req.bundle.length === 0) return [...jobs];
  const external = req.external_files ?? {};
  if (Object.values(external).some((d) => d === "")) return jobs.map((j) => ({ ...j, fingerprint: "" }));
  const inputs = { templateJson: req.template_json, variables: req.variables, files: await bundleDigests(req.bundle), external };
  return jobs.map((j) => {
    const fingerprint = sourcePinned(j.builder_config_json ?? "", req.variables, external) ? jobFingerprint(inputs, j.name ?? "", j.builder_type ?? "") : "";
    // The agent checks the outside files it reads against these (see Job.external_files).
    return fingerprint ? { ...j, fingerprint, external_files: { ...external } } : { ...j, fingerprint };
  });
}

/** Jobs whose outputs can be reused, with the records to reuse; none when the user forces a rebuild. */
export async function findCacheHits(artifacts: Artifacts, jobs: readonly Job[], force: boolean): Promise<CacheHits> {
  const hits = new Map<string, ArtifactRecord__Output[]>();
  if (force) return hits;
  for (const job of jobs) {
    const reusable = await artifacts.findReusable(job.fingerprint ?? "");
    if (reusable) hits.set(job.job_id ?? "", reusable);
  }
  return hits;
}

function toWire(record: ArtifactRecord__Output, buildName: string, jobId: string): Artifact {
  return {
    builder_id: record.builder_id,
    id: record.artifact_id,
    description: record.description,
    files: record.files.map(({ name, size, sha256 }) => ({ name, size, sha256 })),
    state: record.state,
    build_name: buildName,
    job_id: jobId,
  };
}

/** Completes the cache-hit jobs of a just-created build, then settles it. */
export async function completeFromCache(
  artifacts: Artifacts,
  store: FarmStore,
  js: JetStreamClient,
  buildId: string,
  templateName: string,
  jobs: readonly Job[],
  hits: CacheHits,
  labels: Readonly<Record<string, string>> = {},
): Promise<void> {
  if (hits.size === 0) return;
  for (const job of jobs) {
    const records = hits.get(job.job_id ?? "");
    const first = records?.[0];
    if (!records || !first) continue;
    const jobId = job.job_id ?? "";
    const name = job.name ?? "";
    const copies = await artifacts.recordReuse(records, buildId, jobId, templateName, labels);
    const wire = copies.map((r) => toWire(r, name, jobId));
    const now = Date.now();
    const base = { build_id: buildId, job_id: jobId, name };
    await publishEvent(js, { ...base, log: { text: `reusing artifacts of build ${first.build_id} (identical inputs)`, level: "LEVEL_SAY" } });
    await publishEvent(js, { ...base, result: { state: "JOB_STATE_SUCCEEDED", artifacts: wire, duration_ms: 0 } });
    await store.updateJob(buildId, jobId, (cur) =>
      cur.state !== "JOB_STATE_QUEUED" && cur.state !== "JOB_STATE_WAITING"
        ? UNCHANGED
        : { ...cur, state: "JOB_STATE_SUCCEEDED", started_at_ms: now, finished_at_ms: now, artifacts: wire, failure: null },
    );
  }
  await settleBuild(store, js, buildId);
}
