/**
 * The artifact store: where artifact file bytes live, behind one interface with three backends, chosen per farm
 * (config in the kiln_artifacts bucket, see ./config.ts):
 *
 * - `nats`: the JetStream object store `kiln_artifact_files` (the default; no extra infrastructure, works in the
 *   embedded farm). Chunks of 128 KiB are JetStream messages, so every byte sits in the NATS server's storage.
 * - `dir`: a local or shared directory (NFS, ...) every agent and coordinator mounts at the same path.
 * - `s3`: any S3-compatible service, multipart uploads of `partSizeBytes` parts.
 *
 * Backends only move bytes. Hashing and verification are the transfer layer's (./transfer.ts), so every backend
 * gets the same guarantees.
 */
import type { Readable } from "node:stream";

export interface StoredObject {
  readonly size: number;
}

export interface ArtifactStore {
  /** The backend's name as recorded in the catalog: nats | dir | s3. */
  readonly kind: string;
  /**
   * Stores `source` under `key`, reading it as it goes (never holding the whole file). The object becomes visible
   * only once complete: a failed or aborted put leaves nothing under `key`.
   */
  put(key: string, source: Readable, size: number, signal: AbortSignal): Promise<void>;
  /** The object's bytes from `offset`, streamed; a NotFoundError when it is missing. */
  get(key: string, offset: number, signal: AbortSignal): Promise<Readable>;
  /** Null when missing. */
  stat(key: string): Promise<StoredObject | null>;
  /** Idempotent. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}
