/**
 * After a job succeeds on a farm agent (after its post-processors), every artifact file that is a regular file in the
 * job's workspace is streamed into the farm's artifact store, hashed on the way, and every artifact is recorded in
 * the catalog with the job's build-cache fingerprint. Jobs on the embedded farm's local workspaces skip this: their
 * files already are where the user wants them.
 *
 * The fingerprint covers files the template names outside its directory as the CLI's host saw them at submit; this
 * agent read them where it runs. When one of them has other content here (another host's copy, changed during the
 * build, missing), the artifacts are recorded without the fingerprint: a later build with the CLI's inputs must not
 * reuse what was built from different ones.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import type { Artifact, ArtifactRecord, Job__Output, StoredFile } from "../../../proto/src/mod.js";
import { inputDigest, newArtifactId, objectKey, retryTransient, type Artifacts } from "../../../core/src/mod.js";
import type { JobOutcome, LogLevel } from "../run_types.js";

/** How often a long upload keeps the job's lease alive. */
const HEARTBEAT_EVERY_MS = 2_000;

export interface StoreArtifactsContext {
  readonly workDir: string;
  /** Where relative paths of the template resolve (as the CLI resolved them against the template's directory). */
  readonly templateDir: string;
  readonly agent: string;
  readonly templateName: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  heartbeat(): void;
  log(level: LogLevel, text: string): void;
}

async function isRegularFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

/** The outside files (Job.external_files) whose content here is not what the CLI hashed, or that are unreadable here. */
export async function externalInputsDiffering(external: Readonly<Record<string, string>>, templateDir: string): Promise<string[]> {
  const differing: string[] = [];
  for (const [ref, digest] of Object.entries(external).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if ((await inputDigest(path.resolve(templateDir, ref))) !== digest) differing.push(ref);
  }
  return differing;
}

/** Uploads and catalogs the outcome's artifacts; returns the outcome with each file's sha256 filled in. */
export async function storeJobArtifacts(artifacts: Artifacts, job: Job__Output, outcome: JobOutcome, ctx: StoreArtifactsContext): Promise<JobOutcome> {
  if (outcome.artifacts.length === 0) return outcome;
  const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    const differing = job.fingerprint ? await externalInputsDiffering(job.external_files, ctx.templateDir) : [];
    if (differing.length > 0) {
      ctx.log("say", `build cache: ${differing.join(", ")} on this agent ${differing.length === 1 ? "is" : "are"} not what the CLI hashed at submit; these artifacts will not be reused`);
    }
    const fingerprint = differing.length > 0 ? "" : job.fingerprint;
    const records: ArtifactRecord[] = [];
    const wire: Artifact[] = [];
    const createdAt = Date.now();
    for (const [index, artifact] of outcome.artifacts.entries()) {
      const files: StoredFile[] = [];
      for (const [fileIndex, f] of (artifact.files ?? []).entries()) {
        const name = f.name ?? "";
        const local = path.resolve(ctx.workDir, name);
        if (!(await isRegularFile(local))) {
          files.push({ name, size: f.size ?? 0, sha256: "", object: "", store: "" });
          continue;
        }
        const key = objectKey(job.build_id, job.job_id, index, fileIndex, name);
        // A dropped connection mid-file resumes inside uploadFile from what the store holds; retryTransient only
        // covers opening the store (a NATS leader election as the upload starts).
        const uploaded = await retryTransient(() => artifacts.uploadFile(local, key, ctx.signal));
        const resumed = uploaded.retries > 0 ? `; resumed ${uploaded.retries} time(s) after a dropped connection or a corrupted chunk, ${formatBytes(uploaded.sentBytes - uploaded.size + uploaded.keptBytes)} sent again` : "";
        const kept =
          uploaded.keptBytes > 0 && uploaded.keptBytes === uploaded.size
            ? "; an earlier attempt had stored the same file whole: kept, nothing sent"
            : uploaded.keptBytes > 0
              ? `; kept ${formatBytes(uploaded.keptBytes)} an earlier attempt had stored`
              : "";
        ctx.log("message", `stored ${name} in ${uploaded.store} (${formatBytes(uploaded.size)}, sha256 ${uploaded.sha256}${resumed}${kept})`);
        files.push({ name, size: uploaded.size, sha256: uploaded.sha256, object: key, store: uploaded.store });
      }
      const first = records[0];
      const parent = index > 0 && first && !(outcome.artifacts[0]?.builder_id ?? "").includes("post-processor") ? (first.id ?? "") : "";
      records.push({
        id: newArtifactId(),
        builder_id: artifact.builder_id ?? "",
        artifact_id: artifact.id ?? "",
        description: artifact.description ?? "",
        files,
        state: { ...(artifact.state ?? {}) },
        agent: ctx.agent,
        build_id: job.build_id,
        job_id: job.job_id,
        build_name: job.name,
        template_name: ctx.templateName,
        fingerprint,
        // The agent's labels and where it ran, then the user's `kiln build --label`s, which win.
        labels: { ...ctx.labels, builder_type: job.builder_type, datacenter: job.datacenter, ...(job.options?.labels ?? {}) },
        parent_id: parent,
        created_at_ms: createdAt,
        store: (await retryTransient(() => artifacts.store())).kind,
        index,
        count: outcome.artifacts.length,
      });
      wire.push({ ...artifact, files: files.map(({ name, size, sha256 }) => ({ name, size, sha256 })) });
    }
    for (const record of records) await retryTransient(() => artifacts.catalog.put(record));
    ctx.log("say", `Stored ${records.length} artifact(s) in the farm's artifact store: ${records.map((r) => r.id).join(", ")}`);
    return { ...outcome, artifacts: wire };
  } finally {
    clearInterval(timer);
  }
}
