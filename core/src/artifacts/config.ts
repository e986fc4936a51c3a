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

/** For messages: the config without credentials. */
export function describeStore(config: ArtifactStoreConfig): string {
  if (config.backend === "dir") return `dir:${config.path}`;
  if (config.backend === "s3") return `s3://${config.bucket}/${config.prefix ?? ""}${config.endpoint ? ` at ${config.endpoint}` : ""}`;
  return "nats (JetStream object store)";
}
