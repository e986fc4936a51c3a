/** The DownloadFile stream's own serializer writes what the generic protobuf encoder writes, for any chunk size. */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadGrpcPackageDefinition } from "../../proto/src/mod.js";
import { serializeFileChunk } from "../src/artifact_rpc.js";

describe("coordinator - FileChunk serializer", () => {
  it("encodes byte-identically to the generic encoder, and the client's decoder reads it back", () => {
    const definition = loadGrpcPackageDefinition()["kiln.v1.Coordinator"] as Record<string, { responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown }>;
    const method = definition["DownloadFile"];
    if (!method) throw new Error("kiln.v1.Coordinator has no DownloadFile");
    // Every length where the varint gains a byte, and a typical and an oversized chunk.
    for (const size of [0, 1, 127, 128, 129, 16_383, 16_384, 256 * 1024, 2_097_151, 2_097_152 + 3]) {
      const data = randomBytes(size);
      const ours = Buffer.from(serializeFileChunk({ data }));
      expect(ours.equals(method.responseSerialize({ data })), `size ${size}`).toBe(true);
      expect((method.responseDeserialize(ours) as { data: Buffer }).data.equals(data), `size ${size}`).toBe(true);
    }
  });
});
