/**
 * The artifact RPCs of the Coordinator service: catalog queries and removal, retention, and file downloads streamed
 * from the farm's store to the CLI (which verifies size and sha256 as it writes).
 */
import type { Readable } from "node:stream";
import type { ArtifactRecord__Output, FileSource } from "../../proto/src/mod.js";
import { InvalidArgumentError, type Artifacts } from "../../core/src/mod.js";

/**
 * Size of the chunks a download is sent in (gRPC messages). Measured on 1 GiB from a directory store: 256 KiB
 * messages ran at 240-290 MiB/s, 1 MiB ones at 170-200 (the client gathers each message from 16 KiB HTTP/2 frames)
 * and left the CLI's RSS higher.
 */
export const DOWNLOAD_CHUNK_BYTES = 256 * 1024; // 256 KiB

export async function deleteArtifacts(artifacts: Artifacts, ids: readonly string[]): Promise<ArtifactRecord__Output[]> {
  if (ids.length === 0) throw new InvalidArgumentError("kiln artifacts rm: name at least one artifact id");
  const records = await Promise.all(ids.map((id) => artifacts.catalog.resolve(id)));
  return artifacts.remove(records);
}

/**
 * Where the client may read a file itself: a presigned S3 URL, a directory store's path, or for the object store the
 * NATS servers in `advertiseNats` (none: the coordinator does not advertise them); empty when nowhere.
 */
export async function downloadSource(artifacts: Artifacts, id: string, fileIndex: number, advertiseNats: readonly string[] = []): Promise<FileSource> {
  const record = await artifacts.catalog.resolve(id);
  const file = record.files[fileIndex];
  if (file?.object && advertiseNats.length > 0 && (await artifacts.storeOfKind(file.store || record.store)).kind === "nats") {
    return { url: "", path: "", nats_servers: [...advertiseNats], nats_object: file.object };
  }
  const source = await artifacts.directSource(record, fileIndex);
  return { url: source?.url ?? "", path: source?.path ?? "", nats_servers: [], nats_object: "" };
}

/** A file's bytes from `offset`, re-cut into chunks of at most DOWNLOAD_CHUNK_BYTES. */
export async function* downloadChunks(artifacts: Artifacts, id: string, fileIndex: number, offset: number, signal: AbortSignal): AsyncGenerator<Buffer> {
  const record = await artifacts.catalog.resolve(id);
  const { stream } = await artifacts.openFile(record, fileIndex, offset, signal);
  yield* rechunk(stream);
}

async function* rechunk(stream: Readable): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    for (let at = 0; at < buf.length; at += DOWNLOAD_CHUNK_BYTES) yield buf.subarray(at, at + DOWNLOAD_CHUNK_BYTES);
  }
}

/** serializeFileChunk's output buffer, reused. */
let chunkScratch = Buffer.allocUnsafe(0);

/**
 * The DownloadFile stream's response serializer: `FileChunk { bytes data = 1; }` in protobuf's wire format, written
 * into a reused buffer, so the result is valid only until the next call — grpc-js copies it into its frame at once.
 * The generic encoder allocated a buffer per 256 KiB message and copied the data into it, only for grpc-js to copy it
 * again: for 1 GiB the collector's work fell from 2.2 s to 1.4 s, the coordinator's user time from 3.8-4.2 s to
 * 3.0-3.4 s.
 */
export function serializeFileChunk(value: { readonly data: Buffer }): Buffer {
  const data = value.data;
  let header = 1;
  for (let n = data.length; n >= 0x80; n >>>= 7) header++;
  const size = 1 + header + data.length;
  if (chunkScratch.length < size) chunkScratch = Buffer.allocUnsafe(size);
  chunkScratch[0] = 0x0a; // field 1, length-delimited
  let at = 1;
  let n = data.length;
  while (n >= 0x80) {
    chunkScratch[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  chunkScratch[at++] = n;
  data.copy(chunkScratch, at);
  return chunkScratch.subarray(0, size);
}
