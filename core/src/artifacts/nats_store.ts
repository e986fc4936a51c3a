/**
 * The default backend: the JetStream object store `kiln_artifact_files`. Uploads write the object store's own format
 * (chunk messages on `$O.<bucket>.C.<nuid>`, then the meta message with the size and the SHA-256 digest), so any
 * NATS object-store client reads the result, but they do it themselves instead of through `ObjectStore.put`: that
 * one cannot resume, waits for each chunk's acknowledgement before sending the next, and hashes every byte a second
 * time. Four chunks are in flight; each carries its index in a header and a message id (a chunk sent twice is dropped
 * by the server), so after a dropped connection the server tells exactly which chunks it holds (an acknowledgement
 * lost with the connection is not a chunk lost), and the upload continues after the last of them. An object's nuid is
 * `<key hash>.<random>`, so the chunks of an upload whose process died stay findable by key (under
 * `$O.<bucket>.C.<key hash>.*`): the next upload of the key (the job's retry, on any agent) reads them back, keeps those
 * that match its local file byte for byte, and continues after them. Downloads read the object's chunk subject through
 * an ordered pull consumer instead of `ObjectStore.get`, whose push consumer enqueues chunks as fast as the server
 * sends them: a slow reader (a CLI on a thin link) would buffer the whole file.
 */
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { Base64UrlPaddedCodec, Objm, type ObjectStore } from "@nats-io/obj";
import { StorageType } from "@nats-io/jetstream";
import { ChecksumMismatchError, NotFoundError } from "../errors.js";
import type { ArtifactStore, StoredObject, StoreUpload } from "./store.js";

export const ARTIFACT_FILES_STORE = "kiln_artifact_files";
const STREAM = `OBJ_${ARTIFACT_FILES_STORE}`;
/** Chunk messages: half NATS's default max_payload (1 MiB); a server configured below 1 MiB is refused at publish. */
const CHUNK_BYTES = 512 * 1024;
const CHUNK_HEADER = "Kiln-Chunk";
/**
 * Which upload attempt (one per process and upload) wrote a chunk. An agent cut off from NATS whose job went to
 * another agent may reconnect and publish again onto the subject the retry took over; the attempt tells each side
 * which chunks are its own, so neither continues after the other's.
 */
const ATTEMPT_HEADER = "Kiln-Attempt";
/**
 * Chunks a download asks the server for at once (8 MiB): with fewer, the reader waits for each pull's round trip
 * (8 halved the throughput); the consumer never buffers more, so a slow reader still holds at most this. 32 read no
 * faster (1 GiB read by the CLI straight from NATS: 155 vs 148-151 MiB/s) and raised the CLI's peak RSS from
 * 191-198 to 211-226 MiB.
 */
const PULL_CHUNKS = 16;
/** Publishes awaiting their acknowledgement: a round trip per chunk would halve the throughput. */
const CHUNKS_IN_FLIGHT = 4;
const CHUNK_SUBJECTS = `$O.${ARTIFACT_FILES_STORE}.C.`;

/** The first token of the nuids of `key`'s uploads: a subject token that names the key. */
function keyToken(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 32).toUpperCase();
}

/** The hex sha256 of an object-store digest (`SHA-256=<base64url>`); undefined for another or a malformed one. */
function digestHex(digest: string | undefined): string | undefined {
  const match = /^SHA-256=([A-Za-z0-9_+/-]+=*)$/i.exec(digest ?? "");
  const bytes = match?.[1] === undefined ? undefined : Buffer.from(match[1], "base64url");
  return bytes?.length === 32 ? bytes.toString("hex") : undefined;
}

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

  /** The existing store, for a reader (the CLI reading a download directly): creates nothing. */
  static async bind(js: JetStreamClient): Promise<NatsObjectStore> {
    return new NatsObjectStore(js, await new Objm(js).open(ARTIFACT_FILES_STORE));
  }

  async begin(key: string): Promise<StoreUpload> {
    return NatsUpload.open(this.js, await this.js.jetstreamManager(), this.obj, key, CHUNK_BYTES);
  }

  async get(key: string, offset: number, signal: AbortSignal): Promise<Readable> {
    const info = await this.obj.info(key);
    if (!info || info.deleted) throw new NotFoundError(`artifact object ${key} is missing from the object store ${ARTIFACT_FILES_STORE}`);
    const size = info.size;
    const js = this.js;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      if (size === 0 || offset >= size) return;
      const consumer = await js.consumers.get(`OBJ_${ARTIFACT_FILES_STORE}`, { filter_subjects: `$O.${ARTIFACT_FILES_STORE}.C.${info?.nuid ?? ""}` });
      const messages = await consumer.consume({ max_messages: PULL_CHUNKS });
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

  /** The sha256 is the meta's digest: written with the object's size and chunk subject in one message. */
  async stat(key: string, options: { readonly sha256?: boolean } = {}): Promise<StoredObject | null> {
    const info = await this.obj.info(key);
    if (!info || info.deleted) return null;
    const sha256 = options.sha256 ? digestHex(info.digest) : undefined;
    return sha256 === undefined ? { size: info.size } : { size: info.size, sha256 };
  }

  async delete(key: string): Promise<void> {
    const info = await this.obj.info(key);
    if (info && !info.deleted) await this.obj.delete(key);
  }

  /** Chunk subjects no object's meta names, whose last chunk is older than the cut-off, are purged. */
  async sweepPartials(olderThanMs: number, now = Date.now()): Promise<number> {
    const jsm = await this.js.jetstreamManager();
    const subjects = Object.keys((await jsm.streams.info(STREAM, { subjects_filter: `${CHUNK_SUBJECTS}>` })).state.subjects ?? {});
    // Read after the subjects: an upload that completes in between is already named by its meta.
    const live = new Set((await this.obj.list()).filter((o) => !o.deleted).map((o) => `${CHUNK_SUBJECTS}${o.nuid}`));
    let removed = 0;
    for (const subject of subjects) {
      if (live.has(subject)) continue;
      const last = await jsm.streams.getMessage(STREAM, { last_by_subj: subject });
      if (last && now - last.time.getTime() <= olderThanMs) continue;
      await jsm.streams.purge(STREAM, { filter: subject });
      removed++;
    }
    return removed;
  }

  async close(): Promise<void> {
    // The connection belongs to the caller.
  }
}

class NatsUpload implements StoreUpload {
  /** Publishes in flight, oldest first. */
  private inFlight: Promise<unknown>[] = [];
  /** Message ids are `<nuid>.<attempt>.<index>`: this process's retries dedupe, a later process's chunks do not. */
  private readonly attempt = randomBytes(4).toString("hex");
  /** Stream sequences of the held chunks read back by `holds`, by chunk index. */
  private readonly heldSeqs: number[] = [];
  /** Held chunks still kept (`truncate` lowers it). */
  private kept: number;
  /** Acknowledged chunks (acks arrive in order on one connection); `recover` resets it to what the server holds. */
  storedChunks: number;

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly obj: ObjectStore,
    private readonly name: string,
    readonly chunkBytes: number,
    /** Like the object store's nuids: unique per upload (and per restart of one), so attempts never mix. */
    private nuid: string,
    readonly heldChunks: number,
    /** The attempt that wrote the held chunks. */
    private readonly heldFrom: string,
  ) {
    this.kept = heldChunks;
    this.storedChunks = 0;
  }

  /**
   * Continues the chunks an earlier upload of `name` left (its process died) when they form an unbroken prefix;
   * other leftovers of the key are purged. The stored object of the key, if any, is never touched here.
   */
  static async open(js: JetStreamClient, jsm: JetStreamManager, obj: ObjectStore, name: string, chunkBytes: number): Promise<NatsUpload> {
    const token = keyToken(name);
    const live = await obj.info(name);
    const liveSubject = live && !live.deleted ? `${CHUNK_SUBJECTS}${live.nuid}` : "";
    const found = (await jsm.streams.info(STREAM, { subjects_filter: `${CHUNK_SUBJECTS}${token}.*` })).state.subjects ?? {};
    const leftovers = Object.entries(found)
      .filter(([subject]) => subject !== liveSubject)
      .sort(([, a], [, b]) => b - a);
    let resume: { nuid: string; held: number; from: string } | undefined;
    for (const [subject, count] of leftovers) {
      if (!resume && count > 0) {
        // Chunks go out in order on one connection, so a prefix ends with chunk count - 1.
        const last = await jsm.streams.getMessage(STREAM, { last_by_subj: subject });
        if (last && Number(last.header.get(CHUNK_HEADER)) + 1 === count) {
          resume = { nuid: subject.slice(CHUNK_SUBJECTS.length), held: count, from: last.header.get(ATTEMPT_HEADER) };
          continue;
        }
      }
      await jsm.streams.purge(STREAM, { filter: subject });
    }
    return new NatsUpload(js, jsm, obj, name, chunkBytes, resume?.nuid ?? NatsUpload.newNuid(name), resume?.held ?? 0, resume?.from ?? "");
  }

  private static newNuid(name: string): string {
    return `${keyToken(name)}.${randomBytes(11).toString("hex").toUpperCase()}`;
  }

  private get subject(): string {
    return `${CHUNK_SUBJECTS}${this.nuid}`;
  }

  /** Reads held chunk `index` back (called in order from 0) and compares it with the local bytes. */
  async holds(index: number, data: Buffer): Promise<boolean> {
    const after = index === 0 ? 0 : (this.heldSeqs[index - 1] ?? Number.MAX_SAFE_INTEGER);
    const stored = await this.jsm.direct.getMessage(STREAM, { next_by_subj: this.subject, seq: after + 1 });
    if (!stored) return false;
    this.heldSeqs[index] = stored.seq;
    return Number(stored.header.get(CHUNK_HEADER)) === index && Buffer.from(stored.data).equals(data);
  }

  /** Deletes the held chunks from `chunks` on (they did not match the local file). */
  async truncate(chunks: number): Promise<void> {
    if (chunks >= this.heldChunks) return;
    this.kept = Math.min(this.kept, chunks);
    if (chunks === 0) {
      await this.jsm.streams.purge(STREAM, { filter: this.subject });
      return;
    }
    let seq = (this.heldSeqs[chunks - 1] ?? 0) + 1;
    for (;;) {
      const stale = await this.jsm.direct.getMessage(STREAM, { next_by_subj: this.subject, seq });
      if (!stale) return;
      await this.jsm.streams.deleteMessage(STREAM, stale.seq, false);
      seq = stale.seq + 1;
    }
  }

  async write(index: number, data: Buffer): Promise<void> {
    const h = headers();
    h.set(CHUNK_HEADER, String(index));
    h.set(ATTEMPT_HEADER, this.attempt);
    // A copy: the client may still hold the payload after a failed publish (to send it on reconnect), while the
    // driver reuses its buffer. The message id makes the server drop a chunk that arrives twice.
    const ack = this.js.publish(this.subject, Uint8Array.prototype.slice.call(data), { headers: h, msgID: `${this.nuid}.${this.attempt}.${index}` });
    ack.then(
      () => void (this.storedChunks = Math.max(this.storedChunks, index + 1)),
      () => undefined,
    );
    this.inFlight.push(ack);
    while (this.inFlight.length >= CHUNKS_IN_FLIGHT) await this.inFlight.shift();
  }

  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight.shift();
  }

  async recover(): Promise<number> {
    const held = await this.heldAfterFailure();
    this.storedChunks = held;
    return held;
  }

  private async heldAfterFailure(): Promise<number> {
    const settling = this.inFlight;
    this.inFlight = [];
    await Promise.allSettled(settling);
    // One connection keeps the chunks in order, so the server holds a prefix: as many as the last one's index + 1.
    const count = (await this.jsm.streams.info(STREAM, { subjects_filter: this.subject })).state.subjects?.[this.subject] ?? 0;
    if (count === 0) return 0;
    const last = await this.jsm.streams.getMessage(STREAM, { last_by_subj: this.subject });
    if (last && !this.wrote(last.header.get(ATTEMPT_HEADER), count)) {
      // Another upload of the key took the subject over (this one's agent was cut off and its job retried
      // elsewhere): leave it the subject, and start over under a new nuid.
      this.nuid = NatsUpload.newNuid(this.name);
      this.kept = 0;
      return 0;
    }
    if (last && Number(last.header.get(CHUNK_HEADER)) + 1 === count) return count;
    // A gap (a chunk refused while later ones landed): no telling which are whole, so the object starts over under a
    // new nuid (the old message ids would be dropped as duplicates).
    await this.jsm.streams.purge(STREAM, { filter: this.subject });
    this.kept = 0;
    this.nuid = NatsUpload.newNuid(this.name);
    return 0;
  }

  /** Whether the last of `count` chunks on the subject is this upload's (its own, or the last held one it kept). */
  private wrote(attempt: string, count: number): boolean {
    return attempt === this.attempt || (this.heldFrom !== "" && attempt === this.heldFrom && count <= this.kept);
  }

  async complete(size: number, sha256: string): Promise<void> {
    const chunks = Math.ceil(size / this.chunkBytes);
    const state = (await this.jsm.streams.info(STREAM, { subjects_filter: this.subject })).state;
    const stored = state.subjects?.[this.subject] ?? 0;
    if (stored !== chunks) throw new ChecksumMismatchError(`object ${this.name}: the object store holds ${stored} chunk(s) of the ${chunks} sent`);
    const last = chunks > 0 ? await this.jsm.streams.getMessage(STREAM, { last_by_subj: this.subject }) : null;
    if (last && !this.wrote(last.header.get(ATTEMPT_HEADER), stored)) {
      throw new ChecksumMismatchError(`object ${this.name}: another upload of the key wrote into this one's chunks`);
    }
    const old = await this.obj.info(this.name);
    const info = {
      name: this.name,
      description: "",
      options: { max_chunk_size: this.chunkBytes },
      bucket: ARTIFACT_FILES_STORE,
      nuid: this.nuid,
      size,
      chunks,
      mtime: new Date().toISOString(),
      digest: `SHA-256=${Base64UrlPaddedCodec.encode(Buffer.from(sha256, "hex"))}`,
      deleted: false,
    };
    const h = headers();
    h.set("Nats-Rollup", "sub");
    await this.js.publish(`$O.${ARTIFACT_FILES_STORE}.M.${Base64UrlPaddedCodec.encode(this.name)}`, JSON.stringify(info), { headers: h });
    if (old && !old.deleted && old.nuid !== this.nuid) await this.jsm.streams.purge(STREAM, { filter: `$O.${ARTIFACT_FILES_STORE}.C.${old.nuid}` }).catch(() => undefined);
  }

  async abort(): Promise<void> {
    await this.jsm.streams.purge(STREAM, { filter: this.subject });
  }
}
