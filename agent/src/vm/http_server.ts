/**
 * Packer's StepHTTPServer: `http_directory` or `http_content` served from the agent, so a booting guest can fetch
 * its kickstart/preseed from `http://{{ .HTTPIP }}:{{ .HTTPPort }}/`. The port is the first free one in
 * `http_port_min`..`http_port_max` (starting at a random offset, so concurrent jobs on one agent rarely race for
 * the same port; a port in use is skipped). The builder supplies the IP the guest sees (10.0.2.2 from QEMU's user
 * network) — see {@link httpAddr}.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { BuildFailedError } from "../../../core/src/mod.js";
import type { PipelineState, Step } from "../pipeline/mod.js";
import { throwIfCancelled } from "../util/abort.js";

/** Packer's defaults (`HTTPConfig`). */
export const DEFAULT_HTTP_PORT_MIN = 8000;
export const DEFAULT_HTTP_PORT_MAX = 9000;
export const DEFAULT_HTTP_BIND_ADDRESS = "0.0.0.0";

export interface BootHttpServerOptions {
  /** `http_directory`, absolute (resolve it against the job's working directory first). */
  readonly directory?: string;
  /** `http_content`: URL path (with or without a leading `/`) → file content; wins over `directory`. */
  readonly content?: Readonly<Record<string, string>>;
  /** @default 8000 */
  readonly portMin?: number;
  /** @default 9000 */
  readonly portMax?: number;
  /** `http_bind_address`. @default "0.0.0.0" */
  readonly bindAddress?: string;
  readonly signal?: AbortSignal;
}

/** A running HTTP server for one build. `close()` is idempotent; `await using` closes it. */
export class BootHttpServer implements AsyncDisposable {
  private closed = false;
  private constructor(
    private readonly server: http.Server,
    /** The port it listens on (`{{ .HTTPPort }}`). */
    readonly port: number,
    /** Requests served, by URL path (tests and logs). */
    readonly requests: string[],
  ) {}

  /**
   * Starts serving. @throws BuildFailedError when no port in the range is free (naming the range and the fix),
   * CancelledError when the signal fired.
   */
  static async start(options: BootHttpServerOptions): Promise<BootHttpServer> {
    const min = options.portMin ?? DEFAULT_HTTP_PORT_MIN;
    const max = options.portMax ?? DEFAULT_HTTP_PORT_MAX;
    const bind = options.bindAddress ?? DEFAULT_HTTP_BIND_ADDRESS;
    const requests: string[] = [];
    const content = normaliseContent(options.content);
    const server = http.createServer((req, res) => {
      const urlPath = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      requests.push(urlPath);
      void respond(urlPath, content, options.directory, req, res);
    });
    server.keepAliveTimeout = 1000;
    const span = Math.max(0, max - min) + 1;
    const offset = Math.floor(Math.random() * span);
    for (let n = 0; n < span; n++) {
      if (options.signal !== undefined) throwIfCancelled(options.signal);
      const port = min + ((offset + n) % span);
      if (await listen(server, port, bind)) return new BootHttpServer(server, (server.address() as AddressInfo).port, requests);
    }
    throw new BuildFailedError(`Error finding port: no free port for the HTTP server in ${min}-${max} on ${bind}: widen http_port_min/http_port_max`);
  }

  /** Stops listening and drops open connections. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** `PACKER_HTTP_ADDR`, `{{ .HTTPIP }}:{{ .HTTPPort }}`. */
export function httpAddr(ip: string, port: number): string {
  return `${ip}:${port}`;
}

function normaliseContent(content: Readonly<Record<string, string>> | undefined): Map<string, string> | undefined {
  if (content === undefined) return undefined;
  return new Map(Object.entries(content).map(([k, v]) => [k.startsWith("/") ? k : `/${k}`, v]));
}

async function listen(server: http.Server, port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off("listening", onListening);
      if (err.code === "EADDRINUSE" || err.code === "EACCES") resolve(false);
      else reject(new BuildFailedError(`HTTP server: cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve(true);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

async function respond(
  urlPath: string,
  content: Map<string, string> | undefined,
  directory: string | undefined,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const notFound = (): void => {
    res.writeHead(404, { "content-type": "text/plain" }).end("404 page not found\n");
  };
  if (content !== undefined) {
    const body = content.get(urlPath);
    if (body === undefined) return notFound();
    res.writeHead(200, { "content-length": Buffer.byteLength(body) }).end(req.method === "HEAD" ? undefined : body);
    return;
  }
  if (directory === undefined) return notFound();
  // path.join normalises `..` away only within the string: check the result stays inside the directory.
  const file = path.join(directory, urlPath);
  if (file !== directory && !file.startsWith(directory + path.sep)) return notFound();
  try {
    const st = await stat(file);
    if (!st.isFile()) return notFound();
    res.writeHead(200, { "content-length": st.size });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    createReadStream(file)
      .on("error", () => res.destroy())
      .pipe(res);
  } catch {
    notFound();
  }
}

/** What a builder state carries for the HTTP server step. */
export interface HttpServerState extends PipelineState {
  httpServer?: BootHttpServer;
}

/**
 * The step: starts the server when `http_directory` or `http_content` is set (nothing otherwise, as in Packer), logs
 * Packer's "Starting HTTP server on port N"; cleanup closes it.
 */
export function httpServerStep<S extends HttpServerState>(options: Omit<BootHttpServerOptions, "signal">): Step<S> {
  return {
    name: "http-server",
    async run(ctx, state) {
      if (options.directory === undefined && options.content === undefined) return "continue";
      state.httpServer = await BootHttpServer.start({ ...options, signal: ctx.signal });
      ctx.log("say", `Starting HTTP server on port ${state.httpServer.port}`);
      return "continue";
    },
    async cleanup(state) {
      await state.httpServer?.close();
      state.httpServer = undefined;
    },
  };
}
