/**
 * Packer's StepDownload (`iso_url`/`iso_urls` + `iso_checksum`), as a cache shared by every job on an agent: a
 * source is downloaded once into the cache directory, verified, and then reused by later and concurrent jobs.
 *
 * ```
 *   fetch(urls, checksum)
 *     local path / file:// ──▶ verified in place, used where it is (never copied)
 *     http(s)://           ──▶ lock <key>.lock ─▶ <key>.iso exists? ─yes─▶ use it
 *                                                    └─no─▶ download to <key>.part, hash while streaming,
 *                                                           verify, rename to <key>.iso ─▶ unlock
 * ```
 * - The cache key is the checksum when there is one (the same ISO under two mirrors is one file), else the URL.
 * - Locking is two-level: concurrent fetches in one process share one promise; other processes (another agent on
 *   the same cache directory) wait on the lock file, which holds the owner's pid so a crashed owner's lock is
 *   taken over. A file only gets its final name once verified, so a present file is a good file.
 * - Checksums: `sha256:`/`sha512:`/`sha1:`/`md5:` + hex, bare hex (type from its length, as Packer guesses),
 *   `file:<url or path>` (a checksum file in GNU `hex  name` or BSD `SHA256 (name) = hex` form; the line for the
 *   source's file name is used), and `none`.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { BuildFailedError, InvalidTemplateError, NotFoundError, isProcessAlive } from "../../../core/src/mod.js";
import { sleep, throwIfCancelled } from "../util/abort.js";

export const ChecksumType = { MD5: "md5", SHA1: "sha1", SHA256: "sha256", SHA512: "sha512" } as const;
export type ChecksumType = (typeof ChecksumType)[keyof typeof ChecksumType];

/** A parsed `iso_checksum`. */
export type Checksum =
  | { readonly kind: "none" }
  | { readonly kind: "hash"; readonly type: ChecksumType; readonly hex: string }
  | { readonly kind: "file"; readonly location: string };

const HEX_LENGTH: Readonly<Record<number, ChecksumType>> = { 32: "md5", 40: "sha1", 64: "sha256", 128: "sha512" };

/**
 * Parses `iso_checksum`. @throws InvalidTemplateError naming the field and the accepted forms. Pure: core's schema
 * and the agent use the same rules.
 */
export function parseChecksum(text: string, field = "iso_checksum"): Checksum {
  const value = text.trim();
  if (value.toLowerCase() === "none") return { kind: "none" };
  if (value.startsWith("file:")) return { kind: "file", location: value.slice("file:".length) };
  const colon = value.indexOf(":");
  const type = colon < 0 ? undefined : value.slice(0, colon).toLowerCase();
  const hex = (colon < 0 ? value : value.slice(colon + 1)).toLowerCase();
  const expected = type ?? HEX_LENGTH[hex.length];
  if (!/^[0-9a-f]+$/.test(hex) || expected === undefined || !(Object.values(ChecksumType) as string[]).includes(expected)) {
    throw new InvalidTemplateError([
      `${field}: ${JSON.stringify(text)} is not a checksum: use "sha256:<hex>" (or md5/sha1/sha512), "file:<url of a checksum file>" or "none"`,
    ]);
  }
  const t = expected as ChecksumType;
  if (HEX_LENGTH[hex.length] !== t) {
    throw new InvalidTemplateError([`${field}: a ${t} checksum has ${Object.entries(HEX_LENGTH).find(([, v]) => v === t)?.[0]} hex digits, this one has ${hex.length}`]);
  }
  return { kind: "hash", type: t, hex };
}

export interface FetchRequest {
  /** `iso_urls` (or `[iso_url]`), tried in order: URLs (http, https, file) and paths relative to `workDir`. */
  readonly urls: readonly string[];
  /** `iso_checksum`, raw. */
  readonly checksum: string;
  /** The job's working directory, for relative paths. */
  readonly workDir: string;
  readonly signal: AbortSignal;
  /** Progress and Packer-style messages. */
  readonly log?: (text: string) => void;
  /** Extension of the cached file. @default "iso" */
  readonly extension?: string;
}

export interface FetchResult {
  /** Absolute path of the verified source: in the cache, or the local file itself. */
  readonly path: string;
  /** True when this call downloaded it (false: it was cached, or local). */
  readonly downloaded: boolean;
}

/** The default per-agent cache: `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln/sources`, else `~/.cache/kiln/sources`. */
export function defaultSourceCacheDir(): string {
  const env = process.env.KILN_CACHE_DIR;
  if (env !== undefined && env !== "") return path.join(env, "sources");
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg !== undefined && xdg !== "" ? xdg : path.join(os.homedir(), ".cache"), "kiln", "sources");
}

/** Lock polling while another process downloads. */
const LOCK_POLL_MS = 200;

/** One agent's source cache. Share one instance per cache directory per process (see {@link sharedSourceCache}). */
export class SourceCache {
  private readonly inflight = new Map<string, Promise<FetchResult>>();

  constructor(readonly dir: string) {}

  /**
   * The verified source for `request`. Tries each URL in order and reports every failure when none works.
   * @throws BuildFailedError (unreachable, checksum mismatch), NotFoundError (missing local file),
   *   InvalidTemplateError (bad checksum), CancelledError
   */
  async fetch(request: FetchRequest): Promise<FetchResult> {
    const checksum = await resolveChecksum(parseChecksum(request.checksum), request);
    const failures: string[] = [];
    for (const url of request.urls) {
      throwIfCancelled(request.signal);
      try {
        const local = localPath(url, request.workDir);
        if (local !== undefined) return await this.verifyLocal(local, checksum, request);
        return await this.fetchRemote(url, checksum, request);
      } catch (err) {
        if (request.signal.aborted) throw err;
        const message = err instanceof Error ? err.message : String(err);
        request.log?.(`Error downloading ${url}: ${message}`);
        failures.push(`${url}: ${message}`);
        if (request.urls.length === 1) throw err;
      }
    }
    throw new BuildFailedError(`error downloading ISO: none of iso_urls could be used:\n${failures.join("\n")}`);
  }

  private async verifyLocal(file: string, checksum: ResolvedChecksum, request: FetchRequest): Promise<FetchResult> {
    try {
      await stat(file);
    } catch (err) {
      throw new NotFoundError(`iso_url: the local file ${file} does not exist: fix the path (relative paths resolve against the template directory)`, { cause: err });
    }
    await verifyFile(file, checksum, request.signal);
    return { path: file, downloaded: false };
  }

  private async fetchRemote(url: string, checksum: ResolvedChecksum, request: FetchRequest): Promise<FetchResult> {
    const key = checksum === undefined ? `url-${sha1(url)}` : `${checksum.type}-${checksum.hex.slice(0, 40)}`;
    const final = path.join(this.dir, `${key}.${request.extension ?? "iso"}`);
    for (let existing = this.inflight.get(final); existing !== undefined; existing = this.inflight.get(final)) {
      request.log?.(`Waiting for the download of ${url} another job started`);
      try {
        const result = await raceSignal(existing, request.signal);
        return { path: result.path, downloaded: false };
      } catch (err) {
        // The other job failed or was cancelled: this one tries itself (unless it was cancelled too).
        throwIfCancelled(request.signal);
        if (this.inflight.get(final) === existing) this.inflight.delete(final);
        if (!(err instanceof Error)) throw err;
      }
    }
    const work = this.lockedDownload(url, final, checksum, request);
    this.inflight.set(final, work);
    try {
      return await work;
    } finally {
      this.inflight.delete(final);
    }
  }

  private async lockedDownload(url: string, final: string, checksum: ResolvedChecksum, request: FetchRequest): Promise<FetchResult> {
    await mkdir(this.dir, { recursive: true });
    const release = await acquireLock(`${final}.lock`, request);
    try {
      if (await exists(final)) {
        request.log?.(`Using the cached ${url}: ${final}`);
        return { path: final, downloaded: false };
      }
      const part = `${final}.part`;
      request.log?.(`Downloading ${url} into the agent's cache`);
      try {
        const digest = await download(url, part, checksum?.type ?? "sha256", request.signal);
        if (checksum !== undefined && digest !== checksum.hex) {
          throw new BuildFailedError(`checksums didn't match for ${url}: expected ${checksum.hex}, got ${digest} (${checksum.type}): fix iso_checksum or the URL`);
        }
        await rename(part, final);
      } finally {
        await rm(part, { force: true });
      }
      return { path: final, downloaded: true };
    } finally {
      await release();
    }
  }
}

const shared = new Map<string, SourceCache>();

/** The process-wide cache instance for a directory (so concurrent jobs in one agent share in-flight downloads). */
export function sharedSourceCache(dir = defaultSourceCacheDir()): SourceCache {
  const resolved = path.resolve(dir);
  let cache = shared.get(resolved);
  if (cache === undefined) {
    cache = new SourceCache(resolved);
    shared.set(resolved, cache);
  }
  return cache;
}

type ResolvedChecksum = { readonly type: ChecksumType; readonly hex: string } | undefined;

/** Turns `file:` checksums into a hash by reading the checksum file (local or http) and finding the source's line. */
async function resolveChecksum(checksum: Checksum, request: FetchRequest): Promise<ResolvedChecksum> {
  if (checksum.kind === "none") return undefined;
  if (checksum.kind === "hash") return { type: checksum.type, hex: checksum.hex };
  const local = localPath(checksum.location, request.workDir);
  let text: string;
  try {
    text = local !== undefined ? await readFile(local, "utf8") : await fetchText(checksum.location, request.signal);
  } catch (err) {
    if (request.signal.aborted) throw err;
    throw new BuildFailedError(`iso_checksum: cannot read the checksum file ${checksum.location}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const names = new Set(request.urls.map((u) => path.basename(u.split("?")[0] ?? u)));
  for (const line of text.split(/\r?\n/)) {
    const gnu = /^([0-9a-fA-F]+)\s+\*?(.+?)\s*$/.exec(line);
    const bsd = /^(\w+)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)\s*$/.exec(line);
    const hex = gnu?.[1] ?? bsd?.[3];
    const name = gnu?.[2] ?? bsd?.[2];
    if (hex === undefined || name === undefined || !names.has(path.basename(name.replace(/^\.\//, "")))) continue;
    const parsed = parseChecksum(bsd?.[1] !== undefined ? `${bsd[1].toLowerCase()}:${hex}` : hex);
    if (parsed.kind === "hash") return { type: parsed.type, hex: parsed.hex };
  }
  throw new BuildFailedError(`iso_checksum: the checksum file ${checksum.location} has no line for ${[...names].join(", ")}`);
}

/** The local path a URL names, or undefined for http(s). @throws InvalidTemplateError for other schemes */
function localPath(url: string, workDir: string): string | undefined {
  if (/^https?:\/\//i.test(url)) return undefined;
  if (url.startsWith("file://")) return fileURLToPath(url);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new InvalidTemplateError([`iso_url: the scheme of ${url} is not supported by kiln: use http, https, file or a local path`]);
  }
  return path.resolve(workDir, url);
}

async function verifyFile(file: string, checksum: ResolvedChecksum, signal: AbortSignal): Promise<void> {
  if (checksum === undefined) return;
  const hash = createHash(checksum.type);
  await pipeline(createReadStream(file), hash, { signal });
  const digest = hash.digest("hex");
  if (digest !== checksum.hex) {
    throw new BuildFailedError(`checksums didn't match for ${file}: expected ${checksum.hex}, got ${digest} (${checksum.type}): fix iso_checksum or the file`);
  }
}

function get(url: string, signal: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith("https:") ? https : http;
    const req = mod.get(url, { signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location !== undefined) {
        res.resume();
        get(new URL(res.headers.location, url).toString(), signal).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new BuildFailedError(`bad response code: ${status}`));
        return;
      }
      resolve(res);
    });
    req.on("error", (err) => reject(signal.aborted ? err : new BuildFailedError(err.message, { cause: err })));
  });
}

async function fetchText(url: string, signal: AbortSignal): Promise<string> {
  const res = await get(url, signal);
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Streams `url` into `file`, hashing on the way. Returns the hex digest. */
async function download(url: string, file: string, type: ChecksumType, signal: AbortSignal): Promise<string> {
  const res = await get(url, signal);
  const hash: Hash = createHash(type);
  res.on("data", (chunk: Buffer) => hash.update(chunk));
  await pipeline(res, createWriteStream(file), { signal });
  return hash.digest("hex");
}

/** Takes `lockFile` (O_EXCL, holding our pid), waiting while a live process holds it. Returns the release. */
async function acquireLock(lockFile: string, request: FetchRequest): Promise<() => Promise<void>> {
  let told = false;
  for (;;) {
    throwIfCancelled(request.signal);
    try {
      const fh = await open(lockFile, "wx");
      await fh.writeFile(String(process.pid));
      await fh.close();
      return async () => {
        await rm(lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const owner = Number((await readFile(lockFile, "utf8").catch(() => "")).trim());
    if (Number.isInteger(owner) && owner > 0 && !isProcessAlive(owner)) {
      // The owner died mid-download: its lock (and .part) are stale.
      await rm(lockFile, { force: true });
      continue;
    }
    if (!told) {
      request.log?.(`Waiting for process ${owner} to finish downloading into the cache (${lockFile})`);
      told = true;
    }
    await sleep(LOCK_POLL_MS, request.signal);
  }
}


async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

async function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  throwIfCancelled(signal);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } catch (err) {
    throwIfCancelled(signal);
    throw err;
  } finally {
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
  }
}
