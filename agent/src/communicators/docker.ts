/**
 * The `docker` communicator (Packer's builder/docker Communicator), over the Engine API instead of the docker CLI:
 *
 * - commands: an exec of `/bin/sh -c "(<command>)"` (as `exec_user` when set), output streamed line by line, the
 *   exit code read back from the exec;
 * - uploads: a tar sent to the container's archive endpoint (`PUT /containers/{id}/archive`), then, as Packer's
 *   `fix_upload_owner` does, `chown -R <container user> <destination>` run as root;
 * - downloads: the archive endpoint's tar (`GET /containers/{id}/archive`), its first file written locally.
 *
 * Nothing needs the docker CLI or a shared directory on the agent, so it works with a remote engine.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import { PassThrough, Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type Docker from "dockerode";
import { Header, Parser, type ReadEntry } from "tar";
import { BuildFailedError } from "../../../core/src/mod.js";
import { engineError, type Engine } from "../docker/engine.js";
import { cancellationOf } from "../util/abort.js";
import type { CommandOptions, Communicator } from "./communicator.js";
import type { TreeEntry } from "./ssh.js";

export interface DockerCommunicatorOptions {
  /** `exec_user`: the user commands run as (the container's user when unset). */
  readonly execUser?: string;
  /** `fix_upload_owner`: chown uploads to the container's user. */
  readonly fixUploadOwner: boolean;
  /** The container's configured user (`Config.User`); "" means root. */
  readonly containerUser: string;
  /** `pty`: run commands with a TTY (stdout and stderr then arrive merged). */
  readonly pty?: boolean;
}

/** Splits a byte stream into lines for a callback. */
function lineSink(emit: ((line: string) => void) | undefined): Writable & { flush(): void } {
  let pending = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      pending += chunk.toString();
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        emit?.(pending.slice(0, nl).replace(/\r$/, ""));
        pending = pending.slice(nl + 1);
      }
      cb();
    },
  }) as Writable & { flush(): void };
  sink.flush = () => {
    if (pending !== "") emit?.(pending.replace(/\r$/, ""));
    pending = "";
  };
  return sink;
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** One file or directory to pack: its name inside the archive and where its bytes come from. */
type PackEntry =
  | { readonly kind: "dir"; readonly name: string; readonly mode: number }
  | { readonly kind: "file"; readonly name: string; readonly mode: number; readonly size: number; readonly source: string | Buffer };

/** A ustar stream of `entries` (owned by root; ownership is fixed afterwards as Packer does). */
async function* packTar(entries: readonly PackEntry[]): AsyncGenerator<Buffer> {
  const mtime = new Date();
  for (const e of entries) {
    const header = new Header({
      path: e.kind === "dir" ? `${e.name}/` : e.name,
      mode: e.mode,
      uid: 0,
      gid: 0,
      size: e.kind === "dir" ? 0 : e.size,
      mtime,
      type: e.kind === "dir" ? "Directory" : "File",
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    yield block;
    if (e.kind === "dir") continue;
    let written = 0;
    if (typeof e.source === "string") {
      for await (const chunk of createReadStream(e.source)) {
        written += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    } else {
      written = e.source.length;
      yield e.source;
    }
    if (written !== e.size) throw new Error(`${typeof e.source === "string" ? e.source : "content"} changed size while it was uploaded`);
    if (written % 512 !== 0) yield Buffer.alloc(512 - (written % 512));
  }
  yield Buffer.alloc(1024);
}

export class DockerCommunicator implements Communicator {
  private readonly container: Docker.Container;

  constructor(
    private readonly engine: Engine,
    readonly containerId: string,
    private readonly options: DockerCommunicatorOptions,
  ) {
    this.container = engine.docker.getContainer(containerId);
  }

  /** Runs `command` in the container through `/bin/sh -c`; resolves to its exit code. Aborting rejects. */
  async start(command: string, opts: CommandOptions): Promise<number> {
    return this.exec(["/bin/sh", "-c", `(${command})`], opts, this.options.execUser);
  }

  private async exec(cmd: string[], opts: CommandOptions, user: string | undefined): Promise<number> {
    const { signal } = opts;
    if (signal.aborted) throw cancellationOf(signal);
    const tty = this.options.pty === true;
    let exec: Docker.Exec;
    let stream: NodeJS.ReadWriteStream;
    try {
      exec = await this.container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: tty, ...(user ? { User: user } : {}) });
      stream = (await exec.start({ hijack: true, stdin: false, Tty: tty })) as NodeJS.ReadWriteStream;
    } catch (err) {
      throw engineError(this.engine, `Error executing command in container ${this.containerId}`, err, signal);
    }
    const out = lineSink(opts.onStdout);
    const errSink = lineSink(opts.onStderr);
    await new Promise<void>((resolve, reject) => {
      const source = stream as unknown as Readable;
      const onAbort = (): void => {
        source.destroy();
        reject(cancellationOf(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const finish = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      if (tty) source.pipe(out);
      else this.engine.docker.modem.demuxStream(source, out, errSink);
      source.once("end", finish);
      source.once("close", finish);
      source.once("error", (e: Error) => {
        signal.removeEventListener("abort", onAbort);
        reject(signal.aborted ? cancellationOf(signal) : new BuildFailedError(`Error reading command output from container ${this.containerId}: ${e.message}`, { cause: e }));
      });
    });
    out.flush();
    errSink.flush();
    try {
      const info = await exec.inspect();
      return info.ExitCode ?? 254;
    } catch (err) {
      throw engineError(this.engine, `Error reading the exit code in container ${this.containerId}`, err, signal);
    }
  }

  /** Packer's fixDestinationOwner: `chown -R <container user or root> <destination>`, as root. */
  private async fixOwner(destinations: readonly string[], signal: AbortSignal): Promise<void> {
    if (!this.options.fixUploadOwner || destinations.length === 0) return;
    const owner = this.options.containerUser === "" ? "root" : this.options.containerUser;
    let stderr = "";
    const code = await this.exec(["/bin/sh", "-c", `chown -R ${shQuote(owner)} ${destinations.map(shQuote).join(" ")}`], { signal, onStderr: (l) => (stderr += `${l}\n`) }, "root");
    if (code !== 0) throw new BuildFailedError(`Failed to set owner of the uploaded file: exit status ${code}\nStderr: ${stderr.trim()}`);
  }

  private async putArchive(dir: string, entries: readonly PackEntry[], signal: AbortSignal): Promise<void> {
    const body = Readable.from(packTar(entries));
    try {
      await this.container.putArchive(body, { path: dir, abortSignal: signal } as Record<string, unknown>);
    } catch (err) {
      throw engineError(this.engine, `Upload to ${dir} in container ${this.containerId} failed`, err, signal);
    } finally {
      body.destroy();
    }
  }

  async upload(source: string | Buffer, remotePath: string, signal: AbortSignal, mode?: number): Promise<void> {
    const size = typeof source === "string" ? (await stat(source)).size : source.length;
    const entry: PackEntry = { kind: "file", name: path.posix.basename(remotePath), mode: mode ?? 0o644, size, source };
    await this.putArchive(path.posix.dirname(remotePath), [entry], signal);
    await this.fixOwner([remotePath], signal);
  }

  async uploadTree(remoteDir: string, entries: readonly TreeEntry[], signal: AbortSignal): Promise<void> {
    const list: PackEntry[] = [];
    const walk = (items: readonly TreeEntry[], at: string): void => {
      for (const e of items) {
        const name = at === "" ? e.name : `${at}/${e.name}`;
        if (e.kind === "dir") {
          list.push({ kind: "dir", name, mode: e.mode });
          walk(e.entries, name);
        } else list.push({ kind: "file", name, mode: e.mode, size: e.size, source: e.local });
      }
    };
    walk(entries, "");
    // Packer's UploadDir creates the destination first.
    const code = await this.exec(["mkdir", "-p", remoteDir], { signal }, this.options.execUser);
    if (code !== 0) throw new BuildFailedError(`Upload failed: cannot create ${remoteDir} in the container: exit status ${code}`);
    await this.putArchive(remoteDir, list, signal);
    await this.fixOwner(
      entries.map((e) => path.posix.join(remoteDir, e.name)),
      signal,
    );
  }

  async download(remotePath: string, localPath: string, signal: AbortSignal): Promise<void> {
    let archive: NodeJS.ReadableStream;
    try {
      archive = await this.container.getArchive({ path: remotePath, abortSignal: signal } as unknown as { path: string });
    } catch (err) {
      throw engineError(this.engine, `Failed to download '${remotePath}' from container`, err, signal);
    }
    const parser = new Parser();
    let wrote: Promise<void> | undefined;
    parser.on("entry", (entry: ReadEntry) => {
      if (wrote === undefined && entry.type === "File") {
        wrote = pipeline(entry, createWriteStream(localPath));
      } else entry.resume();
    });
    try {
      await pipeline(archive as unknown as Readable, new PassThrough(), parser as unknown as Writable, { signal });
      if (wrote === undefined) throw new BuildFailedError(`Failed to download '${remotePath}' from container: it is not a file`);
      await wrote;
    } catch (err) {
      await rm(localPath, { force: true });
      if (signal.aborted) throw cancellationOf(signal);
      if (err instanceof BuildFailedError) throw err;
      throw new BuildFailedError(`Failed to download '${remotePath}' from container: ${(err as Error).message}`, { cause: err });
    }
  }
}
