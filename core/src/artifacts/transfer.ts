/**
 * Hashing on the way out of the store: every byte a download receives passes a FileVerifier, so the sha256 that
 * proves a transfer costs no second pass over the file (uploads hash as they read: ./upload.ts).
 */
import { createHash } from "node:crypto";
import { ChecksumMismatchError } from "../errors.js";

/**
 * Checks received bytes against a file's record as they arrive: `update` each chunk (it fails as soon as more bytes
 * arrive than were stored), then `check` at the end. A resumed transfer keeps using the same verifier, so the hash
 * spans every attempt without a second pass.
 */
export class FileVerifier {
  private readonly hash = createHash("sha256");
  received = 0;

  constructor(private readonly expected: { readonly name: string; readonly size: number; readonly sha256: string }) {}

  update(chunk: Uint8Array): void {
    this.received += chunk.length;
    if (this.received > this.expected.size) {
      throw new ChecksumMismatchError(`${this.expected.name}: received more than the recorded ${this.expected.size} bytes; the stored object is corrupt or was replaced`);
    }
    this.hash.update(chunk);
  }

  /** Throws a ChecksumMismatchError unless exactly the recorded bytes arrived. */
  check(): void {
    if (this.received !== this.expected.size) {
      throw new ChecksumMismatchError(`${this.expected.name}: received ${this.received} bytes, the catalog records ${this.expected.size}; the stored object is truncated or was replaced`);
    }
    const actual = this.hash.digest("hex");
    if (actual !== this.expected.sha256) {
      throw new ChecksumMismatchError(`${this.expected.name}: sha256 ${actual} does not match the recorded ${this.expected.sha256}; the stored object is corrupt`);
    }
  }
}

/** A write batch of VerifiedFileWriter: small chunks (gRPC messages, HTTP reads) are gathered into writes this big. */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** Batches being written while the next is hashed: the disk and the hash overlap, memory stays a few MiB. */
const WRITES_IN_FLIGHT = 4;

/**
 * Writes received bytes to a file at their offsets while a FileVerifier hashes them, without waiting for the disk
 * between chunks: each chunk is hashed as it is added, chunks are gathered into WRITE_BATCH_BYTES batches and written
 * with positional writes, up to WRITES_IN_FLIGHT batches at once (`add` waits when they are all busy, so memory stays
 * bounded whatever the file size). A resumed transfer keeps the writer: the next bytes go at `verifier.received`.
 */
export class VerifiedFileWriter {
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  /** File offset of the batch being gathered. */
  private position: number;
  private readonly writing = new Set<Promise<void>>();
  private failed: unknown;

  constructor(
    private readonly fh: { writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }> },
    readonly verifier: FileVerifier,
  ) {
    this.position = verifier.received;
  }

  /** Hashes `chunk` (a ChecksumMismatchError as soon as too many bytes arrive) and queues it for writing. */
  async add(chunk: Uint8Array): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    this.verifier.update(chunk);
    // Sources hand over fresh buffers (gRPC messages, stream chunks), so they are kept as they are, not copied.
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes >= WRITE_BATCH_BYTES) await this.send();
  }

  /** Writes everything added so far; throws the first write failure. */
  async flush(): Promise<void> {
    if (this.batchBytes > 0) await this.send();
    while (this.writing.size > 0) await Promise.race(this.writing);
    if (this.failed !== undefined) throw this.failed;
  }

  /** Waits for the writes in flight without throwing (before closing the file after a failure). */
  async settle(): Promise<void> {
    while (this.writing.size > 0) await Promise.race(this.writing);
  }

  private async send(): Promise<void> {
    const buffers = this.batch;
    const at = this.position;
    this.position += this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    const write = this.writeAll(buffers, at).then(
      () => void this.writing.delete(write),
      (err: unknown) => {
        this.failed ??= err;
        this.writing.delete(write);
      },
    );
    this.writing.add(write);
    while (this.writing.size >= WRITES_IN_FLIGHT) await Promise.race(this.writing);
    if (this.failed !== undefined) throw this.failed;
  }

  private async writeAll(buffers: Uint8Array[], position: number): Promise<void> {
    let rest = buffers;
    let at = position;
    while (rest.length > 0) {
      let { bytesWritten } = await this.fh.writev(rest, at);
      at += bytesWritten;
      // A short write (rare: a full disk reports ENOSPC instead): continue after the bytes that made it.
      const left: Uint8Array[] = [];
      for (const b of rest) {
        if (bytesWritten >= b.length) bytesWritten -= b.length;
        else {
          left.push(b.subarray(bytesWritten));
          bytesWritten = 0;
        }
      }
      rest = left;
    }
  }
}
