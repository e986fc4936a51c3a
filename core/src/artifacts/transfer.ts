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
