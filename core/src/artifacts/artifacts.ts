/**
 * The artifact layer as coordinators and agents use it: the catalog plus the farm's configured store, with the
 * operations that need both (upload with hashing, verified reads, removal that spares objects another record still
 * uses, retention, and the build cache's lookup).
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { ArtifactRecord, ArtifactRecord__Output, StoredFile__Output } from "../../../proto/src/mod.js";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import { ArtifactCatalog, newArtifactId } from "./catalog.js";
import { DEFAULT_STORE_CONFIG, type ArtifactStoreConfig } from "./config.js";
import { DirectoryStore } from "./dir_store.js";
import { NatsObjectStore } from "./nats_store.js";
import { S3Store } from "./s3_store.js";
import type { ArtifactStore, DirectSource } from "./store.js";
import { uploadResumable, type UploadOptions, type UploadResult } from "./upload.js";

export interface PruneRules {
  /** Keep the newest N builds of each (template, build name); 0 = no count rule. */
  readonly keepLast: number;
  /** Remove artifacts older than this; 0 = no age rule. */
  readonly olderThanMs: number;
}

/** A store object key for one file of an artifact: `<build>/<job>/<index>/<n>-<base name>`. */
export function objectKey(buildId: string, jobId: string, index: number, fileIndex: number, name: string): string {
  const base = path.basename(name).replace(/[^A-Za-z0-9._-]/g, "_") || "file";
  return `${buildId}/${jobId}/${index}/${fileIndex}-${base}`;
}

export interface StoredUpload extends UploadResult {
  /** The backend it went to: nats | dir | s3. */
  readonly store: string;
}

export class Artifacts {
  private readonly opened = new Map<string, Promise<ArtifactStore>>();

  private constructor(
    private readonly js: JetStreamClient,
    readonly catalog: ArtifactCatalog,
    private readonly replicas: number,
  ) {}

  /** `replicas`: as the farm's own streams and buckets (a NATS cluster replicates the catalog and the files too). */
  static async open(js: JetStreamClient, options: { replicas?: number } = {}): Promise<Artifacts> {
    const replicas = options.replicas ?? 1;
    return new Artifacts(js, await ArtifactCatalog.open(js, replicas), replicas);
  }

  private openConfig(config: ArtifactStoreConfig): Promise<ArtifactStore> {
    const key = JSON.stringify(config);
    const known = this.opened.get(key);
    if (known) return known;
    const opening = openStore(this.js, config, this.replicas);
    this.opened.set(key, opening);
    // A failed open is not kept: the next call (a retry during a NATS leader election, say) opens again.
    opening.catch(() => {
      if (this.opened.get(key) === opening) this.opened.delete(key);
    });
    return opening;
  }

  /** The farm's store as configured now (re-read on every call, so a changed config applies to the next transfer). */
  async store(): Promise<ArtifactStore> {
    return this.openConfig(await this.catalog.storeConfig());
  }

  /** Where a new file of `size` bytes goes: the large-file store when the farm has one and the file reaches its threshold. */
  async storeForSize(size: number): Promise<ArtifactStore> {
    const rule = await this.catalog.largeFileRule();
    return rule && size >= rule.thresholdBytes ? this.openConfig(rule.store) : this.store();
  }

  /** The store that holds a file recorded as stored in `kind`: the farm's store or its large-file store of that kind. */
  async storeOfKind(kind: string): Promise<ArtifactStore> {
    const primary = await this.catalog.storeConfig();
    if (!kind || primary.backend === kind) return this.openConfig(primary);
    const rule = await this.catalog.largeFileRule();
    if (rule?.store.backend === kind) return this.openConfig(rule.store);
    // The object store needs no configuration: a farm that moved to S3 still reads what NATS holds.
    if (kind === "nats") return this.openConfig(DEFAULT_STORE_CONFIG);
    throw new NotFoundError(`the file is in a ${kind} store, which the farm no longer configures; set it again with kiln coordinator --artifact-store or --artifact-store-large`);
  }

  /**
   * Streams a local file into the store its size chooses, in chunks, hashing it on the way, and rides out dropped
   * connections by resuming from what the store holds (./upload.ts).
   */
  async uploadFile(file: string, key: string, signal: AbortSignal, options: UploadOptions = {}): Promise<StoredUpload> {
    const store = await this.storeForSize((await stat(file)).size);
    return { ...(await uploadResumable(store, file, key, signal, options)), store: store.kind };
  }

  /**
   * Removes unfinished uploads older than `olderThanMs` (see ArtifactStore.sweepPartials) from every store the farm
   * writes to: its store, its large-file store, and the object store; returns how many, by store kind.
   */
  async sweepPartials(olderThanMs: number, now = Date.now()): Promise<Record<string, number>> {
    const rule = await this.catalog.largeFileRule();
    const configs = new Map([await this.catalog.storeConfig(), rule?.store, DEFAULT_STORE_CONFIG].filter((c) => c !== undefined).map((c) => [JSON.stringify(c), c]));
    const removed: Record<string, number> = {};
    for (const config of configs.values()) {
      const store = await this.openConfig(config);
      removed[store.kind] = (removed[store.kind] ?? 0) + (await store.sweepPartials(olderThanMs, now));
    }
    return removed;
  }

  /** A stored file's bytes from `offset` (unverified: pipe through a VerifyingStream). */
  async openFile(record: ArtifactRecord__Output, fileIndex: number, offset: number, signal: AbortSignal): Promise<{ file: StoredFile__Output; stream: Readable }> {
    const file = record.files[fileIndex];
    if (!file) throw new InvalidArgumentError(`artifact ${record.id} has no file #${fileIndex} (it has ${record.files.length})`);
    if (!file.object) throw new NotFoundError(`${file.name} of artifact ${record.id} was not a file on the agent; nothing was stored`);
    if (offset > Number(file.size)) throw new InvalidArgumentError(`offset ${offset} is past the end of ${file.name} (${file.size} bytes)`);
    return { file, stream: await (await this.storeOfKind(file.store || record.store)).get(file.object, offset, signal) };
  }

  /** Where a client may read a stored file itself (see DirectSource); undefined when only `openFile` can. */
  async directSource(record: ArtifactRecord__Output, fileIndex: number): Promise<DirectSource | undefined> {
    const file = record.files[fileIndex];
    if (!file?.object) return undefined;
    const store = await this.storeOfKind(file.store || record.store);
    return store.directSource?.(file.object);
  }

  /** Records of one build (or all), newest first; only those carrying every one of `labels` when given. */
  async list(buildId?: string, labels: Readonly<Record<string, string>> = {}): Promise<ArtifactRecord__Output[]> {
    const wanted = Object.entries(labels);
    return (await this.catalog.list()).filter((r) => (!buildId || r.build_id === buildId) && wanted.every(([k, v]) => r.labels[k] === v));
  }

  /**
   * Removes records and then their stored objects, except objects another remaining record still refers to (records
   * the build cache copied share their original's objects).
   */
  async remove(records: readonly ArtifactRecord__Output[]): Promise<ArtifactRecord__Output[]> {
    if (records.length === 0) return [];
    const doomed = new Set(records.map((r) => r.id));
    const kept = (await this.catalog.list()).filter((r) => !doomed.has(r.id));
    const stillUsed = new Set(kept.flatMap((r) => r.files.map((f) => f.object)));
    for (const record of records) {
      await this.catalog.delete(record.id);
      for (const file of record.files) {
        if (file.object && !stillUsed.has(file.object)) await (await this.storeOfKind(file.store || record.store)).delete(file.object);
      }
    }
    return [...records];
  }

  /** Applies retention rules; returns what was removed. */
  async prune(rules: PruneRules, now = Date.now()): Promise<ArtifactRecord__Output[]> {
    if (rules.keepLast <= 0 && rules.olderThanMs <= 0) throw new InvalidArgumentError("kiln artifacts prune: give --keep N and/or --older-than DURATION");
    const all = await this.catalog.list();
    const doomed = new Map<string, ArtifactRecord__Output>();
    if (rules.olderThanMs > 0) {
      for (const r of all) if (now - Number(r.created_at_ms) > rules.olderThanMs) doomed.set(r.id, r);
    }
    if (rules.keepLast > 0) {
      const byName = new Map<string, ArtifactRecord__Output[]>();
      for (const r of all) {
        const group = `${r.template_name}\u0000${r.build_name}`;
        byName.set(group, [...(byName.get(group) ?? []), r]);
      }
      for (const records of byName.values()) {
        // Newest first already; a build's artifacts count as one.
        const builds = [...new Set(records.map((r) => r.build_id))];
        const keep = new Set(builds.slice(0, rules.keepLast));
        for (const r of records) if (!keep.has(r.build_id)) doomed.set(r.id, r);
      }
    }
    return this.remove([...doomed.values()]);
  }

  /**
   * The artifacts of the newest successful job with this fingerprint whose stored files all still exist, in the
   * job's order; undefined when there is none.
   */
  async findReusable(fingerprint: string): Promise<ArtifactRecord__Output[] | undefined> {
    if (!fingerprint) return undefined;
    const matching = (await this.catalog.list()).filter((r) => r.fingerprint === fingerprint);
    const byJob = new Map<string, ArtifactRecord__Output[]>();
    for (const r of matching) byJob.set(`${r.build_id}/${r.job_id}`, [...(byJob.get(`${r.build_id}/${r.job_id}`) ?? []), r]);
    for (const group of byJob.values()) {
      const sorted = [...group].sort((a, b) => a.index - b.index);
      if (sorted.length !== sorted[0]?.count) continue;
      const present = await Promise.all(
        sorted.flatMap((r) =>
          r.files
            .filter((f) => f.object)
            .map(async (f) => {
              const store = await this.storeOfKind(f.store || r.store).catch(() => undefined);
              return (await store?.stat(f.object))?.size === Number(f.size);
            }),
        ),
      );
      if (present.every(Boolean)) return sorted;
    }
    return undefined;
  }

  /** Catalog copies of reused records for a new build, sharing the original objects, with the new build's labels. */
  async recordReuse(
    records: readonly ArtifactRecord__Output[],
    buildId: string,
    jobId: string,
    templateName: string,
    labels: Readonly<Record<string, string>> = {},
  ): Promise<ArtifactRecord__Output[]> {
    const ids = new Map(records.map((r) => [r.id, newArtifactId()]));
    const now = Date.now();
    const copies: ArtifactRecord[] = records.map((r) => ({
      ...r,
      id: ids.get(r.id) ?? newArtifactId(),
      build_id: buildId,
      job_id: jobId,
      template_name: templateName,
      labels: { ...r.labels, ...labels },
      parent_id: r.parent_id ? (ids.get(r.parent_id) ?? r.parent_id) : "",
      created_at_ms: now,
      reused_from: r.reused_from || r.id,
    }));
    for (const c of copies) await this.catalog.put(c);
    return Promise.all(copies.map(async (c) => (await this.catalog.get(c.id ?? "")) as ArtifactRecord__Output));
  }

  async close(): Promise<void> {
    const stores = [...this.opened.values()];
    this.opened.clear();
    for (const s of stores) await (await s.catch(() => undefined))?.close();
  }
}

async function openStore(js: JetStreamClient, config: ArtifactStoreConfig, replicas: number): Promise<ArtifactStore> {
  switch (config.backend) {
    case "nats":
      return NatsObjectStore.open(js, replicas);
    case "dir":
      return new DirectoryStore(config.path);
    case "s3":
      return S3Store.open(config);
  }
}
