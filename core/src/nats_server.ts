/**
 * Starts a private `nats-server` with JetStream as a child process: on a free port, with its store in a temporary
 * directory. Used by the embedded farm (`kiln build` without a coordinator, `kiln dev`) and by the test harness.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { KilnError, ErrorCode, UnavailableError } from "./errors.js";

/** Raised when the `nats-server` binary is not installed. */
export class NatsServerMissingError extends KilnError {
  constructor(options?: ErrorOptions) {
    super(
      ErrorCode.Unavailable,
      "nats-server not found on PATH: install the Debian/Ubuntu package nats-server (apt-get install nats-server), or point kiln at a farm with --coordinator",
      options,
    );
    this.name = "NatsServerMissingError";
  }
}

export interface NatsServerOptions {
  /** Where JetStream keeps its files; a fresh temporary directory (removed on stop) when unset. */
  storeDir?: string;
  /** @default 127.0.0.1 */
  host?: string;
  /** @default -1 (a free port chosen by the server) */
  port?: number;
  /** Extra lines for the server config. */
  extraConfig?: string;
  /** @default 20_000 ms */
  startTimeoutMs?: number;
}

export class NatsServer implements AsyncDisposable {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly port: number,
    readonly storeDir: string,
    private readonly tempDir: string,
  ) {}

  /** The server's process id (benchmarks read its CPU time). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const tempDir = await mkdtemp(path.join(tmpdir(), "kiln-nats-"));
    const storeDir = options.storeDir ?? path.join(tempDir, "jetstream");
    const host = options.host ?? "127.0.0.1";
    const conf = [
      `listen: "${host}:${options.port ?? -1}"`,
      `ports_file_dir: "${tempDir}"`,
      `jetstream { store_dir: "${storeDir}" }`,
      `max_payload: 8MB`,
      options.extraConfig ?? "",
    ].join("\n");
    const confFile = path.join(tempDir, "nats.conf");
    await writeFile(confFile, conf);

    const child = spawn("nats-server", ["-c", confFile], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      if (stderr.length < 16_384) stderr += chunk.toString();
    });
    const exited = new Promise<Error>((resolve) => {
      child.once("error", (err: NodeJS.ErrnoException) => {
        resolve(err.code === "ENOENT" ? new NatsServerMissingError({ cause: err }) : err);
      });
      child.once("exit", (code) => resolve(new UnavailableError(`nats-server exited with code ${code}: ${stderr.trim()}`)));
    });

    const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
    const ports = (async (): Promise<number> => {
      while (Date.now() < deadline) {
        const files = (await readdir(tempDir)).filter((f) => f.endsWith(".ports"));
        if (files[0]) {
          const info = JSON.parse(await readFile(path.join(tempDir, files[0]), "utf8")) as { nats?: string[] };
          const first = info.nats?.[0];
          const port = first ? Number(new URL(first).port) : NaN;
          if (Number.isFinite(port) && port > 0) return port;
        }
        await sleep(20);
      }
      throw new UnavailableError(`nats-server did not report its port within ${options.startTimeoutMs ?? 20_000} ms: ${stderr.trim()}`);
    })();

    const winner = await Promise.race([ports, exited.then((e) => e)]);
    if (winner instanceof Error) {
      await rm(tempDir, { recursive: true, force: true });
      throw winner;
    }
    return new NatsServer(child, `nats://${host}:${winner}`, winner, storeDir, tempDir);
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its temporary files. Idempotent. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
      await gone;
      clearTimeout(timer);
    }
    // The store lives in tempDir unless the caller chose its own storeDir, which is then the caller's to keep.
    await rm(this.tempDir, { recursive: true, force: true });
  }

  /** Kills the server abruptly (for fault-injection tests); the store is kept so it can be restarted. */
  kill(): void {
    this.child.kill("SIGKILL");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
