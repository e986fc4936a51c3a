/**
 * Resumable, verified uploads into each artifact store against its real server, with real faults: the nats-server is
 * killed and restarted mid-upload, the connection to the S3 server (s3rver) is cut mid-part, a byte is flipped on the
 * wire to S3, and a process uploading into a directory store dies (SIGKILL) mid-file. Each upload completes
 * byte-identical, and a counting proxy (or the store's own files) shows that the bytes stored before the fault were
 * not sent again.
 */
import { createHash } from "node:crypto";
import { readFile, readdir, writeFile, open } from "node:fs/promises";
import path from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ARTIFACT_FILES_STORE, Artifacts, DIR_CHUNK_BYTES, DirectoryStore, NatsServer, S3Store, S3_PARTS_IN_FLIGHT, connectFarm, uploadResumable } from "../../core/src/mod.js";
import { S3Server, S3_TEST_CREDENTIALS, TcpProxy, runScript, seededRandom, tempDir } from "../src/mod.js";

const MiB = 1024 * 1024;
const SIZE = 32 * MiB;

function randomBytes(size: number, seed: number): Buffer {
  const next = seededRandom(seed);
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) buf.writeUInt32LE(Math.floor(next() * 0x1_0000_0000), i);
  return buf;
}

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

async function drain(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

describe("artifacts - resumable uploads", () => {
  let work: { dir: string; cleanup: () => Promise<void> };
  let data: Buffer;
  let file: string;
  beforeEach(async () => {
    work = await tempDir("kiln-resume-");
    data = randomBytes(SIZE, 7);
    file = path.join(work.dir, "disk.img");
    await writeFile(file, data);
  });
  afterEach(async () => {
    await work.cleanup();
  });

  it("JetStream object store: the nats-server is killed and restarted mid-upload; the upload resumes without resending stored chunks", async () => {
    const storeDir = path.join(work.dir, "jetstream");
    let nats = await NatsServer.start({ storeDir });
    const port = nats.port;
    await using proxy = await TcpProxy.start(port);
    const nc = await connectFarm({ servers: `nats://127.0.0.1:${proxy.port}`, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    try {
      const artifacts = await Artifacts.open(jetstream(nc));
      let restarted: Promise<void> | undefined;
      const before = proxy.upstreamBytes;
      proxy.when(before + 12 * MiB, () => {
        nats.kill();
        restarted = (async () => {
          await new Promise((r) => setTimeout(r, 1_000));
          nats = await NatsServer.start({ storeDir, port });
        })();
      });
      const result = await artifacts.uploadFile(file, "b1/j0/0/0-disk.img", AbortSignal.timeout(120_000));
      await restarted;
      const sent = proxy.upstreamBytes - before;
      console.log(`nats: ${result.retries} retries; ${((sent - SIZE) / MiB).toFixed(2)} MiB sent beyond the file (chunks in flight at the kill, protocol)`);
      expect(result).toMatchObject({ size: SIZE, sha256: sha256(data) });
      expect(result.retries).toBeGreaterThan(0);
      // The whole file once, plus at most the four 512 KiB chunks in flight at the kill (the server may also lose
      // the last acknowledged ones it had not flushed), plus protocol.
      expect(sent).toBeGreaterThan(SIZE);
      expect(sent).toBeLessThan(SIZE + 3 * MiB);

      // Any object-store client reads it: the format (chunks, meta, digest) is NATS's own.
      const obj = await new Objm(jetstream(nc)).open(ARTIFACT_FILES_STORE);
      const info = await obj.info("b1/j0/0/0-disk.img");
      expect(info?.size).toBe(SIZE);
      expect(info?.digest).toBe(`SHA-256=${Buffer.from(sha256(data), "hex").toString("base64url")}=`);
      const stream = await (await artifacts.store()).get("b1/j0/0/0-disk.img", 0, AbortSignal.timeout(60_000));
      expect(sha256(await drain(stream))).toBe(sha256(data));
      const viaClient = await obj.get("b1/j0/0/0-disk.img");
      const reader = viaClient?.data.getReader();
      const hash = createHash("sha256");
      for (;;) {
        const chunk = await reader?.read();
        if (!chunk || chunk.done) break;
        hash.update(chunk.value);
      }
      expect(hash.digest("hex")).toBe(sha256(data));
      await artifacts.close();
    } finally {
      await nc.close();
      await nats.stop();
    }
  }, 180_000);

  it("S3 (s3rver): a connection cut mid-part resumes at the parts in flight; a byte flipped on the wire is caught on arrival and the part sent again", async () => {
    await using s3 = await S3Server.start();
    await using proxy = await TcpProxy.start(Number(new URL(s3.endpoint).port));
    const partSizeBytes = 5 * MiB;
    const store = await S3Store.open({ backend: "s3", bucket: "kiln", endpoint: `http://127.0.0.1:${proxy.port}`, forcePathStyle: true, partSizeBytes, ...S3_TEST_CREDENTIALS });
    try {
      let before = proxy.upstreamBytes;
      proxy.when(before + 12 * MiB, () => proxy.cut(1_000));
      const cut = await uploadResumable(store, file, "b1/cut.img", AbortSignal.timeout(120_000));
      let sent = proxy.upstreamBytes - before;
      expect(cut).toMatchObject({ size: SIZE, sha256: sha256(data), corruptChunks: 0 });
      expect(cut.retries).toBeGreaterThan(0);
      // The file once, the parts in flight at the cut sent again (at most S3_PARTS_IN_FLIGHT parts), and HTTP.
      expect(sent).toBeGreaterThan(SIZE);
      expect(sent).toBeLessThan(SIZE + S3_PARTS_IN_FLIGHT * partSizeBytes + 256 * 1024);
      expect(sha256(await drain(await store.get("b1/cut.img", 0, AbortSignal.timeout(60_000))))).toBe(sha256(data));

      // A byte flipped 7 MiB in: inside the second part's body. s3rver stores it as it came and reports its MD5.
      before = proxy.upstreamBytes;
      proxy.corrupt(before + 7 * MiB);
      const flipped = await uploadResumable(store, file, "b1/flipped.img", AbortSignal.timeout(120_000));
      sent = proxy.upstreamBytes - before;
      expect(proxy.corrupted).toBe(true);
      expect(flipped).toMatchObject({ size: SIZE, sha256: sha256(data), corruptChunks: 1, retries: 1 });
      // The corrupted part and the parts in flight after it sent again.
      expect(sent).toBeLessThan(SIZE + S3_PARTS_IN_FLIGHT * partSizeBytes + 256 * 1024);
      expect(sha256(await drain(await store.get("b1/flipped.img", 0, AbortSignal.timeout(60_000))))).toBe(sha256(data));
    } finally {
      await store.close();
    }
  }, 180_000);

  it("directory store: an uploading process dies mid-file; the next upload keeps the stored chunks that match and appends the rest", async () => {
    const storeDir = path.join(work.dir, "store");
    const key = "b1/j0/0/0-disk.img";
    const died = await runScript("test/src/upload_child.ts", [storeDir, file, key, String(3 * DIR_CHUNK_BYTES)], { cwd: work.dir, timeoutMs: 60_000 });
    expect(died.code, died.stderr).toBeNull();
    const partial = path.join(storeDir, "b1", "j0", "0", "0-disk.img.partial");
    const left = (await readFile(partial)).length;
    expect(left).toBeGreaterThanOrEqual(3 * DIR_CHUNK_BYTES);
    expect(left).toBeLessThan(SIZE);

    // Damage the stored second chunk: the resumed upload must not trust it.
    const fh = await open(partial, "r+");
    await fh.write(Buffer.from([(data[DIR_CHUNK_BYTES + 100] ?? 0) ^ 0xff]), 0, 1, DIR_CHUNK_BYTES + 100);
    await fh.close();

    const store = new DirectoryStore(storeDir);
    const resumed = await uploadResumable(store, file, key, AbortSignal.timeout(60_000));
    expect(resumed).toMatchObject({ size: SIZE, sha256: sha256(data), keptBytes: DIR_CHUNK_BYTES, sentBytes: SIZE - DIR_CHUNK_BYTES, retries: 0 });
    expect(sha256(await readFile(path.join(storeDir, key)))).toBe(sha256(data));
    expect(await readdir(path.dirname(partial))).toEqual(["0-disk.img"]);
  }, 120_000);
});
