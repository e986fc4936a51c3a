/**
 * The resumable upload driver, the same for every backend: the local file is read once, in the backend's chunks,
 * hashed (sha256 of the whole file) as each chunk is read, and written in order while the next is read and hashed
 * (the object store keeps a few of its small chunks in flight; S3 and the directory one). The driver holds two chunk
 * buffers, reused for the whole file, so memory does not grow with the file size.
 *
 * When a write fails (the connection to NATS, S3 or the shared directory dropped, or the store saw a corrupted chunk
 * arrive), the driver asks the backend what it durably holds once it answers again and continues from there: the
 * bytes before the cut are not sent again, and the hash carries on from where it was. An upload that makes no
 * progress for `stallMs` fails with the last error.
 *
 * Every backend keeps a partial upload across processes (the directory store's `.partial` file, the object store's
 * chunks under the key's subject, S3's multipart upload) and hands back its held chunks; each is compared with the
 * local file before it is kept, so a stale or corrupted partial never ends up in the object.
 *
 * A key that already holds a complete object of the local file's size, with a sha256 the store recorded for it, is
 * an earlier attempt of the same job that stored the whole file and died before reporting it (keys are per build,
 * job and file). Then the local file is hashed first (one read pass, paid only then) and, when the sha256 is the
 * recorded one, the object is kept: nothing is sent. Otherwise the upload replaces it as usual, hashing what it sends
 * again (the sha256 recorded is that of the bytes sent, even if the file changed between the two passes).
 */
import { open, type FileHandle } from "node:fs/promises";
import { createHash, type Hash } from "node:crypto";
import { CancelledError, ChecksumMismatchError } from "../errors.js";
import type { ArtifactStore, StoreUpload } from "./store.js";

/** Reads of the hash-only pass over a file that may match a complete object (one buffer, reused). */
const HASH_READ_BYTES = 4 * 1024 * 1024;

/** How long an upload may go without storing a chunk before it fails: a NATS or S3 restart fits well inside. */
export const DEFAULT_UPLOAD_STALL_MS = 120_000;
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

export interface UploadResult {
  readonly size: number;
  readonly sha256: string;
  /** Bytes handed to the store, retries included (bytes kept from an earlier attempt excluded). */
  readonly sentBytes: number;
  /** Bytes of an earlier attempt the store already held and that were kept (the size: the whole object was kept). */
  readonly keptBytes: number;
  /** Writes that failed and were retried after recovering (dropped connections, corrupted chunks). */
  readonly retries: number;
  /** Chunks the store saw arrive corrupted (and that were sent again). */
  readonly corruptChunks: number;
}

export interface UploadOptions {
  readonly stallMs?: number;
  /** Called after each chunk written with the bytes the store has acknowledged so far (progress, heartbeats). */
  readonly onProgress?: (storedBytes: number) => void;
}

/** Reads ahead; a read that fails while nobody awaits it yet (the upload failed first) is not an unhandled rejection. */
function readAhead(fh: FileHandle, buf: Buffer, position: number): Promise<Buffer> {
  const reading = readChunk(fh, position, buf.length, buf);
  reading.catch(() => undefined);
  return reading;
}

/** Reads `length` bytes at `position` into `buf` (a new buffer when not given); returns the part filled. */
async function readChunk(fh: FileHandle, position: number, length: number, buf: Buffer = Buffer.allocUnsafe(length)): Promise<Buffer> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buf : buf.subarray(0, filled);
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

/** The sha256 (hex) of the file's `size` bytes, read in one pass. */
async function hashFile(fh: FileHandle, size: number, signal: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(HASH_READ_BYTES, size)));
  for (let position = 0; position < size; ) {
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new CancelledError("upload cancelled");
    const data = await readChunk(fh, position, Math.min(buf.length, size - position), buf);
    if (data.length === 0) break;
    hash.update(data);
    position += data.length;
  }
  return hash.digest("hex");
}

/** Keeps the held chunks of an earlier attempt that match the local file; returns how many, hashing them. */
async function keepHeld(up: StoreUpload, fh: FileHandle, size: number, hash: Hash): Promise<number> {
  const held = Math.min(up.heldChunks, Math.floor(size / up.chunkBytes));
  for (let i = 0; i < held; i++) {
    const data = await readChunk(fh, i * up.chunkBytes, up.chunkBytes);
    if (!(await up.holds(i, data))) {
      await up.truncate(i);
      return i;
    }
    hash.update(data);
  }
  // Also drops a half-written chunk after the last whole one.
  if (up.heldChunks > 0) await up.truncate(held);
  return held;
}

/** Uploads `file` into `store` under `key`, resuming after failed writes; see the module comment. */
export async function uploadResumable(store: ArtifactStore, file: string, key: string, signal: AbortSignal, options: UploadOptions = {}): Promise<UploadResult> {
  const stallMs = options.stallMs ?? DEFAULT_UPLOAD_STALL_MS;
  const fh = await open(file, "r");
  let up: StoreUpload | undefined;
  try {
    const size = (await fh.stat()).size;
    // Keeping is only a saving: a store that cannot answer (S3 answers 403 for a missing object to a client without
    // s3:ListBucket) gets the upload as before.
    const stored = await store.stat(key, { sha256: true }).catch(() => null);
    if (stored?.sha256 !== undefined && stored.size === size) {
      const sha256 = await hashFile(fh, size, signal);
      if (sha256 === stored.sha256) {
        options.onProgress?.(size);
        return { size, sha256, sentBytes: 0, keptBytes: size, retries: 0, corruptChunks: 0 };
      }
    }
    const upload = await store.begin(key, signal);
    up = upload;
    const chunk = upload.chunkBytes;
    const chunks = Math.ceil(size / chunk);
    const hash = createHash("sha256");
    const kept = await keepHeld(upload, fh, size, hash);
    let sentBytes = 0;
    let retries = 0;
    let corruptChunks = 0;
    let lastProgress = Date.now();

    /**
     * Runs `op` (writing chunk `index`, or draining the writes in flight when index = chunks) until it succeeds.
     * After a failure it recovers; when the store then holds other than `index` chunks it returns that count, and
     * the upload continues from there.
     */
    const attempt = async (index: number, op: () => Promise<void>): Promise<number | undefined> => {
      let backoff = FIRST_BACKOFF_MS;
      for (;;) {
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new CancelledError("upload cancelled");
        try {
          await op();
          return undefined;
        } catch (err) {
          if (signal.aborted) throw err;
          if (err instanceof ChecksumMismatchError) corruptChunks++;
          if (Date.now() - lastProgress > stallMs) throw err;
          retries++;
          await sleep(backoff, signal);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          let held: number;
          try {
            held = await upload.recover(index, signal);
          } catch (recoverErr) {
            if (signal.aborted || Date.now() - lastProgress > stallMs) throw recoverErr;
            continue;
          }
          // More: it arrived and only the acknowledgement was lost. Fewer: the store lost chunks (a server killed
          // before it flushed, or writes in flight that never landed).
          if (held !== index) return held;
        }
      }
    };

    // Chunks [0, hashed) are in the hash. When the store sends the driver back, those chunks are read again from
    // the file, but not hashed again.
    let hashed = kept;
    // Two buffers, reused for the whole file: chunk i is read into pool[i % 2] while chunk i - 1 is written from the
    // other. (Fresh 8 MiB buffers per chunk would be garbage the collector is slow to return, and RSS would creep.)
    const pool = [Buffer.allocUnsafe(Math.min(chunk, size)), Buffer.allocUnsafe(Math.min(chunk, size))];
    let ahead: { index: number; data: Promise<Buffer> } | undefined;
    const chunkAt = (i: number): Promise<Buffer> => (ahead?.index === i ? ahead.data : readAhead(fh, pool[i % 2] as Buffer, i * chunk));
    let next = kept;
    for (;;) {
      while (next < chunks) {
        const index = next;
        if (ahead && ahead.index !== index) {
          // Sent back to an earlier chunk: the read ahead may be filling the buffer that chunk needs.
          await ahead.data.catch(() => undefined);
          ahead = undefined;
        }
        const data = await chunkAt(index);
        if (index === hashed) {
          hash.update(data);
          hashed++;
        }
        // Read the next chunk while this one is written.
        ahead = index + 1 < chunks ? { index: index + 1, data: chunkAt(index + 1) } : undefined;
        const held = await attempt(index, async () => {
          sentBytes += data.length;
          await upload.write(index, data, signal);
        });
        next = held === undefined ? index + 1 : Math.min(held, index + 1);
        lastProgress = Date.now();
        options.onProgress?.(Math.min((upload.storedChunks ?? next) * chunk, size));
      }
      const held = await attempt(chunks, () => upload.drain(signal));
      if (held === undefined || held >= chunks) break;
      next = held;
    }
    const sha256 = hash.digest("hex");
    await upload.complete(size, sha256, signal);
    return { size, sha256, sentBytes, keptBytes: kept * chunk, retries, corruptChunks };
  } catch (err) {
    // A cancelled or failed upload leaves nothing behind, except a partial the backend keeps to resume from later.
    await up?.abort().catch(() => undefined);
    throw err;
  } finally {
    await fh.close();
  }
}
