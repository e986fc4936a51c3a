/**
 * The raw S3 baseline of the artifacts benchmark: FILE up to the server at ENDPOINT with the plain AWS SDK (a
 * multipart upload of 8 MiB parts, 4 in flight, as @aws-sdk/lib-storage does it, payload unsigned) and back into OUT with GetObject,
 * no hashing, no kiln in between. Prints one JSON line with both wall times: what the server itself sustains.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { sendUnsignedPayloads } from "../../core/src/mod.js";

const [endpoint, file, out] = process.argv.slice(2);
if (!endpoint || !file || !out) throw new Error("usage: s3_raw_child.ts ENDPOINT FILE OUT");
const client = new S3Client({
  region: "us-east-1",
  endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: process.env["AWS_ACCESS_KEY_ID"] ?? "", secretAccessKey: process.env["AWS_SECRET_ACCESS_KEY"] ?? "" },
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});
// As kiln's store does: payloads unsigned, so the client does not hash every byte (the server is what is measured).
sendUnsignedPayloads(client);
await client.send(new CreateBucketCommand({ Bucket: "raw" })).catch(() => undefined);
let started = performance.now();
await new Upload({ client, params: { Bucket: "raw", Key: "image.raw", Body: createReadStream(file, { highWaterMark: 1024 * 1024 }) }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done();
const upMs = performance.now() - started;
started = performance.now();
const got = await client.send(new GetObjectCommand({ Bucket: "raw", Key: "image.raw" }));
if (!(got.Body instanceof Readable)) throw new Error("no body stream");
await pipeline(got.Body, createWriteStream(out));
const downMs = performance.now() - started;
client.destroy();
process.stdout.write(`${JSON.stringify({ upMs, downMs })}\n`);
