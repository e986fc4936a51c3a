/**
 * Starts a private `nats-server` with JetStream as a child process: on a free port, with its store in a temporary
 * directory. Used by the embedded farm (`kiln build` without a coordinator, `kiln dev`) and by the test harness.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { KilnError, ErrorCode, UnavailableError } from "./errors.js";

import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

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
  /**
   * The mkdtemp prefix of the server's directory (config, ports file, and the store unless `storeDir`); the server's
   * command line names its config there. @default `<tmpdir>/kiln-nats-`
   */
  tempDirPrefix?: string;
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
    const tempDir = await mkdtemp(options.tempDirPrefix ?? path.join(tmpdir(), "kiln-nats-"));
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
          let info: { nats?: string[] } = {};
          try {
            info = JSON.parse(await readFile(path.join(tempDir, files[0]), "utf8")) as { nats?: string[] };
          } catch {
            // Read while the server was still writing it: try again.
          }
          const first = info.nats?.[0];
          const port = first ? Number(new URL(first).port) : NaN;
          if (Number.isFinite(port) && port > 0) return port;
        }
        await sleep(20);
      }
      throw new UnavailableError(`nats-server did not report its port within ${options.startTimeoutMs ?? 20_000} ms: ${stderr.trim()}`);
    })();

    // When the server exits first, the port poll runs on until it fails: nobody awaits it then.
    ports.catch(() => undefined);
    let winner: number | Error;
    try {
      winner = await Promise.race([ports, exited.then((e) => e)]);
    } catch (err) {
      winner = err instanceof Error ? err : new UnavailableError(String(err));
    }
    if (winner instanceof Error) {
      // Never leave a server running that nobody holds (it did not report its port in time, say).
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await rm(tempDir, { recursive: true, force: true });
      throw winner;
    }
    return new NatsServer(child, `nats://${host}:${winner}`, winner, storeDir, tempDir);
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its temporary files. Idempotent. */
  /**
   * Stops the server and removes its temporary directory. `discard`: kill it outright rather than let it shut down
   * (~60 ms of JetStream flushing), for a server whose store is thrown away with it (the embedded farm's).
   */
  async stop(options: { readonly discard?: boolean } = {}): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
      this.child.kill(options.discard === true ? "SIGKILL" : "SIGTERM");
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

  /** Whether the process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** A TCP port that was free a moment ago (the cluster's route ports must be known before its nodes start). */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface NatsClusterOptions {
  /** @default 3 */
  nodes?: number;
  /** @default 127.0.0.1 */
  host?: string;
  /** @default 60_000 ms: how long the cluster may take to elect a JetStream leader */
  readyTimeoutMs?: number;
}

interface ClusterNode {
  readonly name: string;
  readonly clientPort: number;
  readonly clusterPort: number;
  readonly storeDir: string;
  server: NatsServer | undefined;
}

/**
 * A JetStream cluster of `nats-server` processes on one host (3 nodes by default), for tests and benchmarks of a
 * replicated farm: each node has its own client port, cluster (route) port and store directory, all chosen at start
 * and kept across a node's kill and restart, so a restarted node rejoins as itself and catches up from its peers.
 */
export class NatsCluster implements AsyncDisposable {
  private constructor(
    private readonly nodes: ClusterNode[],
    private readonly host: string,
    private readonly baseDir: string,
    private readonly readyTimeoutMs: number,
  ) {}

  /** Every node's client URL, comma separated, as `--nats` takes it. */
  get url(): string {
    return this.urls.join(",");
  }

  get urls(): string[] {
    return this.nodes.map((n) => `nats://${this.host}:${n.clientPort}`);
  }

  get size(): number {
    return this.nodes.length;
  }

  /** The node's server while it runs (benchmarks read its pid). */
  node(index: number): NatsServer | undefined {
    return this.nodes[index]?.server;
  }

  static async start(options: NatsClusterOptions = {}): Promise<NatsCluster> {
    const host = options.host ?? "127.0.0.1";
    const count = options.nodes ?? 3;
    const baseDir = await mkdtemp(path.join(tmpdir(), "kiln-nats-cluster-"));
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < count; i++) {
      const storeDir = path.join(baseDir, `n${i}`);
      await mkdir(storeDir);
      nodes.push({ name: `n${i}`, clientPort: await freePort(host), clusterPort: await freePort(host), storeDir, server: undefined });
    }
    const cluster = new NatsCluster(nodes, host, baseDir, options.readyTimeoutMs ?? 60_000);
    try {
      await Promise.all(nodes.map((_, i) => cluster.startNode(i)));
      await cluster.waitReady();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private async startNode(index: number): Promise<void> {
    const node = this.nodes[index];
    if (!node) throw new UnavailableError(`the cluster has no node ${index}`);
    if (node.server?.running) return;
    const routes = this.nodes.filter((n) => n !== node).map((n) => `"nats-route://${this.host}:${n.clusterPort}"`);
    node.server = await NatsServer.start({
      host: this.host,
      port: node.clientPort,
      storeDir: node.storeDir,
      extraConfig: [
        `server_name: "${node.name}"`,
        `cluster { name: "kiln", listen: "${this.host}:${node.clusterPort}", routes: [${routes.join(", ")}] }`,
      ].join("\n"),
    });
  }

  /** Resolves once JetStream answers through every running node (a meta leader is elected). */
  async waitReady(): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    for (const node of this.nodes) {
      if (!node.server?.running) continue;
      let last: unknown;
      for (;;) {
        try {
          const nc = await connect({ servers: `nats://${this.host}:${node.clientPort}`, noAsyncTraces: true });
          try {
            await (await jetstreamManager(nc, { timeout: 2_000 })).getAccountInfo();
          } finally {
            await nc.close();
          }
          break;
        } catch (err) {
          last = err;
          if (Date.now() > deadline) {
            throw new UnavailableError(`the NATS cluster has no JetStream leader after ${this.readyTimeoutMs} ms: ${String(last)}`, { cause: err });
          }
          await sleep(250);
        }
      }
    }
  }

  /** Kills one node with SIGKILL, as a crashed host; its store is kept for `restart`. */
  async kill(index: number): Promise<void> {
    const server = this.nodes[index]?.server;
    if (!server) return;
    server.kill();
    await server.stop(); // waits for the exit and removes the node's config directory, not its store
  }

  /** Stops one node gracefully (SIGTERM). */
  async stopNode(index: number): Promise<void> {
    await this.nodes[index]?.server?.stop();
  }

  /** Starts a stopped or killed node again with its ports and store, and waits until JetStream answers. */
  async restart(index: number): Promise<void> {
    await this.startNode(index);
    await this.waitReady();
  }

  /** Stops every node and removes their stores. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.server?.stop()));
    await rm(this.baseDir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
