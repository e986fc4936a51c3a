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
 * between chunks: each chunk is hashed as it is added and copied into one of WRITES_IN_FLIGHT + 1 reused
 * WRITE_BATCH_BYTES buffers, and full buffers are written with positional writes, up to WRITES_IN_FLIGHT at once
 * (`add` waits when they are all busy). The copy costs far less than the hash and keeps memory at a fixed few MiB
 * whatever the source hands over (holding the sources' own chunks until written left the collector behind, and RSS
 * crept). A resumed transfer keeps the writer: the next bytes go at `verifier.received`.
 */
export class VerifiedFileWriter {
  private readonly free: Buffer[] = [];
  private batch: Buffer | undefined;
  private batchBytes = 0;
  /** File offset of the batch being gathered. */
  private position: number;
  private readonly writing = new Set<Promise<void>>();
  private failed: unknown;

  constructor(
    private readonly fh: { write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> },
    readonly verifier: FileVerifier,
  ) {
    this.position = verifier.received;
  }

  /** Hashes `chunk` (a ChecksumMismatchError as soon as too many bytes arrive) and queues it for writing. */
  async add(chunk: Uint8Array): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    this.verifier.update(chunk);
    let at = 0;
    while (at < chunk.length) {
      const batch = (this.batch ??= this.free.pop() ?? Buffer.allocUnsafe(WRITE_BATCH_BYTES));
      const n = Math.min(chunk.length - at, WRITE_BATCH_BYTES - this.batchBytes);
      batch.set(chunk.subarray(at, at + n), this.batchBytes);
      this.batchBytes += n;
      at += n;
      if (this.batchBytes === WRITE_BATCH_BYTES) await this.send();
    }
  }

  /** Writes everything added so far; throws the first write failure. */
  async flush(): Promise<void> {
    if (this.batchBytes > 0) await this.send();
    await this.settle();
    if (this.failed !== undefined) throw this.failed;
  }

  /** Waits for the writes in flight without throwing (before closing the file after a failure). */
  async settle(): Promise<void> {
    while (this.writing.size > 0) await Promise.race(this.writing);
  }

  private async send(): Promise<void> {
    const buffer = this.batch;
    const length = this.batchBytes;
    if (!buffer) return;
    const at = this.position;
    this.position += length;
    this.batch = undefined;
    this.batchBytes = 0;
    const write = this.writeAll(buffer, length, at).then(
      () => {
        this.writing.delete(write);
        this.free.push(buffer);
      },
      (err: unknown) => {
        this.failed ??= err;
        this.writing.delete(write);
      },
    );
    this.writing.add(write);
    while (this.writing.size >= WRITES_IN_FLIGHT) await Promise.race(this.writing);
    if (this.failed !== undefined) throw this.failed;
  }

  private async writeAll(buffer: Buffer, length: number, position: number): Promise<void> {
    let written = 0;
    while (written < length) {
      const { bytesWritten } = await this.fh.write(buffer, written, length - written, position + written);
      written += bytesWritten;
    }
  }
}
