/**
 * A real S3-compatible server for tests: s3rver (npm) on an ephemeral loopback port with its data in a temp dir,
 * both gone after `stop()`. It speaks the S3 REST API, multipart uploads included.
 *
 * s3rver 3.7 answers NotImplemented to the three multipart calls that find and clean up unfinished uploads
 * (ListMultipartUploads, ListParts, AbortMultipartUpload); kiln's cross-process resume and stale-upload sweep use
 * them, so `multipartListing` adds them, answered from s3rver's own upload directory (`<bucket>/._S3rver_uploads/<id>/`
 * holding `key`, each part as `<n>` with its MD5 in `<n>.md5`), the way S3 documents them.
 */
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import S3rver from "s3rver";

/** s3rver's built-in credentials. */
export const S3_TEST_CREDENTIALS = Object.freeze({ accessKeyId: "S3RVER", secretAccessKey: "S3RVER" });

export class S3Server implements AsyncDisposable {
  private constructor(
    private readonly server: S3rver,
    private readonly dir: string,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<S3Server> {
    const dir = await mkdtemp(path.join(tmpdir(), "kiln-s3rver-"));
    const server = new S3rver({ address: "127.0.0.1", port: 0, silent: process.env["S3RVER_LOG"] !== "1", directory: dir });
    // Koa (s3rver's base) runs its middleware in order; the router is last, so these go just before it.
    server.middleware.splice(server.middleware.length - 1, 0, multipartListing(dir));
    try {
      const { port } = await server.run();
      return new S3Server(server, dir, `http://127.0.0.1:${port}`);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.server.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** The part of a Koa context the multipart additions use. */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
}

/** ListMultipartUploads, ListParts and AbortMultipartUpload over s3rver's upload directory (see the module comment). */
function multipartListing(root: string): (ctx: KoaContext, next: () => Promise<void>) => Promise<void> {
  const uploadsDir = (bucket: string): string => path.join(root, bucket, "._S3rver_uploads");
  const keyOf = async (bucket: string, id: string): Promise<string | undefined> =>
    readFile(path.join(uploadsDir(bucket), id, "key"), "utf8").catch(() => undefined);
  return async (ctx, next) => {
    const [bucket = "", ...rest] = ctx.path.replace(/^\//, "").split("/").map(decodeURIComponent);
    const key = rest.join("/");
    const uploadId = typeof ctx.query["uploadId"] === "string" ? ctx.query["uploadId"] : undefined;
    if (ctx.method === "GET" && key === "" && "uploads" in ctx.query) {
      const prefix = typeof ctx.query["prefix"] === "string" ? ctx.query["prefix"] : "";
      const ids = await readdir(uploadsDir(bucket)).catch(() => [] as string[]);
      const uploads = [];
      for (const id of ids.sort()) {
        const k = await keyOf(bucket, id);
        if (k === undefined || !k.startsWith(prefix)) continue;
        const initiated = (await stat(path.join(uploadsDir(bucket), id, "key"))).mtime;
        uploads.push({ Key: k, UploadId: id, Initiated: initiated.toISOString(), StorageClass: "STANDARD" });
      }
      ctx.body = { ListMultipartUploadsResult: { Bucket: bucket, Prefix: prefix, IsTruncated: false, Upload: uploads } };
      return;
    }
    if (ctx.method === "GET" && key !== "" && uploadId) {
      const dir = path.join(uploadsDir(bucket), uploadId);
      if ((await keyOf(bucket, uploadId)) !== key) {
        ctx.status = 404;
        ctx.body = { Error: { Code: "NoSuchUpload", Message: "The specified upload does not exist." } };
        return;
      }
      const numbers = (await readdir(dir)).filter((f) => /^\d+$/.test(f)).map(Number).sort((a, b) => a - b);
      const parts = [];
      for (const n of numbers) {
        const [md5, s] = await Promise.all([readFile(path.join(dir, `${n}.md5`), "utf8").catch(() => undefined), stat(path.join(dir, String(n)))]);
        // A part still arriving has no .md5 yet: S3 lists only parts it finished storing.
        if (md5 === undefined) continue;
        parts.push({ PartNumber: n, LastModified: s.mtime.toISOString(), ETag: `"${md5}"`, Size: s.size });
      }
      ctx.body = { ListPartsResult: { Bucket: bucket, Key: key, UploadId: uploadId, IsTruncated: false, Part: parts } };
      return;
    }
    if (ctx.method === "DELETE" && key !== "" && uploadId) {
      if ((await keyOf(bucket, uploadId)) === key) await rm(path.join(uploadsDir(bucket), uploadId), { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = null;
      return;
    }
    await next();
  };
}
