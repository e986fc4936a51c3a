/**
 * A local or shared directory as the artifact store. Objects are written to `<key>.partial` with positional writes
 * and renamed when complete, so a reader never sees half a file. The partial outlives a process that dies
 * mid-upload: the next upload of the key (the job's retry) keeps the chunks that match its local file and appends
 * from there.
 */
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, truncate, type FileHandle } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { ChecksumMismatchError, InvalidArgumentError, NotFoundError } from "../errors.js";
import type { ArtifactStore, DirectSource, StoredObject, StoreUpload } from "./store.js";

/** Chunk of the directory store's uploads: what a retry after an I/O error writes again. */
export const DIR_CHUNK_BYTES = 8 * 1024 * 1024;

export class DirectoryStore implements ArtifactStore {
  readonly kind = "dir";

  constructor(private readonly root: string) {}

  private file(key: string): string {
    const resolved = path.resolve(this.root, key);
    if (!resolved.startsWith(path.resolve(this.root) + path.sep)) throw new InvalidArgumentError(`artifact object key '${key}' leaves the store directory`);
    return resolved;
  }

  async begin(key: string): Promise<StoreUpload> {
    const target = this.file(key);
    await mkdir(path.dirname(target), { recursive: true });
    return DirUpload.open(target);
  }

  async get(key: string, offset: number): Promise<Readable> {
    const file = this.file(key);
    if (!(await this.stat(key))) throw new NotFoundError(`artifact object ${key} is missing from the store directory ${this.root}`);
    return createReadStream(file, { start: offset, highWaterMark: 1024 * 1024 });
  }

  /** The file itself: a client that mounts the store at the same path (the same host, a shared NFS) reads it there. */
  async directSource(key: string): Promise<DirectSource | undefined> {
    return (await this.stat(key)) ? { path: this.file(key) } : undefined;
  }

  async stat(key: string): Promise<StoredObject | null> {
    try {
      const s = await stat(this.file(key));
      return s.isFile() ? { size: s.size } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  /** `<key>.partial` files not modified since the cut-off are removed. */
  async sweepPartials(olderThanMs: number, now = Date.now()): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.root, { recursive: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw err;
    }
    let removed = 0;
    for (const name of names.filter((n) => n.endsWith(".partial"))) {
      const file = path.join(this.root, name);
      const s = await stat(file).catch(() => undefined);
      if (!s?.isFile() || now - s.mtimeMs <= olderThanMs) continue;
      await rm(file, { force: true });
      removed++;
    }
    return removed;
  }

  async close(): Promise<void> {}
}

class DirUpload implements StoreUpload {
  readonly chunkBytes = DIR_CHUNK_BYTES;

  private constructor(
    private readonly target: string,
    private readonly partial: string,
    private fh: FileHandle | undefined,
    readonly heldChunks: number,
  ) {}

  static async open(target: string): Promise<DirUpload> {
    const partial = `${target}.partial`;
    let held = 0;
    try {
      held = Math.floor((await stat(partial)).size / DIR_CHUNK_BYTES);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    return new DirUpload(target, partial, await open(partial, held > 0 ? "r+" : "w"), held);
  }

  private async handle(): Promise<FileHandle> {
    this.fh ??= await open(this.partial, "r+");
    return this.fh;
  }

  async holds(index: number, data: Buffer): Promise<boolean> {
    const stored = Buffer.allocUnsafe(data.length);
    const { bytesRead } = await (await this.handle()).read(stored, 0, data.length, index * this.chunkBytes);
    return bytesRead === data.length && stored.equals(data);
  }

  async truncate(chunks: number): Promise<void> {
    await (await this.handle()).truncate(chunks * this.chunkBytes);
  }

  async write(index: number, data: Buffer): Promise<void> {
    const fh = await this.handle();
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await fh.write(data, written, data.length - written, index * this.chunkBytes + written);
      written += bytesWritten;
    }
  }

  async drain(): Promise<void> {}

  async recover(next: number): Promise<number> {
    // The handle may be dead (a stale NFS handle after a server restart): reopen, cut off a half-written chunk.
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    await truncate(this.partial, next * this.chunkBytes);
    this.fh = await open(this.partial, "r+");
    return next;
  }

  async complete(size: number): Promise<void> {
    const fh = await this.handle();
    await fh.sync();
    const stored = (await fh.stat()).size;
    await fh.close();
    this.fh = undefined;
    if (stored !== size) throw new ChecksumMismatchError(`${this.partial}: holds ${stored} bytes after writing ${size}`);
    await rename(this.partial, this.target);
  }

  async abort(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    await rm(this.partial, { force: true });
  }
}
