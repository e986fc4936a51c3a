/**
 * Abandoned partial uploads do not leak storage: what an upload that never completed left (an agent killed mid-file,
 * no retry came back) is removed from each store by the sweep once it has not been written for the configured age —
 * S3 multipart uploads aborted (s3rver), object-store chunks purged (nats-server), `.partial` files (and the sha256 records of objects gone) deleted — while
 * stored objects and young partials stay. The coordinator runs the sweep on its own.
 */
import { createHash } from "node:crypto";
import { readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { jetstream, type JetStreamManager } from "@nats-io/jetstream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ARTIFACT_FILES_STORE, Artifacts, DirectoryStore, NatsObjectStore, NatsServer, S3Store, connectFarm, uploadResumable, type ArtifactStore } from "../../core/src/mod.js";
import { CoordinatorService } from "../../coordinator/src/mod.js";
import { S3Server, S3_TEST_CREDENTIALS, seededRandom, tempDir, until } from "../src/mod.js";

const MiB = 1024 * 1024;
const HOUR = 3_600_000;

/** Leaves what a process killed mid-file leaves: two chunks stored, no completion, no abort. */
async function leavePartial(store: ArtifactStore, key: string): Promise<void> {
  const up = await store.begin(key, AbortSignal.timeout(30_000));
  for (const i of [0, 1]) await up.write(i, Buffer.alloc(up.chunkBytes, i + 1), AbortSignal.timeout(30_000));
  await up.drain(AbortSignal.timeout(30_000));
}

async function chunkSubjects(jsm: JetStreamManager): Promise<string[]> {
  return Object.keys((await jsm.streams.info(`OBJ_${ARTIFACT_FILES_STORE}`, { subjects_filter: `$O.${ARTIFACT_FILES_STORE}.C.>` })).state.subjects ?? {});
}

describe("artifacts - abandoned partial uploads", () => {
  let work: { dir: string; cleanup: () => Promise<void> };
  let file: string;
  beforeEach(async () => {
    work = await tempDir("kiln-sweep-");
    file = path.join(work.dir, "disk.img");
    const next = seededRandom(3);
    await writeFile(file, Buffer.from(Array.from({ length: 3 * MiB }, () => Math.floor(next() * 256))));
  });
  afterEach(async () => {
    await work.cleanup();
  });

  it("S3: an abandoned multipart upload is aborted once older than the age; a young one and stored objects stay", async () => {
    await using s3 = await S3Server.start();
    const store = await S3Store.open({ backend: "s3", bucket: "kiln", prefix: "farm", endpoint: s3.endpoint, forcePathStyle: true, partSizeBytes: MiB, ...S3_TEST_CREDENTIALS });
    const sdk = await import("@aws-sdk/client-s3");
    const client = new sdk.S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { ...S3_TEST_CREDENTIALS } });
    const pending = async (): Promise<(string | undefined)[]> => ((await client.send(new sdk.ListMultipartUploadsCommand({ Bucket: "kiln" }))).Uploads ?? []).map((u) => u.Key);
    try {
      await uploadResumable(store, file, "b1/done.img", AbortSignal.timeout(30_000));
      await leavePartial(store, "b1/left.img");
      expect(await pending()).toEqual(["farm/b1/left.img"]);
      expect(await store.sweepPartials(HOUR)).toBe(0);
      expect(await pending()).toEqual(["farm/b1/left.img"]);
      expect(await store.sweepPartials(HOUR, Date.now() + 2 * HOUR)).toBe(1);
      expect(await pending()).toEqual([]);
      expect(await store.stat("b1/done.img")).toEqual({ size: 3 * MiB });
    } finally {
      client.destroy();
      await store.close();
    }
  }, 60_000);

  it("directory store: an abandoned .partial is deleted once older than the age", async () => {
    const root = path.join(work.dir, "store");
    const store = new DirectoryStore(root);
    await uploadResumable(store, file, "b1/done.img", AbortSignal.timeout(30_000));
    await leavePartial(store, "b1/left.img");
    expect(await store.sweepPartials(HOUR)).toBe(0);
    expect((await readdir(path.join(root, "b1"))).sort()).toEqual(["done.img", "done.img.kiln-sha256", "left.img.partial"]);
    expect(await store.sweepPartials(HOUR, Date.now() + 2 * HOUR)).toBe(1);
    expect((await readdir(path.join(root, "b1"))).sort()).toEqual(["done.img", "done.img.kiln-sha256"]);
    // A sha256 record whose object was removed outside kiln goes once older than the age.
    await rm(path.join(root, "b1", "done.img"));
    await store.sweepPartials(HOUR);
    expect(await readdir(path.join(root, "b1"))).toEqual(["done.img.kiln-sha256"]);
    await store.sweepPartials(HOUR, Date.now() + 2 * HOUR);
    expect(await readdir(path.join(root, "b1"))).toEqual([]);
  }, 60_000);

  it("object store, through the coordinator: the chunks of an abandoned upload are purged (and a directory store's partial deleted); stored objects stay", async () => {
    await using nats = await NatsServer.start({ storeDir: path.join(work.dir, "jetstream") });
    const nc = await connectFarm({ servers: nats.url });
    const artifacts = await Artifacts.open(jetstream(nc));
    let service: CoordinatorService | undefined;
    try {
      const jsm = await jetstream(nc).jetstreamManager();
      const objects = await NatsObjectStore.open(jetstream(nc));
      const done = await uploadResumable(objects, file, "b1/done.img", AbortSignal.timeout(30_000));
      await leavePartial(objects, "b1/left.img");
      expect(await chunkSubjects(jsm)).toHaveLength(2);
      expect(await objects.sweepPartials(HOUR)).toBe(0);
      const root = path.join(work.dir, "store");
      await artifacts.catalog.setStoreConfig({ backend: "dir", path: root });
      await leavePartial(new DirectoryStore(root), "b1/left.img");

      service = await CoordinatorService.open(nc, { partialUploadMaxAgeMs: 1, partialSweepEveryMs: 200, log: () => undefined });
      await until(
        async () => ((await chunkSubjects(jsm)).length === 1 && (await readdir(path.join(root, "b1"))).length === 0 ? true : undefined),
        "the coordinator's sweep to remove both partials",
      );
      const stream = await objects.get("b1/done.img", 0, AbortSignal.timeout(30_000));
      const hash = createHash("sha256");
      for await (const c of stream) hash.update(c as Uint8Array);
      expect(hash.digest("hex")).toBe(done.sha256);
    } finally {
      service?.close();
      await artifacts.close();
      await nc.close();
    }
  }, 60_000);
});
