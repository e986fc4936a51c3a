/**
 * An S3-compatible service as the artifact store. Uploads are multipart (@aws-sdk/lib-storage `Upload`): parts of
 * `partSizeBytes`, two in flight, so memory stays at a few parts whatever the file size; an aborted or failed upload
 * is aborted on the server too (no orphan parts). The SDK is imported on first use: the CLI and farms that do not use
 * S3 never load it.
 */
import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { NotFoundError, UnavailableError } from "../errors.js";
import { DEFAULT_S3_PART_BYTES, type ArtifactStoreConfig } from "./config.js";
import type { ArtifactStore, StoredObject } from "./store.js";

type S3Config = Extract<ArtifactStoreConfig, { backend: "s3" }>;
const PARTS_IN_FLIGHT = 2;

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404;
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
    const client = new sdk.S3Client({
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
    });
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

  async put(key: string, source: Readable, _size: number, signal: AbortSignal): Promise<void> {
    await this.ensureBucket();
    const { Upload } = await import("@aws-sdk/lib-storage");
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.config.bucket, Key: this.objectKey(key), Body: source },
      partSize: this.config.partSizeBytes ?? DEFAULT_S3_PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    const onAbort = (): void => void upload.abort().catch(() => undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw this.unavailable(err);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
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

  async stat(key: string): Promise<StoredObject | null> {
    try {
      const head = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }));
      return { size: head.ContentLength ?? 0 };
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.unavailable(err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      if (!isMissing(err)) throw this.unavailable(err);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
