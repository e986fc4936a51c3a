/**
 * Resumable, verified uploads into each artifact store against its real server, with real faults: the nats-server is
 * killed and restarted mid-upload, the connection to the S3 server (s3rver) is cut mid-part, a byte is flipped on the
 * wire to S3, and a process uploading into each store (object store, S3, directory) dies (SIGKILL) mid-file, or right
 * after it completed the object, the next upload running in this process. Each upload completes byte-identical, and a
 * counting proxy (or the store's own files) shows that the bytes stored before the fault were not sent again: none at
 * all when the object was complete and the file the same; all of them when one byte of it changed.
 */
import { createHash } from "node:crypto";
import { copyFile, readFile, readdir, rename, stat, writeFile, open } from "node:fs/promises";
import path from "node:path";
import { jetstream, type JetStreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ARTIFACT_FILES_STORE, Artifacts, type ArtifactStore, DIR_CHUNK_BYTES, DirectoryStore, NatsObjectStore, NatsServer, S3Store, S3_PARTS_IN_FLIGHT, connectFarm, uploadResumable } from "../../core/src/mod.js";
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
        const killed = nats;
        killed.kill();
        restarted = (async () => {
          await new Promise((r) => setTimeout(r, 1_000));
          // The killed server's own temp dir (ports file, config) goes; the store is storeDir, kept for the restart.
          await killed.stop();
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

  /** The chunk subjects of the object store's stream with their message counts. */
  async function chunkSubjects(jsm: JetStreamManager): Promise<Record<string, number>> {
    return (await jsm.streams.info(`OBJ_${ARTIFACT_FILES_STORE}`, { subjects_filter: `$O.${ARTIFACT_FILES_STORE}.C.>` })).state.subjects ?? {};
  }

  /** Flips one byte of the local file: the held chunk there no longer matches and must not be kept. */
  async function changeLocalByte(at: number): Promise<void> {
    data[at] = (data[at] ?? 0) ^ 0xff;
    const fh = await open(file, "r+");
    await fh.write(data, at, 1, at);
    await fh.close();
  }

  /**
   * A child process uploads `file` to `key` of the store `target` names (a NATS URL, an S3 config as JSON, a
   * directory) and SIGKILLs itself once `dieAfter` bytes are stored ("complete": once the whole object is).
   */
  async function uploadAndDie(target: string, key: string, dieAfter: string): Promise<void> {
    const died = await runScript("test/src/upload_child.ts", [target, file, key, dieAfter], { cwd: work.dir, timeoutMs: 60_000 });
    expect(died.code, died.stderr).toBeNull();
    // Whatever the store, the process wrote nothing but its progress: no SDK notice about Node versions (S3).
    expect(died.stderr).not.toMatch(/Warning/);
  }

  /**
   * Uploads `file` to `key` again, through `proxy`, after a dead process's upload: the first `kept` bytes the store
   * holds are kept (0: the whole file is sent), and only the rest goes over the wire once (plus protocol: headers, the
   * read-back requests, the deletes of stale chunks).
   */
  async function expectUploadKeeps(store: ArtifactStore, proxy: TcpProxy, key: string, kept: number): Promise<void> {
    const before = proxy.upstreamBytes;
    const resumed = await uploadResumable(store, file, key, AbortSignal.timeout(60_000));
    const sent = proxy.upstreamBytes - before;
    expect(resumed).toEqual({ size: SIZE, sha256: sha256(data), keptBytes: kept, sentBytes: SIZE - kept, retries: 0, corruptChunks: 0 });
    expect(sent).toBeGreaterThan(SIZE - kept);
    expect(sent).toBeLessThan(SIZE - kept + 256 * 1024);
  }

  const S3_PART_BYTES = 5 * MiB;

  /**
   * s3rver behind a counting proxy, after a child process's upload of `file` died `dieAfter` in (see uploadAndDie):
   * `store` (for the retry) talks through the proxy, `client` (the plain SDK) straight to s3rver. Disposing it closes
   * them and stops both servers.
   */
  async function s3AfterDeadUpload(dieAfter: string) {
    const s3 = await S3Server.start();
    const proxy = await TcpProxy.start(Number(new URL(s3.endpoint).port)).catch(async (err: unknown) => {
      await s3[Symbol.asyncDispose]();
      throw err;
    });
    const stopServers = async (): Promise<void> => {
      await proxy[Symbol.asyncDispose]();
      await s3[Symbol.asyncDispose]();
    };
    try {
      const config = { backend: "s3" as const, bucket: "kiln", prefix: "farm", forcePathStyle: true, partSizeBytes: S3_PART_BYTES, ...S3_TEST_CREDENTIALS };
      const key = "b1/j0/0/0-disk.img";
      await uploadAndDie(JSON.stringify({ ...config, endpoint: s3.endpoint }), key, dieAfter);
      const store = await S3Store.open({ ...config, endpoint: `http://127.0.0.1:${proxy.port}` });
      // The SDK's Node-version notice is off only while the store's client is made: children of kiln still get it.
      expect(process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"]).toBeUndefined();
      const sdk = await import("@aws-sdk/client-s3");
      const client = new sdk.S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { ...S3_TEST_CREDENTIALS } });
      return {
        proxy,
        store,
        client,
        sdk,
        key,
        async [Symbol.asyncDispose](): Promise<void> {
          client.destroy();
          await store.close();
          await stopServers();
        },
      };
    } catch (err) {
      await stopServers();
      throw err;
    }
  }

  it("JetStream object store: an uploading process dies mid-file; the next upload keeps the stored chunks that match the local file and sends only the rest", async () => {
    await using nats = await NatsServer.start({ storeDir: path.join(work.dir, "jetstream") });
    await using proxy = await TcpProxy.start(nats.port);
    const key = "b1/j0/0/0-disk.img";
    const chunk = 512 * 1024;
    await uploadAndDie(`nats://127.0.0.1:${nats.port}`, key, String(8 * MiB));
    const nc = await connectFarm({ servers: `nats://127.0.0.1:${proxy.port}` });
    try {
      const jsm = await jetstream(nc).jetstreamManager();
      const left = Object.values(await chunkSubjects(jsm));
      expect(left).toHaveLength(1);
      // At least the chunks acknowledged before the kill (four were in flight); not the whole file.
      expect((left[0] ?? 0) * chunk).toBeGreaterThanOrEqual(8 * MiB - 4 * chunk);
      expect((left[0] ?? 0) * chunk).toBeLessThan(SIZE);

      // The local file changed in chunk 10: chunks 0-9 are kept, the stored chunk 10 on are not trusted.
      await changeLocalByte(10 * chunk + 100);
      const store = await NatsObjectStore.open(jetstream(nc));
      await expectUploadKeeps(store, proxy, key, 10 * chunk);

      const obj = await new Objm(jetstream(nc)).open(ARTIFACT_FILES_STORE);
      const info = await obj.info(key);
      expect(info?.digest).toBe(`SHA-256=${Buffer.from(sha256(data), "hex").toString("base64url")}=`);
      expect(sha256(await drain(await store.get(key, 0, AbortSignal.timeout(60_000))))).toBe(sha256(data));
      // Only the object's own chunks remain: the stale ones were deleted.
      expect(Object.entries(await chunkSubjects(jsm))).toEqual([[`$O.${ARTIFACT_FILES_STORE}.C.${info?.nuid ?? ""}`, SIZE / chunk]]);
    } finally {
      await nc.close();
    }
  }, 120_000);

  it("JetStream object store: an upload cut off while its key's retry took its chunks over starts over instead of continuing after the other's", async () => {
    await using nats = await NatsServer.start({ storeDir: path.join(work.dir, "jetstream") });
    const nc = await connectFarm({ servers: nats.url });
    try {
      const store = await NatsObjectStore.open(jetstream(nc));
      const key = "b1/j0/0/0-disk.img";
      const chunk = 512 * 1024;
      const signal = AbortSignal.timeout(60_000);
      // Attempt 1 stores four chunks, then loses its connection (its agent cut off; the job goes elsewhere).
      const stale = await store.begin(key);
      for (let i = 0; i < 4; i++) await stale.write(i, data.subarray(i * chunk, (i + 1) * chunk), signal);
      await stale.drain(signal);
      // Attempt 2 keeps them and completes the object.
      const retry = await uploadResumable(store, file, key, signal);
      expect(retry).toMatchObject({ keptBytes: 4 * chunk, sha256: sha256(data) });
      // Attempt 1 reconnects: the subject it wrote to now ends with attempt 2's chunks. Counting them as its own
      // would put its bytes after another upload's; it starts over under a new subject instead.
      expect(await stale.recover(4, signal)).toBe(0);
      const other = Buffer.from(data);
      other[0] = (other[0] ?? 0) ^ 0xff;
      for (let i = 0; i < SIZE / chunk; i++) await stale.write(i, other.subarray(i * chunk, (i + 1) * chunk), signal);
      await stale.drain(signal);
      await stale.complete(SIZE, sha256(other), signal);
      // The last writer wins with a whole object of its own; attempt 2's chunks went with the meta it replaced.
      expect(sha256(await drain(await store.get(key, 0, signal)))).toBe(sha256(other));
      const jsm = await jetstream(nc).jetstreamManager();
      expect(Object.values(await chunkSubjects(jsm))).toEqual([SIZE / chunk]);
    } finally {
      await nc.close();
    }
  }, 120_000);

  it("S3 (s3rver): an uploading process dies mid-file; the next upload finds its multipart upload, keeps the parts whose MD5 matches the local file and sends only the rest", async () => {
    const partSizeBytes = S3_PART_BYTES;
    await using s3 = await s3AfterDeadUpload(String(3 * partSizeBytes));
    const { proxy, store, client, sdk, key } = s3;
    const uploads = (await client.send(new sdk.ListMultipartUploadsCommand({ Bucket: "kiln", Prefix: "farm/" }))).Uploads ?? [];
    expect(uploads.map((u) => u.Key)).toEqual([`farm/${key}`]);
    const parts = (await client.send(new sdk.ListPartsCommand({ Bucket: "kiln", Key: `farm/${key}`, UploadId: uploads[0]?.UploadId }))).Parts ?? [];
    expect(parts.length).toBeGreaterThanOrEqual(3);

    // The local file changed in part 3: parts 1 and 2 are kept, part 3 on is sent again.
    await changeLocalByte(2 * partSizeBytes + 100);
    await expectUploadKeeps(store, proxy, key, 2 * partSizeBytes);
    expect(sha256(await drain(await store.get(key, 0, AbortSignal.timeout(60_000))))).toBe(sha256(data));
    expect((await client.send(new sdk.ListMultipartUploadsCommand({ Bucket: "kiln", Prefix: "farm/" }))).Uploads ?? []).toEqual([]);
  }, 120_000);

  it("directory store: an uploading process dies mid-file; the next upload keeps the stored chunks that match and appends the rest", async () => {
    const storeDir = path.join(work.dir, "store");
    const key = "b1/j0/0/0-disk.img";
    await uploadAndDie(storeDir, key, String(3 * DIR_CHUNK_BYTES));
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
    expect((await readdir(path.dirname(partial))).sort()).toEqual(["0-disk.img", "0-disk.img.kiln-sha256"]);
  }, 120_000);

  /** What a retry of the same job sends when the dead attempt had completed the object: nothing, and the object stays. */
  const keptWhole = { size: SIZE, sentBytes: 0, keptBytes: SIZE, retries: 0, corruptChunks: 0 };
  /** ... and when its file differs in a byte: everything. */
  const sentWhole = { size: SIZE, sentBytes: SIZE, keptBytes: 0, retries: 0, corruptChunks: 0 };

  it("JetStream object store: a process stores the whole file and dies before reporting; the next upload of the same file keeps the object and sends nothing, a changed file replaces it", async () => {
    await using nats = await NatsServer.start({ storeDir: path.join(work.dir, "jetstream") });
    await using proxy = await TcpProxy.start(nats.port);
    const key = "b1/j0/0/0-disk.img";
    const chunk = 512 * 1024;
    await uploadAndDie(`nats://127.0.0.1:${nats.port}`, key, "complete");
    const nc = await connectFarm({ servers: `nats://127.0.0.1:${proxy.port}` });
    try {
      const store = await NatsObjectStore.open(jetstream(nc));
      const obj = await new Objm(jetstream(nc)).open(ARTIFACT_FILES_STORE);
      const stored = await obj.info(key);
      expect(await store.stat(key, { sha256: true })).toEqual({ size: SIZE, sha256: sha256(data) });

      const before = proxy.upstreamBytes;
      const kept = await uploadResumable(store, file, key, AbortSignal.timeout(60_000));
      expect(kept).toEqual({ ...keptWhole, sha256: sha256(data) });
      console.log(`nats: the complete object kept; ${proxy.upstreamBytes - before} B sent through the proxy`);
      // A few requests (the object's info), not a chunk.
      expect(proxy.upstreamBytes - before).toBeLessThan(16 * 1024);
      expect((await obj.info(key))?.nuid).toBe(stored?.nuid);
      expect(sha256(await drain(await store.get(key, 0, AbortSignal.timeout(60_000))))).toBe(sha256(data));

      await changeLocalByte(SIZE - 1);
      await expectUploadKeeps(store, proxy, key, 0);
      const info = await obj.info(key);
      expect(info?.digest).toBe(`SHA-256=${Buffer.from(sha256(data), "hex").toString("base64url")}=`);
      expect(sha256(await drain(await store.get(key, 0, AbortSignal.timeout(60_000))))).toBe(sha256(data));
      // The replaced object's chunks went with it.
      const jsm = await jetstream(nc).jetstreamManager();
      expect(Object.entries(await chunkSubjects(jsm))).toEqual([[`$O.${ARTIFACT_FILES_STORE}.C.${info?.nuid ?? ""}`, SIZE / chunk]]);
    } finally {
      await nc.close();
    }
  }, 120_000);

  it("S3 (s3rver): a process stores the whole file and dies before reporting; the next upload of the same file keeps the object (sha256 in its tags) and sends nothing; tags naming another ETag or a changed file make it upload again", async () => {
    await using s3 = await s3AfterDeadUpload("complete");
    const { proxy, store, client, sdk, key } = s3;
    const tags = async (): Promise<Record<string, string | undefined>> =>
      Object.fromEntries(((await client.send(new sdk.GetObjectTaggingCommand({ Bucket: "kiln", Key: `farm/${key}` }))).TagSet ?? []).map((t) => [t.Key, t.Value]));
    const etag = async (): Promise<string> => ((await client.send(new sdk.HeadObjectCommand({ Bucket: "kiln", Key: `farm/${key}` }))).ETag ?? "").replace(/"/g, "");
    const pending = async (): Promise<unknown[]> => (await client.send(new sdk.ListMultipartUploadsCommand({ Bucket: "kiln", Prefix: "farm/" }))).Uploads ?? [];
    expect(await tags()).toEqual({ "kiln-sha256": sha256(data), "kiln-etag": await etag() });

    let before = proxy.upstreamBytes;
    const kept = await uploadResumable(store, file, key, AbortSignal.timeout(60_000));
    expect(kept).toEqual({ ...keptWhole, sha256: sha256(data) });
    console.log(`s3: the complete object kept; ${proxy.upstreamBytes - before} B sent through the proxy`);
    // HeadObject and GetObjectTagging, not a part.
    expect(proxy.upstreamBytes - before).toBeLessThan(16 * 1024);
    expect(await pending()).toEqual([]);
    expect(sha256(await drain(await store.get(key, 0, AbortSignal.timeout(60_000))))).toBe(sha256(data));

    // Tags another object's upload wrote (it completed first, then this one replaced it): not this object's record.
    await client.send(
      new sdk.PutObjectTaggingCommand({ Bucket: "kiln", Key: `farm/${key}`, Tagging: { TagSet: [{ Key: "kiln-sha256", Value: sha256(data) }, { Key: "kiln-etag", Value: "0".repeat(32) }] } }),
    );
    before = proxy.upstreamBytes;
    const untrusted = await uploadResumable(store, file, key, AbortSignal.timeout(60_000));
    expect(untrusted).toEqual({ ...sentWhole, sha256: sha256(data) });
    expect(proxy.upstreamBytes - before).toBeGreaterThan(SIZE);
    expect(await tags()).toEqual({ "kiln-sha256": sha256(data), "kiln-etag": await etag() });

    await changeLocalByte(SIZE / 2);
    await expectUploadKeeps(store, proxy, key, 0);
    expect(sha256(await drain(await store.get(key, 0, AbortSignal.timeout(60_000))))).toBe(sha256(data));
    expect(await tags()).toEqual({ "kiln-sha256": sha256(data), "kiln-etag": await etag() });
    expect(await pending()).toEqual([]);
  }, 120_000);

  it("directory store: a process stores the whole file and dies before reporting; the next upload of the same file keeps the file untouched; a record of another inode or of the file before it was written in place, or a changed file, makes it upload again", async () => {
    const storeDir = path.join(work.dir, "store");
    const key = "b1/j0/0/0-disk.img";
    await uploadAndDie(storeDir, key, "complete");
    const object = path.join(storeDir, key);
    const dir = path.dirname(object);
    expect((await readdir(dir)).sort()).toEqual(["0-disk.img", "0-disk.img.kiln-sha256"]);
    const first = await stat(object);

    const store = new DirectoryStore(storeDir);
    const kept = await uploadResumable(store, file, key, AbortSignal.timeout(60_000));
    expect(kept).toEqual({ ...keptWhole, sha256: sha256(data) });
    // Not written at all: the same file, and no partial was opened.
    const after = await stat(object);
    expect([after.ino, after.mtimeMs]).toEqual([first.ino, first.mtimeMs]);
    expect((await readdir(dir)).sort()).toEqual(["0-disk.img", "0-disk.img.kiln-sha256"]);
    expect(sha256(await readFile(object))).toBe(sha256(data));

    // The same bytes in another file put in its place (not by the store): the record is of the old inode.
    await copyFile(object, `${object}.copy`);
    await rename(`${object}.copy`, object);
    expect(await store.stat(key, { sha256: true })).toEqual({ size: SIZE });
    const untrusted = await uploadResumable(store, file, key, AbortSignal.timeout(60_000));
    expect(untrusted).toEqual({ ...sentWhole, sha256: sha256(data) });
    expect(await store.stat(key, { sha256: true })).toEqual({ size: SIZE, sha256: sha256(data) });
    // The object written in place (the same bytes here): the record is of the file before.
    await writeFile(object, data);
    expect(await store.stat(key, { sha256: true })).toEqual({ size: SIZE });
    expect(await uploadResumable(store, file, key, AbortSignal.timeout(60_000))).toEqual({ ...sentWhole, sha256: sha256(data) });

    await changeLocalByte(SIZE / 2);
    const replaced = await uploadResumable(store, file, key, AbortSignal.timeout(60_000));
    expect(replaced).toEqual({ ...sentWhole, sha256: sha256(data) });
    expect(sha256(await readFile(object))).toBe(sha256(data));
    expect(await store.stat(key, { sha256: true })).toEqual({ size: SIZE, sha256: sha256(data) });
    expect((await readdir(dir)).sort()).toEqual(["0-disk.img", "0-disk.img.kiln-sha256"]);

    // Deleting the object deletes its record.
    await store.delete(key);
    expect(await readdir(dir)).toEqual([]);
  }, 120_000);
});
