/** The download side of the transfer layer: VerifiedFileWriter hashes while it writes, in batches, at the right offsets. */
import { createHash, randomBytes } from "node:crypto";
import { open, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ChecksumMismatchError, FileVerifier, VerifiedFileWriter } from "../src/mod.js";
import { tempDir } from "../../test/src/mod.js";

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** Hands `data[from, to)` to the writer in chunks of the given sizes, round robin (odd sizes cross every batch edge). */
async function feed(writer: VerifiedFileWriter, data: Buffer, from: number, to: number, sizes: number[]): Promise<void> {
  for (let at = from, i = 0; at < to; i++) {
    const n = Math.min(sizes[i % sizes.length] ?? 1, to - at);
    // A fresh copy each time, reused by the "source" right after: the writer must not keep it.
    const chunk = Buffer.from(data.subarray(at, at + n));
    await writer.add(chunk);
    chunk.fill(0);
    at += n;
  }
}

describe("artifacts - VerifiedFileWriter", () => {
  it("writes odd-sized chunks byte-identical at their offsets, and a resumed transfer continues the same hash", async () => {
    const { dir, cleanup } = await tempDir("kiln-transfer-");
    try {
      const data = randomBytes(5 * MiB + 12_345);
      const file = path.join(dir, "out.kiln-partial");
      const verifier = new FileVerifier({ name: "out", size: data.length, sha256: sha256(data) });
      const fh = await open(file, "w");
      try {
        // A first "stream" that drops after 2.3 MiB, then a resumed one from verifier.received, as the CLI does.
        const first = new VerifiedFileWriter(fh, verifier);
        await feed(first, data, 0, Math.floor(2.3 * MiB), [333_333, 65_536, 1]);
        await first.flush();
        const resumed = new VerifiedFileWriter(fh, verifier);
        await feed(resumed, data, verifier.received, data.length, [1024 * 1024, 77_777]);
        await resumed.flush();
      } finally {
        await fh.close();
      }
      verifier.check();
      expect(sha256(await readFile(file))).toBe(sha256(data));
    } finally {
      await cleanup();
    }
  });

  it("keeps one write in flight, gathers what queued behind it, and continues short writes where they stopped", async () => {
    const { dir, cleanup } = await tempDir("kiln-transfer-");
    try {
      const data = randomBytes(11 * MiB + 4_321);
      const file = path.join(dir, "out");
      const fh = await open(file, "w");
      let inFlight = 0;
      let maxInFlight = 0;
      let maxBuffers = 0;
      // The real file, but each gathered write stops short at an odd byte count, as a kernel may.
      const shortWriting = {
        async writev(buffers: readonly Uint8Array[], position: number): Promise<{ bytesWritten: number }> {
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          maxBuffers = Math.max(maxBuffers, buffers.length);
          try {
            const total = buffers.reduce((n, b) => n + b.length, 0);
            const take = Math.max(1, Math.min(total, Math.floor(total * 0.7) + 3));
            const head = Buffer.concat(buffers.map((b) => Buffer.from(b.buffer, b.byteOffset, b.length))).subarray(0, take);
            await new Promise((r) => setTimeout(r, 2));
            return await fh.write(head, 0, head.length, position);
          } finally {
            inFlight--;
          }
        },
      };
      try {
        const verifier = new FileVerifier({ name: "out", size: data.length, sha256: sha256(data) });
        const writer = new VerifiedFileWriter(shortWriting, verifier);
        await feed(writer, data, 0, data.length, [256 * 1024, 99_999]);
        await writer.flush();
        verifier.check();
      } finally {
        await fh.close();
      }
      expect(maxInFlight).toBe(1);
      // The source outran the slowed disk, so batches queued and went out together.
      expect(maxBuffers).toBeGreaterThan(1);
      expect(sha256(await readFile(file))).toBe(sha256(data));
    } finally {
      await cleanup();
    }
  });

  it("fails as soon as more bytes arrive than recorded, and check() fails on other content", async () => {
    const { dir, cleanup } = await tempDir("kiln-transfer-");
    try {
      const data = randomBytes(3 * MiB);
      const fh = await open(path.join(dir, "x"), "w");
      try {
        const longer = new VerifiedFileWriter(fh, new FileVerifier({ name: "x", size: data.length - 1, sha256: sha256(data) }));
        await expect(feed(longer, data, 0, data.length, [MiB])).rejects.toBeInstanceOf(ChecksumMismatchError);
        await longer.settle();

        const other = Buffer.from(data);
        other[MiB + 7] = (other[MiB + 7] ?? 0) ^ 1;
        const verifier = new FileVerifier({ name: "x", size: data.length, sha256: sha256(data) });
        const writer = new VerifiedFileWriter(fh, verifier);
        await feed(writer, other, 0, other.length, [100_000]);
        await writer.flush();
        expect(() => verifier.check()).toThrow(/sha256 [0-9a-f]{64} does not match the recorded/);
      } finally {
        await fh.close();
      }
    } finally {
      await cleanup();
    }
  });
});
