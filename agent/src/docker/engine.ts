/**
 * The Docker Engine API client the docker builder, communicator and post-processors share (dockerode).
 *
 * Which engine: `DOCKER_HOST` as the docker CLI reads it — `unix:///path` (default `/var/run/docker.sock`),
 * `tcp://host:port` (TLS when `DOCKER_TLS_VERIFY` is set, with `ca.pem`/`cert.pem`/`key.pem` from `DOCKER_CERT_PATH`,
 * default `~/.docker`), or `ssh://user@host[:port]` (the remote runs `docker system dial-stdio`; keys from the
 * ssh-agent at `SSH_AUTH_SOCK`). So an agent can drive a Docker host other than its own.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import Docker from "dockerode";
import { BuildFailedError, UnavailableError, type KilnError } from "../../../core/src/mod.js";
import { cancellationOf } from "../util/abort.js";

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** The environment variables that choose the engine. */
export interface EngineEnv {
  readonly DOCKER_HOST?: string;
  readonly DOCKER_TLS_VERIFY?: string;
  readonly DOCKER_CERT_PATH?: string;
  readonly SSH_AUTH_SOCK?: string;
}

/** A connected client and a human name for the engine it talks to (for messages). */
export interface Engine {
  readonly docker: Docker;
  readonly address: string;
}

/** Whether this host is configured to reach an engine (what the agent advertises the docker builder on). */
export function engineConfigured(env: EngineEnv = process.env): boolean {
  return (env.DOCKER_HOST ?? "") !== "" || existsSync(DEFAULT_DOCKER_SOCKET);
}

function readCert(dir: string, name: string): Buffer {
  const file = path.join(dir, name);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UnavailableError(`DOCKER_TLS_VERIFY is set but ${file} cannot be read: set DOCKER_CERT_PATH to the directory with ca.pem, cert.pem and key.pem`, {
      cause: err,
    });
  }
}

/** The dockerode options for `env`. @throws UnavailableError for a DOCKER_HOST it cannot use */
export function engineOptions(env: EngineEnv = process.env): Docker.DockerOptions {
  const host = env.DOCKER_HOST ?? "";
  if (host === "") return { socketPath: DEFAULT_DOCKER_SOCKET };
  if (host.startsWith("unix://")) return { socketPath: host.slice("unix://".length) || DEFAULT_DOCKER_SOCKET };
  let url: URL;
  try {
    url = new URL(host.includes("://") ? host : `tcp://${host}`);
  } catch (err) {
    throw new UnavailableError(`DOCKER_HOST "${host}" is not a valid address: use unix:///path, tcp://host:port or ssh://user@host`, { cause: err });
  }
  if (url.protocol === "ssh:") {
    return {
      protocol: "ssh",
      host: url.hostname,
      port: url.port === "" ? 22 : Number(url.port),
      username: url.username === "" ? undefined : decodeURIComponent(url.username),
      sshOptions: { agent: env.SSH_AUTH_SOCK },
    } as Docker.DockerOptions;
  }
  if (url.protocol !== "tcp:" && url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UnavailableError(`DOCKER_HOST "${host}": unsupported scheme ${url.protocol} (use unix://, tcp:// or ssh://)`);
  }
  const tls = (env.DOCKER_TLS_VERIFY ?? "") !== "" || url.protocol === "https:";
  const port = url.port === "" ? (tls ? 2376 : 2375) : Number(url.port);
  if (!tls) return { protocol: "http", host: url.hostname, port };
  const certDir = env.DOCKER_CERT_PATH ?? path.join(homedir(), ".docker");
  return {
    protocol: "https",
    host: url.hostname,
    port,
    ca: readCert(certDir, "ca.pem"),
    cert: readCert(certDir, "cert.pem"),
    key: readCert(certDir, "key.pem"),
  };
}

/** The engine `env` selects. */
export function connectEngine(env: EngineEnv = process.env): Engine {
  const options = engineOptions(env);
  const address = options.socketPath !== undefined ? `unix://${options.socketPath}` : `${String(options.protocol)}://${String(options.host)}:${String(options.port)}`;
  return { docker: new Docker(options), address };
}

interface EngineErrorShape {
  statusCode?: number;
  json?: { message?: string } | null;
  reason?: string;
  code?: string;
  message?: string;
}

/** The engine's own message for a failed API call (its JSON `message`), else the transport's. */
export function engineMessage(err: unknown): string {
  const e = (err ?? {}) as EngineErrorShape;
  const fromJson = e.json?.message;
  if (typeof fromJson === "string" && fromJson !== "") return fromJson;
  return e.message ?? String(err);
}

/** The HTTP status of a failed engine call (404 = no such object), if the engine answered. */
export function engineStatus(err: unknown): number | undefined {
  const code = (err as EngineErrorShape | undefined)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/**
 * Turns a failed engine call into a typed error: the cancellation when the signal fired, UnavailableError when the
 * engine could not be reached (naming the Debian package), otherwise BuildFailedError with `what: <engine message>`.
 */
export function engineError(engine: Engine, what: string, err: unknown, signal?: AbortSignal): KilnError {
  if (signal?.aborted === true) return cancellationOf(signal);
  const code = (err as EngineErrorShape | undefined)?.code;
  if (code === "ENOENT" || code === "ECONNREFUSED" || code === "EACCES" || code === "EHOSTUNREACH") {
    return new UnavailableError(
      `${what}: cannot reach the Docker engine at ${engine.address} (${code}): start dockerd (Debian package docker.io) or set DOCKER_HOST`,
      { cause: err },
    );
  }
  return new BuildFailedError(`${what}: ${engineMessage(err)}`, { cause: err });
}

/** One message of a JSON progress stream (pull, push, import, load). */
export interface ProgressMessage {
  readonly status?: string;
  readonly id?: string;
  readonly progress?: string;
  readonly stream?: string;
  readonly error?: string;
  readonly aux?: Record<string, unknown>;
}

/**
 * Reads a JSON-lines progress stream to its end, reporting each message; rejects with the first `error` message the
 * engine sends (pull and push report failures in-band, with HTTP 200). Aborting the signal destroys the stream.
 */
export async function followProgress(stream: Readable, signal: AbortSignal, onMessage?: (m: ProgressMessage) => void): Promise<ProgressMessage[]> {
  const onAbort = (): void => void stream.destroy();
  signal.addEventListener("abort", onAbort, { once: true });
  const all: ProgressMessage[] = [];
  let buffer = "";
  const handle = (line: string): void => {
    const text = line.trim();
    if (text === "") return;
    let message: ProgressMessage;
    try {
      message = JSON.parse(text) as ProgressMessage;
    } catch {
      message = { stream: text };
    }
    all.push(message);
    if (typeof message.error === "string") throw new Error(message.error);
    onMessage?.(message);
  };
  try {
    for await (const chunk of stream) {
      buffer += (chunk as Buffer).toString();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        handle(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    }
    handle(buffer);
  } catch (err) {
    if (signal.aborted) throw cancellationOf(signal);
    stream.destroy();
    throw err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  return all;
}

/** The `X-Registry-Auth` credentials for a registry login, or undefined without one. */
export function registryAuth(login: { username?: string; password?: string; server?: string }): Docker.AuthConfig | undefined {
  if ((login.username ?? "") === "" && (login.password ?? "") === "") return undefined;
  return { username: login.username ?? "", password: login.password ?? "", serveraddress: login.server ?? "" };
}
