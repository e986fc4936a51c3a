/**
 * A tar stream of files (Packer compress's `createTarArchive`): one regular-file entry per input, named by its base
 * name, with the file's mode, owner and mtime. Headers come from the `tar` package (PAX records when a value does not
 * fit a plain header, e.g. files over 8 GiB).
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { Header, Pax } from "tar";
import { BuildFailedError } from "../../../core/src/mod.js";
import { goPathError } from "../util/go_text.js";

const BLOCK = 512;

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** Yields the tar archive of `files` (paths relative to `workDir`, named in errors as given). */
export async function* tarArchive(files: readonly string[], workDir: string, heartbeat: () => void): AsyncGenerator<Buffer> {
  for (const file of files) {
    const abs = path.resolve(workDir, file);
    let info;
    try {
      info = await stat(abs);
    } catch (err) {
      throw new BuildFailedError(`Unable to read file ${file}: ${goPathError("open", file, err)}`, { cause: err });
    }
    const data = {
      path: path.basename(file),
      mode: info.mode & 0o7777,
      uid: info.uid,
      gid: info.gid,
      size: info.size,
      mtime: info.mtime,
      type: "File" as const,
    };
    const header = new Header(data);
    header.encode();
    if (header.needPax) {
      yield new Pax({ ...data, mtime: info.mtime }).encode();
      header.encode(); // the plain header keeps what fits
    }
    if (header.block === undefined) throw new BuildFailedError(`Failed to create tar header for ${file}`);
    yield header.block;
    let written = 0;
    try {
      // Read exactly the size the header announced, even if the file grows meanwhile.
      if (info.size > 0) {
        for await (const chunk of createReadStream(abs, { start: 0, end: info.size - 1 })) {
          const buf = chunk as Buffer;
          written += buf.length;
          yield buf;
          heartbeat();
        }
      }
    } catch (err) {
      throw new BuildFailedError(`Failed to copy ${file} data to archive: ${(err as Error).message}`, { cause: err });
    }
    if (written !== info.size) throw new BuildFailedError(`Failed to copy ${file} data to archive: the file changed size while being read`);
    yield padding(info.size);
  }
  yield Buffer.alloc(BLOCK * 2); // end of archive
}
