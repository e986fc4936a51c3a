/**
 * A zip stream of files (Packer compress's `createZipArchive`, Go's archive/zip): entries named by the path as given,
 * deflated, written in one pass with data descriptors; ZIP64 records where sizes or offsets need them.
 */
import { createReadStream } from "node:fs";
import path from "node:path";
import { crc32, createDeflateRaw } from "node:zlib";
import { BuildFailedError } from "../../../core/src/mod.js";
import { goPathError } from "../util/go_text.js";

const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

interface Entry {
  readonly name: Buffer;
  readonly utf8: boolean;
  readonly offset: number;
  crc: number;
  compressed: number;
  uncompressed: number;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

const needs64 = (e: Entry): boolean => e.compressed >= U32_MAX || e.uncompressed >= U32_MAX || e.offset >= U32_MAX;

/** Yields the zip archive of `files` (paths relative to `workDir`). */
export async function* zipArchive(files: readonly string[], workDir: string, heartbeat: () => void): AsyncGenerator<Buffer> {
  const entries: Entry[] = [];
  let offset = 0;
  const emit = (b: Buffer): Buffer => {
    offset += b.length;
    return b;
  };
  for (const file of files) {
    const nameText = file.split(path.sep).join("/");
    const name = Buffer.from(nameText, "utf8");
    const utf8 = !/^[\x20-\x7e]*$/.test(nameText);
    const entry: Entry = { name, utf8, offset, crc: 0, compressed: 0, uncompressed: 0 };
    const source = createReadStream(path.resolve(workDir, file));
    await new Promise<void>((resolve, reject) => {
      source.once("open", () => resolve());
      source.once("error", (err) => reject(new BuildFailedError(`Unable to read file ${file}: ${goPathError("open", file, err)}`, { cause: err })));
    });
    const flags = 0x0008 | (utf8 ? 0x0800 : 0); // sizes follow the data; UTF-8 name
    // Local header: version 20, deflate, zero time and date as Go writes without a Modified time.
    yield emit(Buffer.concat([u32(0x04034b50), u16(20), u16(flags), u16(8), u16(0), u16(0), u32(0), u32(0), u32(0), u16(name.length), u16(0), name]));
    const deflate = createDeflateRaw();
    source.on("data", (chunk) => {
      const buf = chunk as Buffer;
      entry.crc = crc32(buf, entry.crc);
      entry.uncompressed += buf.length;
    });
    source.on("error", (err) => deflate.destroy(err));
    source.pipe(deflate);
    try {
      for await (const chunk of deflate) {
        const buf = chunk as Buffer;
        entry.compressed += buf.length;
        yield emit(buf);
        heartbeat();
      }
    } catch (err) {
      throw new BuildFailedError(`Failed to copy ${file} data to archive: ${(err as Error).message}`, { cause: err });
    } finally {
      // Also reached when the consumer stops early (cancellation): close the file.
      source.destroy();
      deflate.destroy();
    }
    yield emit(
      needs64(entry)
        ? Buffer.concat([u32(0x08074b50), u32(entry.crc), u64(entry.compressed), u64(entry.uncompressed)])
        : Buffer.concat([u32(0x08074b50), u32(entry.crc), u32(entry.compressed), u32(entry.uncompressed)]),
    );
    entries.push(entry);
  }

  const cdStart = offset;
  for (const e of entries) {
    const zip64 = needs64(e);
    const extra = zip64 ? Buffer.concat([u16(0x0001), u16(24), u64(e.uncompressed), u64(e.compressed), u64(e.offset)]) : Buffer.alloc(0);
    const version = zip64 ? 45 : 20;
    const flags = 0x0008 | (e.utf8 ? 0x0800 : 0);
    yield emit(
      Buffer.concat([
        u32(0x02014b50),
        u16(version), // made by: FAT, as Go's writer
        u16(version),
        u16(flags),
        u16(8),
        u16(0),
        u16(0),
        u32(e.crc),
        u32(zip64 ? U32_MAX : e.compressed),
        u32(zip64 ? U32_MAX : e.uncompressed),
        u16(e.name.length),
        u16(extra.length),
        u16(0), // comment
        u16(0), // disk
        u16(0), // internal attributes
        u32(0), // external attributes
        u32(zip64 ? U32_MAX : e.offset),
        e.name,
        extra,
      ]),
    );
  }
  const cdEnd = offset;
  const cdSize = cdEnd - cdStart;
  const count = entries.length;
  if (count >= U16_MAX || cdSize >= U32_MAX || cdStart >= U32_MAX) {
    yield emit(
      Buffer.concat([u32(0x06064b50), u64(44), u16(45), u16(45), u32(0), u32(0), u64(count), u64(count), u64(cdSize), u64(cdStart)]),
    );
    yield emit(Buffer.concat([u32(0x07064b50), u32(0), u64(cdEnd), u32(1)]));
  }
  yield emit(
    Buffer.concat([
      u32(0x06054b50),
      u16(0),
      u16(0),
      u16(Math.min(count, U16_MAX)),
      u16(Math.min(count, U16_MAX)),
      u32(Math.min(cdSize, U32_MAX)),
      u32(Math.min(cdStart, U32_MAX)),
      u16(0),
    ]),
  );
}
