/**
 * A local or shared directory as the artifact store. Objects are written to `<key>.partial` and renamed when
 * complete, so a reader never sees half a file.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import type { ArtifactStore, StoredObject } from "./store.js";

export class DirectoryStore implements ArtifactStore {
  readonly kind = "dir";

  constructor(private readonly root: string) {}

  private file(key: string): string {
    const resolved = path.resolve(this.root, key);
    if (!resolved.startsWith(path.resolve(this.root) + path.sep)) throw new InvalidArgumentError(`artifact object key '${key}' leaves the store directory`);
    return resolved;
  }

  async put(key: string, source: Readable, _size: number, signal: AbortSignal): Promise<void> {
    const target = this.file(key);
    const partial = `${target}.partial`;
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await pipeline(source, createWriteStream(partial), { signal });
      await rename(partial, target);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
  }

  async get(key: string, offset: number): Promise<Readable> {
    const file = this.file(key);
    if (!(await this.stat(key))) throw new NotFoundError(`artifact object ${key} is missing from the store directory ${this.root}`);
    return createReadStream(file, { start: offset, highWaterMark: 256 * 1024 });
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

  async close(): Promise<void> {}
}
