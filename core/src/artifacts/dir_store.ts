/**
 * A local or shared directory as the artifact store. Objects are written to `<key>.partial` with positional writes
 * and renamed when complete, so a reader never sees half a file (a replaced object is replaced whole; a reader that
 * has it open keeps reading the old one). The partial outlives a process that dies mid-upload: the next upload of
 * the key (the job's retry) keeps the chunks that match its local file and appends from there.
 *
 * Each object's sha256 is recorded in `<key>.kiln-sha256`, written (atomically: a temporary file renamed) just before
 * the partial is renamed into place. A rename cannot carry two files at once, so the record names the file it was
 * written for: the partial's inode and modification time, which the rename keeps. It counts only while the object
 * under the key is that inode, unmodified, of the recorded size; a record a crash or a concurrent upload left beside
 * another object is ignored (as is one of a file changed in place), and the sweep removes one that outlived its
 * object.
 */
import { createReadStream } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm, stat, truncate, type FileHandle } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { ChecksumMismatchError, InvalidArgumentError, NotFoundError } from "../errors.js";
import type { ArtifactStore, DirectSource, StoredObject, StoreUpload } from "./store.js";

/** Chunk of the directory store's uploads: what a retry after an I/O error writes again. */
export const DIR_CHUNK_BYTES = 8 * 1024 * 1024;

/** Suffix of an object's sha256 record. */
const RECORD_SUFFIX = ".kiln-sha256";

/**
 * What `<key>.kiln-sha256` holds. The inode and the modification time (ns) as decimal strings: 64-bit inode numbers
 * and nanosecond times exceed a JSON number.
 */
interface DigestRecord {
  readonly sha256: string;
  readonly size: number;
  readonly ino: string;
  readonly mtimeNs: string;
}

/** Whether `record` was written for the file `s` (a bigint stat) as it is now. */
function recordOf(record: DigestRecord | undefined, s: { ino: bigint; mtimeNs: bigint; size: bigint }): record is DigestRecord {
  return record !== undefined && record.ino === s.ino.toString() && record.mtimeNs === s.mtimeNs.toString() && BigInt(record.size) === s.size;
}

/** Writes the record of the partial about to be renamed to `target`. */
async function writeRecord(target: string, record: DigestRecord): Promise<void> {
  // Ends in .partial: the sweep removes the temporary file of a process that died before the rename.
  const temp = `${target}${RECORD_SUFFIX}.${randomBytes(4).toString("hex")}.partial`;
  const fh = await open(temp, "w");
  try {
    await fh.writeFile(JSON.stringify(record));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, `${target}${RECORD_SUFFIX}`);
}

/** The record beside `file`, when there is a well-formed one. */
async function readRecord(file: string): Promise<DigestRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(`${file}${RECORD_SUFFIX}`, "utf8")) as Partial<DigestRecord>;
    const { sha256, size, ino, mtimeNs } = record;
    const valid = typeof sha256 === "string" && /^[0-9a-f]{64}$/.test(sha256) && typeof size === "number" && Number.isSafeInteger(size) && typeof ino === "string" && typeof mtimeNs === "string";
    return valid ? { sha256, size, ino, mtimeNs } : undefined;
  } catch {
    // Missing or unreadable: the object is not vouched for.
    return undefined;
  }
}

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

  /** The sha256 from the object's record, when the record was written for this very file as it is now. */
  async stat(key: string, options: { readonly sha256?: boolean } = {}): Promise<StoredObject | null> {
    const file = this.file(key);
    let s;
    try {
      s = await stat(file, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    if (!s.isFile()) return null;
    const size = Number(s.size);
    if (!options.sha256) return { size };
    const record = await readRecord(file);
    return recordOf(record, s) ? { size, sha256: record.sha256 } : { size };
  }

  async delete(key: string): Promise<void> {
    const file = this.file(key);
    await rm(`${file}${RECORD_SUFFIX}`, { force: true });
    await rm(file, { force: true });
  }

  /**
   * `<key>.partial` files not modified since the cut-off are removed (and counted), as are sha256 records as old
   * whose object is gone or another file (left by a process that died between writing the record and renaming its
   * partial, by a concurrent upload of the key, or beside an object changed in place).
   */
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
    for (const name of names.filter((n) => n.endsWith(RECORD_SUFFIX))) {
      const record = path.join(this.root, name);
      const s = await stat(record).catch(() => undefined);
      if (!s?.isFile() || now - s.mtimeMs <= olderThanMs) continue;
      const object = record.slice(0, -RECORD_SUFFIX.length);
      const [owned, current] = await Promise.all([readRecord(object), stat(object, { bigint: true }).catch(() => undefined)]);
      if (current?.isFile() && recordOf(owned, current)) continue;
      await rm(record, { force: true });
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

  async complete(size: number, sha256: string): Promise<void> {
    const fh = await this.handle();
    await fh.sync();
    const stored = await fh.stat({ bigint: true });
    await fh.close();
    this.fh = undefined;
    if (Number(stored.size) !== size) throw new ChecksumMismatchError(`${this.partial}: holds ${stored.size} bytes after writing ${size}`);
    // Until the rename the key's old object (if any) is another inode, so the new record does not vouch for it.
    await writeRecord(this.target, { sha256, size, ino: stored.ino.toString(), mtimeNs: stored.mtimeNs.toString() });
    await rename(this.partial, this.target);
  }

  async abort(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    await rm(this.partial, { force: true });
  }
}
