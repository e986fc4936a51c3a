/**
 * The wire contract, as code: the protobuf schema loaded once, typed encoders for NATS payloads, and the gRPC
 * package definition for the Coordinator service. Every component talks through these, never through ad-hoc JSON.
 */
import { fileURLToPath } from "node:url";
import path from "node:path";
import { existsSync } from "node:fs";
import protobuf from "protobufjs";
import * as protoLoader from "@grpc/proto-loader";

export type * from "./types.js";
import type * as T from "./types.js";

/** Options shared by proto-loader (gRPC) and the NATS codec, so both sides see identical object shapes. */
export const PROTO_OBJECT_OPTIONS = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  arrays: true,
  objects: true,
});

function findProtoRoot(): string {
  // Works from the source tree (proto/src) and from the compiled tree (dist/proto/src).
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, "proto", "kiln", "v1", "kiln.proto"))) return path.join(dir, "proto");
    if (existsSync(path.join(dir, "kiln", "v1", "kiln.proto"))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error("kiln: proto/kiln/v1/kiln.proto not found next to the installed package");
}

export const PROTO_ROOT = findProtoRoot();
export const PROTO_FILE = path.join(PROTO_ROOT, "kiln", "v1", "kiln.proto");

let root: protobuf.Root | undefined;
function protoRoot(): protobuf.Root {
  if (!root) {
    // keepCase: field names stay snake_case, as proto-loader (gRPC) sees them.
    root = new protobuf.Root().loadSync(PROTO_FILE, { keepCase: true });
    root.resolveAll();
  }
  return root;
}

export interface Codec<In, Out> {
  encode(value: In): Uint8Array;
  decode(bytes: Uint8Array): Out;
  /** Normalises a partial object into the fully defaulted output shape. */
  normalize(value: In): Out;
}

function codec<In, Out>(name: string): Codec<In, Out> {
  let type: protobuf.Type | undefined;
  const t = (): protobuf.Type => (type ??= protoRoot().lookupType(`kiln.v1.${name}`));
  return {
    encode(value) {
      return t().encode(t().fromObject(value as Record<string, unknown>)).finish();
    },
    decode(bytes) {
      return t().toObject(t().decode(bytes), PROTO_OBJECT_OPTIONS) as Out;
    },
    normalize(value) {
      return t().toObject(t().fromObject(value as Record<string, unknown>), PROTO_OBJECT_OPTIONS) as Out;
    },
  };
}

export const codecs = {
  Job: codec<T.Job, T.Job__Output>("Job"),
  JobRecord: codec<T.JobRecord, T.JobRecord__Output>("JobRecord"),
  BuildRecord: codec<T.BuildRecord, T.BuildRecord__Output>("BuildRecord"),
  JobEvent: codec<T.JobEvent, T.JobEvent__Output>("JobEvent"),
  AgentInfo: codec<T.AgentInfo, T.AgentInfo__Output>("AgentInfo"),
  Artifact: codec<T.Artifact, T.Artifact__Output>("Artifact"),
  Failure: codec<T.Failure, T.Failure__Output>("Failure"),
} as const;

/** The gRPC package definition of kiln.v1 (Coordinator service), for server and client. */
export function loadGrpcPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO_FILE, { ...PROTO_OBJECT_OPTIONS, includeDirs: [PROTO_ROOT] });
}
