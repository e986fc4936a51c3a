/**
 * A real S3-compatible server for tests: s3rver (npm) on an ephemeral loopback port with its data in a temp dir,
 * both gone after `stop()`. It speaks the S3 REST API, multipart uploads included.
 */
import { mkdtemp, rm } from "node:fs/promises";
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
