/**
 * The farm's artifact-store choice. It lives in the kiln_artifacts bucket (key `config.store`) so that every agent and
 * coordinator of a farm uses the same backend; `kiln coordinator --artifact-store SPEC` sets it. S3 credentials are
 * best left to each process's environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), since the bucket is
 * readable by every NATS user of the farm.
 */
import { InvalidArgumentError } from "../errors.js";

/** Multipart part size of S3 uploads; also the most an upload holds in memory per part in flight. */
export const DEFAULT_S3_PART_BYTES = 8 * 1024 * 1024; // 8 MiB

export type ArtifactStoreConfig =
  | { readonly backend: "nats" }
  | { readonly backend: "dir"; readonly path: string }
  | {
      readonly backend: "s3";
      readonly bucket: string;
      /** Key prefix inside the bucket. @default "" */
      readonly prefix?: string;
      /** An S3-compatible endpoint (MinIO, Ceph, ...); unset for AWS. */
      readonly endpoint?: string;
      /** @default "us-east-1" */
      readonly region?: string;
      /** Path-style addressing (http://host/bucket/key), which most S3-compatible servers need. @default true with an endpoint */
      readonly forcePathStyle?: boolean;
      readonly accessKeyId?: string;
      readonly secretAccessKey?: string;
      /** @default DEFAULT_S3_PART_BYTES (8 MiB) */
      readonly partSizeBytes?: number;
    };

export const DEFAULT_STORE_CONFIG: ArtifactStoreConfig = Object.freeze({ backend: "nats" });

const SPEC_HELP = "use 'nats', 'dir:/shared/path' or 's3://bucket[/prefix][?endpoint=URL&region=R&path_style=true]'";

/** Parses `--artifact-store`: `nats`, `dir:/path`, `s3://bucket/prefix?endpoint=...&region=...&path_style=true`. */
export function parseStoreSpec(spec: string): ArtifactStoreConfig {
  const s = spec.trim();
  if (s === "nats") return DEFAULT_STORE_CONFIG;
  if (s.startsWith("dir:")) {
    const dir = s.slice("dir:".length);
    if (!dir.startsWith("/")) throw new InvalidArgumentError(`--artifact-store '${spec}': the directory must be an absolute path; ${SPEC_HELP}`);
    return Object.freeze({ backend: "dir", path: dir });
  }
  if (s.startsWith("s3://")) {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new InvalidArgumentError(`--artifact-store '${spec}' is not a valid URL; ${SPEC_HELP}`);
    }
    if (!url.hostname) throw new InvalidArgumentError(`--artifact-store '${spec}' names no bucket; ${SPEC_HELP}`);
    const known = new Set(["endpoint", "region", "path_style", "part_size_mb"]);
    const unknown = [...url.searchParams.keys()].filter((k) => !known.has(k));
    if (unknown.length > 0) throw new InvalidArgumentError(`--artifact-store: unknown option(s) ${unknown.join(", ")}; known: ${[...known].join(", ")}`);
    const endpoint = url.searchParams.get("endpoint") ?? undefined;
    const pathStyle = url.searchParams.get("path_style");
    const partMb = url.searchParams.get("part_size_mb");
    const partSizeBytes = partMb === null ? undefined : Number(partMb) * 1024 * 1024;
    if (partSizeBytes !== undefined && (!Number.isInteger(Number(partMb)) || Number(partMb) < 5)) {
      throw new InvalidArgumentError(`--artifact-store: part_size_mb must be a whole number >= 5 (S3's minimum part size), got '${partMb}'`);
    }
    return Object.freeze({
      backend: "s3",
      bucket: url.hostname,
      prefix: url.pathname.replace(/^\/+/, ""),
      ...(endpoint ? { endpoint } : {}),
      region: url.searchParams.get("region") ?? "us-east-1",
      forcePathStyle: pathStyle === null ? endpoint !== undefined : pathStyle === "true",
      ...(partSizeBytes ? { partSizeBytes } : {}),
    });
  }
  throw new InvalidArgumentError(`--artifact-store '${spec}' is not a store; ${SPEC_HELP}`);
}

/** The config as stored, validated again on the way in (another process may have written it). */
export function decodeStoreConfig(bytes: Uint8Array): ArtifactStoreConfig {
  const value = JSON.parse(new TextDecoder().decode(bytes)) as ArtifactStoreConfig;
  if (value.backend === "nats" || (value.backend === "dir" && typeof value.path === "string") || (value.backend === "s3" && typeof value.bucket === "string")) {
    return Object.freeze(value);
  }
  throw new InvalidArgumentError(`the farm's artifact store config is invalid: ${JSON.stringify(value)}; set it again with kiln coordinator --artifact-store`);
}

/**
 * "Large files elsewhere": files of at least `thresholdBytes` go to `store` (typically S3), the rest to the farm's
 * store. Kept in the kiln_artifacts bucket (key `config.store_large`); `kiln coordinator --artifact-store-large SPEC
 * --large-threshold SIZE` sets it.
 */
export interface LargeFileRule {
  readonly store: ArtifactStoreConfig;
  readonly thresholdBytes: number;
}

/** The default threshold: a JetStream object store on a small NATS node is fine below it (see README, sizing). */
export const DEFAULT_LARGE_THRESHOLD_BYTES = 64 * 1024 * 1024;

const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3 };

/** `64MiB`, `1GiB`, `500MB`, `1048576`: a size in bytes. */
export function parseByteSize(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = SIZE_UNITS[(m?.[2] ?? "").toLowerCase()];
  const bytes = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0) throw new InvalidArgumentError(`${flag} '${text}' is not a size; write it like 64MiB, 1GiB or 500MB`);
  return bytes;
}

/** Parses `--artifact-store-large SPEC` with `--large-threshold SIZE` (default 64 MiB). */
export function parseLargeFileRule(spec: string, threshold: string | undefined): LargeFileRule {
  const store = parseStoreSpec(spec);
  return Object.freeze({ store, thresholdBytes: threshold === undefined ? DEFAULT_LARGE_THRESHOLD_BYTES : parseByteSize(threshold, "--large-threshold") });
}

export function decodeLargeFileRule(bytes: Uint8Array): LargeFileRule {
  const value = JSON.parse(new TextDecoder().decode(bytes)) as { store?: unknown; thresholdBytes?: unknown };
  if (typeof value.thresholdBytes !== "number" || value.thresholdBytes <= 0 || typeof value.store !== "object") {
    throw new InvalidArgumentError(`the farm's large-file store config is invalid: ${JSON.stringify(value)}; set it again with kiln coordinator --artifact-store-large`);
  }
  return Object.freeze({ store: decodeStoreConfig(new TextEncoder().encode(JSON.stringify(value.store))), thresholdBytes: value.thresholdBytes });
}

/** For messages: the config without credentials. */
export function describeStore(config: ArtifactStoreConfig): string {
  if (config.backend === "dir") return `dir:${config.path}`;
  if (config.backend === "s3") return `s3://${config.bucket}/${config.prefix ?? ""}${config.endpoint ? ` at ${config.endpoint}` : ""}`;
  return "nats (JetStream object store)";
}
