/**
 * The default backend: the JetStream object store `kiln_artifact_files`. Uploads go through @nats-io/obj (chunked,
 * one publish acknowledged at a time, so memory stays at a chunk). Downloads read the object's chunk subject through
 * an ordered pull consumer instead of `ObjectStore.get`, whose push consumer enqueues chunks as fast as the server
 * sends them: a slow reader (a CLI on a thin link) would buffer the whole file.
 */
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { JetStreamClient } from "@nats-io/jetstream";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { StorageType } from "@nats-io/jetstream";
import { NotFoundError } from "../errors.js";
import type { ArtifactStore, StoredObject } from "./store.js";

export const ARTIFACT_FILES_STORE = "kiln_artifact_files";

export class NatsObjectStore implements ArtifactStore {
  readonly kind = "nats";

  private constructor(
    private readonly js: JetStreamClient,
    private readonly obj: ObjectStore,
  ) {}

  static async open(js: JetStreamClient, replicas = 1): Promise<NatsObjectStore> {
    const obj = await new Objm(js).create(ARTIFACT_FILES_STORE, { storage: StorageType.File, replicas });
    return new NatsObjectStore(js, obj);
  }

  async put(key: string, source: Readable, _size: number, signal: AbortSignal): Promise<void> {
    const onAbort = (): void => void source.destroy(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await this.obj.put({ name: key }, Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    if (signal.aborted) {
      await this.delete(key);
      throw signal.reason;
    }
  }

  async get(key: string, offset: number, signal: AbortSignal): Promise<Readable> {
    const info = await this.obj.info(key);
    if (!info || info.deleted) throw new NotFoundError(`artifact object ${key} is missing from the object store ${ARTIFACT_FILES_STORE}`);
    const size = info.size;
    const js = this.js;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      if (size === 0 || offset >= size) return;
      const consumer = await js.consumers.get(`OBJ_${ARTIFACT_FILES_STORE}`, { filter_subjects: `$O.${ARTIFACT_FILES_STORE}.C.${info?.nuid ?? ""}` });
      const messages = await consumer.consume({ max_messages: 8 });
      const stop = (): void => void messages.close();
      signal.addEventListener("abort", stop, { once: true });
      let position = 0;
      try {
        for await (const msg of messages) {
          const data = msg.data;
          const end = position + data.length;
          if (end > offset) yield position >= offset ? data : data.subarray(offset - position);
          position = end;
          if (position >= size || msg.info.pending === 0) break;
        }
      } finally {
        signal.removeEventListener("abort", stop);
        await messages.close();
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async stat(key: string): Promise<StoredObject | null> {
    const info = await this.obj.info(key);
    return info && !info.deleted ? { size: info.size } : null;
  }

  async delete(key: string): Promise<void> {
    const info = await this.obj.info(key);
    if (info && !info.deleted) await this.obj.delete(key);
  }

  async close(): Promise<void> {
    // The connection belongs to the caller.
  }
}

export type { WebReadableStream };
