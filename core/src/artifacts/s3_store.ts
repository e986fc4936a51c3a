/**
 * An S3-compatible service as the artifact store. Uploads are multipart, one part of `partSizeBytes` per chunk of the
 * resumable upload driver (./upload.ts), S3_PARTS_IN_FLIGHT parts sent at once (one part at a time leaves the link idle
 * for every part's round trip and the server's own hashing), so memory stays at a few parts whatever the file size.
 * Downloads can skip the coordinator: `directSource` hands out a presigned GET URL the CLI fetches itself. Every part is sent with
 * its Content-MD5, which S3 checks on arrival and refuses on a mismatch; servers that do not check it still answer
 * with the MD5 of what they stored as the part's ETag, which is compared too. A refused or mismatched part, or one
 * cut off by a dropped connection, is sent again; the parts before it stay. An aborted or failed upload is aborted on
 * the server too (no orphan parts). A multipart upload whose process died (the agent killed mid-file) stays on the
 * server under the object's key: the next upload of the key (the job's retry, on any agent) finds it
 * (ListMultipartUploads, ListParts), keeps the leading parts whose ETag is the MD5 of the local file's bytes there, and
 * continues after them; older leftovers of the key are aborted. A completed object is tagged with its sha256 (and the
 * ETag it was written for), so a retry whose file is the same keeps it instead of sending it again. Payloads are not
 * signed (UNSIGNED-PAYLOAD): signing would hash every byte with sha256 a second time, and the MD5 already proves each
 * part. The SDK is imported on first use: the CLI and farms that do not use S3 never load it.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { CompletedPart, MultipartUpload, Part, S3Client, Tag } from "@aws-sdk/client-s3";
import { ChecksumMismatchError, NotFoundError, UnavailableError } from "../errors.js";
import { DEFAULT_S3_PART_BYTES, type ArtifactStoreConfig } from "./config.js";
import type { ArtifactStore, DirectSource, StoredObject, StoreUpload } from "./store.js";

type S3Config = Extract<ArtifactStoreConfig, { backend: "s3" }>;
/** At most this many parts are uploaded at once; each holds a copy of its part (the driver reuses its buffers). */
export const S3_PARTS_IN_FLIGHT = 4;
/** ... and at most this many bytes of them, so large parts (`part_size_mb=64`) keep the agent's memory bounded. */
const S3_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

/**
 * Signs requests without hashing their bodies (`UNSIGNED-PAYLOAD`): the SDK would otherwise read every byte once more
 * for SigV4; kiln checks each part's MD5 and the file's sha256 itself.
 */
export function sendUnsignedPayloads(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      return next(args);
    },
    { step: "build", name: "kilnUnsignedPayload" },
  );
}

/** How long a presigned download URL is valid: long enough to fetch a large image over a slow link. */
const PRESIGNED_URL_SECONDS = 3600;
type Sdk = typeof import("@aws-sdk/client-s3");

/**
 * The tags that record an object's sha256. S3 takes user metadata only when a multipart upload is created, before
 * the file has been read, and rewriting it later means copying the object; tags can be set on the completed object.
 * They are set after it is visible, so a concurrent upload of the key may replace the object in between: the tags
 * also name the ETag of the object they were written for, and count only on an object with that ETag.
 */
const SHA256_TAG = "kiln-sha256";
const ETAG_TAG = "kiln-etag";

const unquote = (etag: string): string => etag.replace(/"/g, "");

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404;
}

const SDK_NODE_NOTICE_OFF = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED";

/**
 * Runs `construct` (an S3Client's constructor) with the SDK's notice that its releases from 2027 on need Node 22
 * switched off. kiln pins its SDK in package-lock.json, so the notice is for kiln's maintainers; on Node 20 it would
 * land, nine lines long, in the middle of a build's output. The SDK reads the switch while constructing the first
 * client and never asks again; it is restored at once, so processes a build starts (a user's own SDK) still get it.
 */
function withoutNodeVersionNotice<T>(construct: () => T): T {
  const before = process.env[SDK_NODE_NOTICE_OFF];
  process.env[SDK_NODE_NOTICE_OFF] = "true";
  try {
    return construct();
  } finally {
    if (before === undefined) delete process.env[SDK_NODE_NOTICE_OFF];
    else process.env[SDK_NODE_NOTICE_OFF] = before;
  }
}

export class S3Store implements ArtifactStore {
  readonly kind = "s3";
  private bucketChecked: Promise<void> | undefined;

  private constructor(
    private readonly config: S3Config,
    private readonly client: S3Client,
    private readonly sdk: typeof import("@aws-sdk/client-s3"),
  ) {}

  static async open(config: S3Config): Promise<S3Store> {
    const sdk = await import("@aws-sdk/client-s3");
    const client = withoutNodeVersionNotice(() => new sdk.S3Client({
      region: config.region ?? "us-east-1",
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      forcePathStyle: config.forcePathStyle ?? config.endpoint !== undefined,
      ...(config.accessKeyId && config.secretAccessKey
        ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
        : {}),
      // kiln verifies sha256 end to end itself; the SDK's default CRC trailers (aws-chunked bodies) are not
      // understood by every S3-compatible server.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    }));
    sendUnsignedPayloads(client);
    return new S3Store(config, client, sdk);
  }

  private objectKey(key: string): string {
    const prefix = this.config.prefix ?? "";
    return prefix === "" ? key : `${prefix.replace(/\/+$/, "")}/${key}`;
  }

  /** Creates the bucket on first use when it does not exist (a fresh MinIO or test server). */
  private ensureBucket(): Promise<void> {
    this.bucketChecked ??= (async () => {
      try {
        await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: this.config.bucket }));
        return;
      } catch {
        // Missing, or a server without HEAD on buckets: creating tells which.
      }
      try {
        await this.client.send(new this.sdk.CreateBucketCommand({ Bucket: this.config.bucket }));
      } catch (err) {
        const name = (err as { name?: string }).name;
        if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw this.unavailable(err);
      }
    })().catch((err: unknown) => {
      this.bucketChecked = undefined;
      throw err;
    });
    return this.bucketChecked;
  }

  private unavailable(err: unknown): Error {
    const message = err instanceof Error ? err.message : String(err);
    return new UnavailableError(`S3 store ${this.config.endpoint ?? "(AWS)"} bucket ${this.config.bucket}: ${message}`, { cause: err, retryable: true });
  }

  async begin(key: string, signal: AbortSignal): Promise<StoreUpload> {
    await this.ensureBucket();
    const Key = this.objectKey(key);
    const partBytes = this.config.partSizeBytes ?? DEFAULT_S3_PART_BYTES;
    const left = await this.leftover(Key, partBytes, signal);
    if (left) return new S3Upload(this, this.client, this.sdk, this.config.bucket, Key, left.uploadId, partBytes, left.parts);
    try {
      const created = await this.client.send(new this.sdk.CreateMultipartUploadCommand({ Bucket: this.config.bucket, Key }), { abortSignal: signal });
      if (!created.UploadId) throw new UnavailableError("S3 CreateMultipartUpload returned no UploadId");
      return new S3Upload(this, this.client, this.sdk, this.config.bucket, Key, created.UploadId, partBytes, []);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw this.unavailable(err);
    }
  }

  /** Multipart uploads in progress under `prefix` (every page). */
  private async listUploads(prefix: string, signal?: AbortSignal): Promise<MultipartUpload[]> {
    const uploads: MultipartUpload[] = [];
    let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (;;) {
      const page = await this.client.send(new this.sdk.ListMultipartUploadsCommand({ Bucket: this.config.bucket, Prefix: prefix, ...markers }), { abortSignal: signal });
      uploads.push(...(page.Uploads ?? []));
      if (!page.IsTruncated) return uploads;
      markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
    }
  }

  /** The parts of a multipart upload, in part-number order (every page). */
  private async listParts(Key: string, UploadId: string, signal?: AbortSignal): Promise<Part[]> {
    const parts: Part[] = [];
    let PartNumberMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(new this.sdk.ListPartsCommand({ Bucket: this.config.bucket, Key, UploadId, ...(PartNumberMarker ? { PartNumberMarker } : {}) }), { abortSignal: signal });
      parts.push(...(page.Parts ?? []));
      if (!page.IsTruncated || !page.NextPartNumberMarker) return parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      PartNumberMarker = page.NextPartNumberMarker;
    }
  }

  /**
   * The newest unfinished multipart upload of `Key` an earlier process left, with its leading whole parts (parts
   * 1, 2, ... of `partBytes` each: what this upload would send); older ones are aborted. Undefined when there is
   * none, or the server cannot list them (then the upload starts afresh, as before).
   */
  private async leftover(Key: string, partBytes: number, signal: AbortSignal): Promise<{ uploadId: string; parts: Part[] } | undefined> {
    let uploads: MultipartUpload[];
    try {
      uploads = (await this.listUploads(Key, signal)).filter((u) => u.Key === Key && u.UploadId);
    } catch {
      if (signal.aborted) throw signal.reason;
      return undefined;
    }
    uploads.sort((a, b) => (b.Initiated?.getTime() ?? 0) - (a.Initiated?.getTime() ?? 0));
    const [newest, ...older] = uploads;
    for (const u of older) await this.abortUpload(u.Key ?? Key, u.UploadId ?? "");
    if (!newest?.UploadId) return undefined;
    let parts: Part[];
    try {
      parts = await this.listParts(Key, newest.UploadId, signal);
    } catch {
      if (signal.aborted) throw signal.reason;
      return undefined;
    }
    const held: Part[] = [];
    for (const part of parts) {
      if (part.PartNumber !== held.length + 1 || part.Size !== partBytes || !part.ETag) break;
      held.push(part);
    }
    return { uploadId: newest.UploadId, parts: held };
  }

  private async abortUpload(Key: string, UploadId: string): Promise<void> {
    await this.client.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.config.bucket, Key, UploadId })).catch(() => undefined);
  }

  /** @internal */
  wrap(err: unknown): Error {
    return err instanceof ChecksumMismatchError || err instanceof UnavailableError ? err : this.unavailable(err);
  }

  async get(key: string, offset: number, signal: AbortSignal): Promise<Readable> {
    try {
      const out = await this.client.send(
        new this.sdk.GetObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key), ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}) }),
        { abortSignal: signal },
      );
      if (!(out.Body instanceof Readable)) throw new UnavailableError("S3 returned no body stream");
      return out.Body;
    } catch (err) {
      if (isMissing(err)) throw new NotFoundError(`artifact object ${key} is missing from S3 bucket ${this.config.bucket}`, { cause: err });
      throw this.unavailable(err);
    }
  }

  /** A presigned GET URL of the object (for Range requests from any offset); no request to S3 is made. */
  async directSource(key: string): Promise<DirectSource> {
    const { getSignedUrl } = await import("@aws-sdk/s3-request-presigner");
    const command = new this.sdk.GetObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) });
    return { url: await getSignedUrl(this.client, command, { expiresIn: PRESIGNED_URL_SECONDS }) };
  }

  /**
   * With `sha256`, also the object's tags: the sha256 is trusted only when the tags name the ETag HeadObject reports
   * (see S3Upload.complete). A server that refuses tags (no permission, not implemented) leaves it absent.
   */
  async stat(key: string, options: { readonly sha256?: boolean } = {}): Promise<StoredObject | null> {
    const Key = this.objectKey(key);
    let head: { ContentLength?: number; ETag?: string };
    try {
      head = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.config.bucket, Key }));
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.unavailable(err);
    }
    const size = head.ContentLength ?? 0;
    if (!options.sha256 || !head.ETag) return { size };
    let tags: Tag[];
    try {
      tags = (await this.client.send(new this.sdk.GetObjectTaggingCommand({ Bucket: this.config.bucket, Key }))).TagSet ?? [];
    } catch {
      return { size };
    }
    const tag = (name: string): string | undefined => tags.find((t) => t.Key === name)?.Value;
    const sha256 = tag(SHA256_TAG);
    return tag(ETAG_TAG) === unquote(head.ETag) && sha256 !== undefined && /^[0-9a-f]{64}$/.test(sha256) ? { size, sha256 } : { size };
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      if (!isMissing(err)) throw this.unavailable(err);
    }
  }

  /**
   * Aborts the multipart uploads under the store's prefix last written before the cut-off. An upload resumed by a
   * later process keeps its first Initiated time, so its newest part decides.
   */
  async sweepPartials(olderThanMs: number, now = Date.now()): Promise<number> {
    await this.ensureBucket();
    const prefix = this.config.prefix ? `${this.config.prefix.replace(/\/+$/, "")}/` : "";
    let removed = 0;
    try {
      for (const u of await this.listUploads(prefix)) {
        if (!u.Key || !u.UploadId) continue;
        const initiated = u.Initiated?.getTime() ?? 0;
        if (now - initiated <= olderThanMs) continue;
        const parts = await this.listParts(u.Key, u.UploadId);
        const lastWrite = parts.reduce((t, p) => Math.max(t, p.LastModified?.getTime() ?? 0), initiated);
        if (now - lastWrite <= olderThanMs) continue;
        await this.abortUpload(u.Key, u.UploadId);
        removed++;
      }
    } catch (err) {
      throw this.unavailable(err);
    }
    return removed;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

class S3Upload implements StoreUpload {
  private readonly parts: CompletedPart[] = [];
  /** Parts being sent, oldest first. */
  private inFlight: { index: number; sent: Promise<void> }[] = [];
  /**
   * The first part that failed in flight, until `recover` hands it to the driver (a recover that fails after the
   * parts settled must not forget it): writes refuse until then, so no part is skipped.
   */
  private firstFailed: { index: number; error: unknown } | undefined;
  /** Part-sized buffers of parts that were stored, reused for the next ones (fresh 8 MiB buffers make RSS creep). */
  private readonly spare: Buffer[] = [];
  private readonly maxInFlight: number;

  constructor(
    private readonly store: S3Store,
    private readonly client: S3Client,
    private readonly sdk: Sdk,
    private readonly bucket: string,
    private readonly key: string,
    private readonly uploadId: string,
    readonly chunkBytes: number,
    /** Leading parts an earlier process stored in this multipart upload. */
    private readonly held: readonly Part[],
  ) {
    this.maxInFlight = Math.max(1, Math.min(S3_PARTS_IN_FLIGHT, Math.floor(S3_BYTES_IN_FLIGHT / chunkBytes)));
  }

  get heldChunks(): number {
    return this.held.length;
  }

  /** Parts in flight complete in any order: the stored prefix ends at the first part not (yet) stored. */
  get storedChunks(): number {
    let stored = 0;
    while (this.parts[stored] !== undefined) stored++;
    return stored;
  }

  /** A held part is kept when its ETag is the MD5 of the local bytes (S3's ETag of a part not encrypted with KMS). */
  holds(index: number, data: Buffer): Promise<boolean> {
    const part = this.held[index];
    const etag = part?.ETag?.replace(/"/g, "");
    const same = etag === createHash("md5").update(data).digest("hex");
    if (same) this.parts[index] = { PartNumber: index + 1, ETag: part?.ETag };
    return Promise.resolve(same);
  }

  /** Parts from `chunks` on are not listed at completion (and are replaced when sent again). */
  async truncate(chunks: number): Promise<void> {
    this.parts.length = Math.min(this.parts.length, chunks);
  }

  async write(index: number, data: Buffer, signal: AbortSignal): Promise<void> {
    if (this.firstFailed !== undefined) throw this.firstFailed.error;
    // Sent again after a failure: stored only once this attempt succeeds.
    delete this.parts[index];
    const buffer = this.spare.pop() ?? Buffer.allocUnsafe(this.chunkBytes);
    const part = buffer.subarray(0, data.copy(buffer));
    const sent = this.sendPart(index, part, signal).then(
      () => void this.spare.push(buffer),
      (err: unknown) => {
        // Its own error, whoever meets it first (the driver counts a corrupt part by the error's class).
        if (this.firstFailed === undefined || index < this.firstFailed.index) this.firstFailed = { index, error: err };
        throw err;
      },
    );
    // A failure surfaces when the driver awaits this part (here or in drain); until then it is not unhandled.
    sent.catch(() => undefined);
    this.inFlight.push({ index, sent });
    while (this.inFlight.length >= this.maxInFlight) await this.inFlight.shift()?.sent;
  }

  private async sendPart(index: number, data: Buffer, signal: AbortSignal): Promise<void> {
    const md5 = createHash("md5").update(data).digest();
    let etag: string | undefined;
    try {
      const out = await this.client.send(
        new this.sdk.UploadPartCommand({
          Bucket: this.bucket,
          Key: this.key,
          UploadId: this.uploadId,
          PartNumber: index + 1,
          Body: data,
          ContentLength: data.length,
          ContentMD5: md5.toString("base64"),
        }),
        { abortSignal: signal },
      );
      etag = out.ETag;
    } catch (err) {
      if ((err as { name?: string }).name === "BadDigest") {
        throw new ChecksumMismatchError(`part ${index + 1} of ${this.key} arrived corrupted (S3 refused its Content-MD5)`, { cause: err, retryable: true });
      }
      throw this.store.wrap(err);
    }
    // A server that does not check Content-MD5 still reports the MD5 of what it stored.
    const stored = etag?.replace(/"/g, "");
    if (stored !== md5.toString("hex")) {
      throw new ChecksumMismatchError(`part ${index + 1} of ${this.key} arrived corrupted: the server stored MD5 ${stored ?? "(none)"}, kiln sent ${md5.toString("hex")}`, { retryable: true });
    }
    this.parts[index] = { PartNumber: index + 1, ETag: etag };
  }

  async drain(): Promise<void> {
    if (this.firstFailed !== undefined) throw this.firstFailed.error;
    while (this.inFlight.length > 0) await this.inFlight.shift()?.sent;
  }

  async recover(next: number, signal: AbortSignal): Promise<number> {
    // Parts still in flight finish (or fail) first; then the upload goes on from the first part that failed (parts
    // after it that were stored are simply sent again: a part number sent again replaces the part). S3 answering is
    // checked on the bucket, not on the upload: s3rver drops the connection of a ListParts after parts were cut off.
    const settling = this.inFlight;
    this.inFlight = [];
    await Promise.allSettled(settling.map((p) => p.sent));
    try {
      await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
    } catch (err) {
      throw this.store.wrap(err);
    }
    const held = Math.min(next, this.firstFailed?.index ?? next);
    this.firstFailed = undefined;
    return held;
  }

  async complete(size: number, sha256: string, signal: AbortSignal): Promise<void> {
    let etag: string | undefined;
    try {
      if (this.parts.length === 0) {
        // S3 has no empty multipart upload.
        await this.abort();
        etag = (await this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: this.key, Body: Buffer.alloc(0) }), { abortSignal: signal })).ETag;
      } else {
        etag = (
          await this.client.send(
            new this.sdk.CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId, MultipartUpload: { Parts: this.parts } }),
            { abortSignal: signal },
          )
        ).ETag;
      }
      const head = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.key }), { abortSignal: signal });
      if (head.ContentLength !== size) throw new ChecksumMismatchError(`${this.key}: S3 holds ${head.ContentLength ?? "no"} bytes after an upload of ${size}`);
    } catch (err) {
      throw this.store.wrap(err);
    }
    if (!etag) return;
    // The ETag is the one S3 answered for this object, not HeadObject's (another upload may have replaced it since).
    // Without the tags (no s3:PutObjectTagging permission, a server without tags) the object is stored all the same;
    // only a retry of its job cannot keep it.
    const TagSet = [
      { Key: SHA256_TAG, Value: sha256 },
      { Key: ETAG_TAG, Value: unquote(etag) },
    ];
    await this.client.send(new this.sdk.PutObjectTaggingCommand({ Bucket: this.bucket, Key: this.key, Tagging: { TagSet } }), { abortSignal: signal }).catch(() => undefined);
  }

  async abort(): Promise<void> {
    await this.client.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId })).catch(() => undefined);
  }
}
