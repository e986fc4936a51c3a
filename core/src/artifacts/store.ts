/**
 * The artifact store: where artifact file bytes live, behind one interface with three backends, chosen per farm
 * (config in the kiln_artifacts bucket, see ./config.ts):
 *
 * - `nats`: the JetStream object store `kiln_artifact_files` (the default; no extra infrastructure, works in the
 *   embedded farm). Chunks of 128 KiB are JetStream messages, so every byte sits in the NATS server's storage.
 * - `dir`: a local or shared directory (NFS, ...) every agent and coordinator mounts at the same path.
 * - `s3`: any S3-compatible service, multipart uploads of `partSizeBytes` parts.
 *
 * Uploads are chunked and resumable (./upload.ts drives them): the file is read once, hashed on the way, cut into the
 * backend's chunks, and written one chunk at a time, so after a dropped connection only the chunk in flight is sent
 * again. A complete object the key already holds with the local file's size and recorded sha256 (an earlier attempt of
 * the same job that stored the file whole, then died) is kept without sending a byte. Hashing and download verification
 * are the transfer layer's (./transfer.ts), so every backend gets the same guarantees.
 */
import type { Readable } from "node:stream";

export interface StoredObject {
  readonly size: number;
  /**
   * The sha256 (hex) recorded with the object when it was stored, only when `stat` was asked for it and the store
   * can vouch that the record belongs to this very object (object store: the meta's digest; S3: tags bound to the
   * object's ETag; directory: a sidecar bound to the file's inode). Absent for an object it cannot vouch for (stored
   * before kiln recorded it, its record lost or left by another object): such an object is never kept as it is.
   */
  readonly sha256?: string;
}

/**
 * Where a reader may fetch an object itself instead of through the process that holds the store (the coordinator):
 * an HTTP(S) URL that honours Range (S3: a presigned GET), or a path in a directory store as this process sees it.
 * Only a hint: the reader verifies what it reads and falls back to `get` through the coordinator when it cannot
 * reach it.
 */
export interface DirectSource {
  readonly url?: string;
  readonly path?: string;
}

export interface ArtifactStore {
  /** The backend's name as recorded in the catalog: nats | dir | s3. */
  readonly kind: string;
  /**
   * Starts storing an object under `key`, or continues the partial upload an earlier process left under it (a dead
   * agent's, for its job's retry). The object becomes visible only at `complete`, replacing the one under `key` (if
   * any) whole: a failed or aborted upload leaves nothing new under `key`, and a reader never sees a mix of the two.
   */
  begin(key: string, signal: AbortSignal): Promise<StoreUpload>;
  /** The object's bytes from `offset`, streamed; a NotFoundError when it is missing. */
  get(key: string, offset: number, signal: AbortSignal): Promise<Readable>;
  /** Null when missing. With `sha256: true` also the recorded sha256 (see StoredObject), which may cost a request. */
  stat(key: string, options?: { readonly sha256?: boolean }): Promise<StoredObject | null>;
  /** Where a client may read the object itself; undefined when it cannot (the object store: only NATS clients). */
  directSource?(key: string): Promise<DirectSource | undefined>;
  /** Idempotent. */
  delete(key: string): Promise<void>;
  /**
   * Removes unfinished uploads (what an agent that died mid-file left and no retry of its job resumed) whose last
   * write is more than `olderThanMs` before `now`; returns how many. Stored objects and younger partials (an upload
   * in progress, or waiting for its job's retry) are left alone.
   */
  sweepPartials(olderThanMs: number, now?: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * One object being stored, chunk by chunk, in order. `write` is called for chunk 0, 1, 2, ... (each `chunkBytes`
 * long except the last), one at a time; after a failed write the driver calls `recover` and writes again from the
 * chunk it returns.
 */
export interface StoreUpload {
  readonly chunkBytes: number;
  /**
   * Chunks an earlier, interrupted attempt left in the store that this upload may keep (0 for a fresh upload). The
   * driver checks each with `holds` against the local file before trusting it.
   */
  readonly heldChunks: number;
  /**
   * Chunks the store has acknowledged, counted from the first without a gap, for a backend that keeps writes in
   * flight (absent: a chunk is stored once `write` resolves). Progress reports this, so "stored" means stored.
   */
  readonly storedChunks?: number;
  /** Whether the store's held chunk `index` has exactly these bytes (only called for index < heldChunks). */
  holds(index: number, data: Buffer): Promise<boolean>;
  /** Keeps only the first `chunks` chunks of an earlier attempt (the rest did not match the local file). */
  truncate(chunks: number): Promise<void>;
  /**
   * Stores chunk `index`, or (a backend that keeps a few writes in flight: the object store) sends it and returns
   * once there is room for the next; a failure of an earlier chunk in flight surfaces here or in `drain`. A backend
   * that can tell what arrived checks it here (S3: the part's MD5 as the server computed it) and throws a retryable
   * ChecksumMismatchError when it differs, so the chunk is sent again. `data` is the driver's to reuse once this
   * resolves.
   */
  write(index: number, data: Buffer, signal: AbortSignal): Promise<void>;
  /** Waits for every write in flight to be stored. */
  drain(signal: AbortSignal): Promise<void>;
  /**
   * After a failed write of chunk `next` (or drain, next = the chunk count): waits until the store answers again (or
   * `signal` aborts) and returns how many chunks it durably holds, in order from the first: `next`; `next + 1` when
   * the chunk arrived but its acknowledgement was lost; fewer when writes in flight never landed.
   */
  recover(next: number, signal: AbortSignal): Promise<number>;
  /**
   * Makes the object visible, with `sha256` recorded so that `stat` returns it; checks that the store holds `size`
   * bytes in the chunks written.
   */
  complete(size: number, sha256: string, signal: AbortSignal): Promise<void>;
  /** Removes whatever this upload stored (cancelled or given up). Idempotent. */
  abort(): Promise<void>;
}
