/**
 * The artifact catalog: one KV entry per artifact (bucket kiln_artifacts, key a.<id>), written by the agent that
 * stored the artifact's files, or by the coordinator when the build cache reuses them. The bucket also holds the
 * farm's store config (key config.store).
 */
import { randomBytes } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import { StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { codecs } from "../../../proto/src/mod.js";
import type { ArtifactRecord, ArtifactRecord__Output } from "../../../proto/src/mod.js";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import { DEFAULT_STORE_CONFIG, decodeLargeFileRule, decodeStoreConfig, type ArtifactStoreConfig, type LargeFileRule } from "./config.js";

export const ARTIFACTS_BUCKET = "kiln_artifacts";
const STORE_CONFIG_KEY = "config.store";
const LARGE_STORE_CONFIG_KEY = "config.store_large";
const recordKey = (id: string): string => `a.${id}`;

/** A new catalog id: 12 hex digits. */
export function newArtifactId(): string {
  return randomBytes(6).toString("hex");
}

export class ArtifactCatalog {
  private constructor(private readonly kv: KV) {}

  static async open(js: JetStreamClient, replicas = 1): Promise<ArtifactCatalog> {
    return new ArtifactCatalog(await new Kvm(js).create(ARTIFACTS_BUCKET, { history: 1, storage: StorageType.File, replicas }));
  }

  async put(record: ArtifactRecord): Promise<void> {
    await this.kv.put(recordKey(record.id ?? ""), codecs.ArtifactRecord.encode(record));
  }

  async get(id: string): Promise<ArtifactRecord__Output | null> {
    if (!/^[0-9a-f]+$/.test(id)) return null;
    const entry = await this.kv.get(recordKey(id));
    return entry && entry.operation === "PUT" ? codecs.ArtifactRecord.decode(entry.value) : null;
  }

  /** Every record, newest first. */
  async list(): Promise<ArtifactRecord__Output[]> {
    const keys: string[] = [];
    for await (const key of await this.kv.keys("a.>")) keys.push(key);
    const records = await Promise.all(keys.map((k) => this.get(k.slice(2))));
    return records.filter((r): r is ArtifactRecord__Output => r !== null).sort((a, b) => Number(b.created_at_ms) - Number(a.created_at_ms) || a.index - b.index);
  }

  /** The record with this id, or the one record whose id starts with it. */
  async resolve(idOrPrefix: string): Promise<ArtifactRecord__Output> {
    const exact = await this.get(idOrPrefix);
    if (exact) return exact;
    const matches = idOrPrefix.length >= 4 ? (await this.list()).filter((r) => r.id.startsWith(idOrPrefix)) : [];
    if (matches.length === 1 && matches[0]) return matches[0];
    if (matches.length > 1) throw new InvalidArgumentError(`artifact id prefix '${idOrPrefix}' is ambiguous: ${matches.map((m) => m.id).join(", ")}`);
    throw new NotFoundError(`no artifact with id ${idOrPrefix} (see kiln artifacts ls)`);
  }

  async delete(id: string): Promise<void> {
    await this.kv.purge(recordKey(id));
  }

  async storeConfig(): Promise<ArtifactStoreConfig> {
    const entry = await this.kv.get(STORE_CONFIG_KEY);
    return entry && entry.operation === "PUT" ? decodeStoreConfig(entry.value) : DEFAULT_STORE_CONFIG;
  }

  async setStoreConfig(config: ArtifactStoreConfig): Promise<void> {
    await this.kv.put(STORE_CONFIG_KEY, JSON.stringify(config));
  }

  /** Where files at or above a size go instead; null when every file goes to the farm's store. */
  async largeFileRule(): Promise<LargeFileRule | null> {
    const entry = await this.kv.get(LARGE_STORE_CONFIG_KEY);
    return entry && entry.operation === "PUT" ? decodeLargeFileRule(entry.value) : null;
  }

  /** null removes the rule. */
  async setLargeFileRule(rule: LargeFileRule | null): Promise<void> {
    if (rule) await this.kv.put(LARGE_STORE_CONFIG_KEY, JSON.stringify(rule));
    else await this.kv.purge(LARGE_STORE_CONFIG_KEY);
  }
}
