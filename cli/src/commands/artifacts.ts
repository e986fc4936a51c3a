/**
 * `kiln artifacts`: the farm's artifact catalog and store, through the coordinator.
 *
 *   kiln artifacts ls [BUILD] [--label k=v]... [--json]   list artifacts (of one build, with labels), newest first
 *   kiln artifacts show ID [--json]             one artifact with its files, sizes and sha256
 *   kiln artifacts get BUILD|ID [--dest DIR]    download files, verifying size and sha256
 *   kiln artifacts rm ID...                     remove artifacts and their stored files
 *   kiln artifacts prune [--keep N] [--older-than DUR]   retention
 */
import { createReadStream } from "node:fs";
import { open, mkdir, rename, rm, stat } from "node:fs/promises";
import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ArtifactRecord__Output, FileSource__Output } from "../../../proto/src/mod.js";
import { jetstream } from "@nats-io/jetstream";
import {
  ErrorCode,
  FileVerifier,
  InvalidArgumentError,
  NatsObjectStore,
  NotFoundError,
  UnavailableError,
  VerifiedFileWriter,
  connectFarm,
  hasErrorCode,
} from "../../../core/src/mod.js";
import { flagBool, flagInt, flagLabels, flagString, parseArgs, type FlagSpecs } from "../args.js";
import type { CoordinatorConnection } from "../client.js";
import { withRemoteCoordinator, type CliIo } from "../farm_access.js";
import { TransferProgress, formatBytes } from "../ui/progress.js";

const COMMON: FlagSpecs = {
  coordinator: { kind: "string", help: "Coordinator address host:port (default $KILN_COORDINATOR)." },
};
/** A dropped download stream is resumed from the bytes already written, this many times. */
const DOWNLOAD_ATTEMPTS = 5;
const RESUME_DELAY_MS = 500;
/** How long a direct download (a presigned URL) may take to answer before the CLI goes through the coordinator. */
const CONNECT_TIMEOUT_MS = 5_000;

const USAGE = `Usage: kiln artifacts <subcommand> [options]

    ls [BUILD] [--label k=v] [--json]   list artifacts, newest first (of one build; carrying these labels)
    show ID [--json]                    show one artifact: files, sizes, sha256, lineage
    get BUILD|ID [--dest DIR]           download an artifact's (or a build's) files, verifying sha256
    rm ID...                            remove artifacts and their stored files
    prune [--keep N] [--older-than D]   keep the newest N builds per template and build name, and/or remove
                                        artifacts older than D (e.g. 36h, 7d)
`;

export async function artifactsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "ls":
    case "list":
      return listCommand(rest, io);
    case "show":
      return showCommand(rest, io);
    case "get":
      return getCommand(rest, io);
    case "rm":
      return rmCommand(rest, io);
    case "prune":
      return pruneCommand(rest, io);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      io.stdout(USAGE);
      return sub === undefined ? 1 : 0;
    default:
      throw new InvalidArgumentError(`kiln artifacts: unknown subcommand '${sub}'\n\n${USAGE}`);
  }
}

/** The labels a user gave (`kiln build --label`), without the ones every record carries. */
function userLabels(r: ArtifactRecord__Output): [string, string][] {
  return Object.entries(r.labels)
    .filter(([k]) => k !== "builder_type" && k !== "datacenter")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function totalSize(r: ArtifactRecord__Output): number {
  return r.files.reduce((n, f) => n + Number(f.size), 0);
}

async function listCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("artifacts ls", argv, {
    ...COMMON,
    json: { kind: "bool", help: "Print JSON." },
    label: { kind: "list", help: "Only artifacts with this label k=v (repeatable: all must match)." },
  });
  if (args.positional.length > 1) throw new InvalidArgumentError("kiln artifacts ls: expected at most one build id");
  const labels = flagLabels(args, "label");
  return withRemoteCoordinator(flagString(args, "coordinator"), "artifacts ls", async (client) => {
    const records = await client.listArtifacts(args.positional[0] ?? "", labels);
    if (flagBool(args, "json")) {
      io.stdout(`${JSON.stringify(records, null, 2)}\n`);
      return 0;
    }
    const rows = [["ID", "BUILD", "NAME", "TEMPLATE", "FILES", "SIZE", "CREATED", "LABELS", "NOTE"]];
    for (const r of records) {
      rows.push([
        r.id,
        r.build_id.slice(0, 8),
        r.build_name,
        r.template_name,
        String(r.files.length),
        formatBytes(totalSize(r)),
        new Date(Number(r.created_at_ms)).toISOString(),
        userLabels(r)
          .map(([k, v]) => `${k}=${v}`)
          .join(",") || "-",
        r.reused_from ? `reused ${r.reused_from}` : "",
      ]);
    }
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? [];
    for (const row of rows) io.stdout(`${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd()}\n`);
    return 0;
  });
}

async function showCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("artifacts show", argv, { ...COMMON, json: { kind: "bool", help: "Print JSON." } });
  const [id, ...extra] = args.positional;
  if (!id || extra.length > 0) throw new InvalidArgumentError("kiln artifacts show: expected one artifact id");
  return withRemoteCoordinator(flagString(args, "coordinator"), "artifacts show", async (client) => {
    const r = await client.getArtifact(id);
    if (flagBool(args, "json")) {
      io.stdout(`${JSON.stringify(r, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `ID:          ${r.id}`,
      `Build:       ${r.build_id} (${r.build_name}, job ${r.job_id}, template ${r.template_name})`,
      `Builder ID:  ${r.builder_id}`,
      `Artifact:    ${r.artifact_id}`,
      `Description: ${r.description}`,
      `Agent:       ${r.agent}`,
      `Created:     ${new Date(Number(r.created_at_ms)).toISOString()}`,
      `Store:       ${r.store}`,
      `Fingerprint: ${r.fingerprint || "(none: not cacheable)"}`,
      ...(r.parent_id ? [`Parent:      ${r.parent_id}`] : []),
      ...(r.reused_from ? [`Reused from: ${r.reused_from}`] : []),
      ...Object.entries(r.labels).map(([k, v]) => `Label:       ${k}=${v}`),
      "Files:",
      ...r.files.map(
        (f) =>
          `  ${f.name}  ${formatBytes(Number(f.size))}  ${f.object ? `sha256:${f.sha256}` : "(not stored: not a file on the agent)"}${f.store && f.store !== r.store ? `  (in ${f.store})` : ""}`,
      ),
    ];
    io.stdout(`${lines.join("\n")}\n`);
    return 0;
  });
}

async function rmCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("artifacts rm", argv, COMMON);
  if (args.positional.length === 0) throw new InvalidArgumentError("kiln artifacts rm: expected one or more artifact ids");
  return withRemoteCoordinator(flagString(args, "coordinator"), "artifacts rm", async (client) => {
    for (const r of await client.deleteArtifacts(args.positional)) io.stdout(`removed ${r.id} (${r.build_name}, build ${r.build_id})\n`);
    return 0;
  });
}

/** `90s`, `30m`, `36h`, `7d`, or combinations (`1d12h`). */
export function parseAge(text: string, flag = "--older-than"): number {
  const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const parts = [...text.matchAll(/(\d+)([smhd])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
    throw new InvalidArgumentError(`${flag} '${text}': expected a duration such as 90s, 30m, 36h or 7d`);
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * (units[p[2] ?? "s"] ?? 0), 0);
}

async function pruneCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("artifacts prune", argv, {
    ...COMMON,
    keep: { kind: "string", help: "Keep the newest N builds of each template and build name." },
    "older-than": { kind: "string", help: "Remove artifacts older than this (e.g. 36h, 7d)." },
  });
  const keep = flagInt(args, "keep", 0);
  const age = flagString(args, "older-than");
  const olderThanMs = age === undefined ? 0 : parseAge(age);
  if (keep === 0 && olderThanMs === 0) throw new InvalidArgumentError("kiln artifacts prune: give --keep N (N >= 1) and/or --older-than DURATION");
  return withRemoteCoordinator(flagString(args, "coordinator"), "artifacts prune", async (client) => {
    const removed = await client.pruneArtifacts(keep, olderThanMs);
    for (const r of removed) io.stdout(`removed ${r.id} (${r.build_name}, build ${r.build_id})\n`);
    io.stdout(`${removed.length} artifact(s) removed\n`);
    return 0;
  });
}

async function getCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("artifacts get", argv, { ...COMMON, dest: { kind: "string", help: "Directory to put the files in (default: .)." } });
  const [target, ...extra] = args.positional;
  if (!target || extra.length > 0) throw new InvalidArgumentError("kiln artifacts get: expected one build id or artifact id");
  const dest = path.resolve(flagString(args, "dest") ?? ".");
  return withRemoteCoordinator(flagString(args, "coordinator"), "artifacts get", async (client) => {
    let records: ArtifactRecord__Output[];
    try {
      records = [await client.getArtifact(target)];
    } catch (err) {
      if (!hasErrorCode(err, ErrorCode.NotFound)) throw err;
      records = await client.listArtifacts(target);
      if (records.length === 0) throw new NotFoundError(`no artifact or build with id ${target} has stored artifacts (see kiln artifacts ls)`);
    }
    // A file name the plugin reported absolute lands under DEST by its base name.
    await downloadArtifacts(client, records, (name) => path.join(dest, path.isAbsolute(name) ? path.basename(name) : name), io);
    return 0;
  });
}

/**
 * Downloads every stored file of `records` to `targetOf(file name)`, verifying size and sha256 while writing; a file
 * lands at its path only once verified (it is written to `<path>.kiln-partial` first). Returns the paths written.
 */
export async function downloadArtifacts(
  client: CoordinatorConnection,
  records: readonly ArtifactRecord__Output[],
  targetOf: (name: string) => string,
  io: CliIo,
  tty = process.stderr.isTTY === true,
  options: DownloadOptions = {},
): Promise<string[]> {
  const written: string[] = [];
  for (const r of records) {
    for (const [index, file] of r.files.entries()) {
      if (!file.object) continue;
      const target = targetOf(file.name);
      await downloadFile(client, r, index, target, io, tty, options);
      written.push(target);
    }
  }
  return written;
}

export interface DownloadOptions {
  /** How long a direct read from the object store may receive nothing before the coordinator takes over. */
  readonly directStallMs?: number;
}

async function downloadFile(
  client: CoordinatorConnection,
  record: ArtifactRecord__Output,
  index: number,
  target: string,
  io: CliIo,
  tty: boolean,
  options: DownloadOptions,
): Promise<void> {
  const file = record.files[index];
  if (!file) return;
  const size = Number(file.size);
  const partial = `${target}.kiln-partial`;
  await mkdir(path.dirname(target), { recursive: true });
  const verifier = new FileVerifier({ name: file.name, size, sha256: file.sha256 });
  const progress = new TransferProgress(file.name, size, tty, io.stderr);
  const out = await open(partial, "w");
  const writer = new VerifiedFileWriter(out, verifier);
  const add = async (chunk: Uint8Array): Promise<void> => {
    await writer.add(chunk);
    progress.add(chunk.length);
  };
  try {
    // Straight from the store when the coordinator says where and this host reaches it; whatever that leaves
    // unread (unreachable, a dropped connection) comes through the coordinator, into the same hash.
    const direct = process.env["KILN_ARTIFACT_DIRECT"] === "0" ? undefined : await client.downloadSource(record.id, index).catch(() => undefined);
    let done = false;
    let from = "";
    if (direct) {
      try {
        await readDirect(direct, size, verifier.received, add, options.directStallMs ?? DIRECT_STALL_MS);
        done = verifier.received === size;
        from = direct.path ? " (read from the store directory directly)" : direct.url ? " (fetched from the store directly)" : " (read from the object store directly)";
      } catch (err) {
        if (hasErrorCode(err, ErrorCode.ChecksumMismatch)) throw err;
        const where = direct.path || (direct.url ? new URL(direct.url).host : direct.nats_servers.join(","));
        io.stderr(`${file.name}: cannot read it from ${where} directly (${err instanceof Error ? err.message : String(err)}); through the coordinator from ${formatBytes(verifier.received)}\n`);
      }
    }
    for (let attempt = 1; !done; attempt++) {
      try {
        for await (const chunk of client.download(record.id, index, verifier.received)) await add(chunk);
        break;
      } catch (err) {
        if (!hasErrorCode(err, ErrorCode.Unavailable) || attempt >= DOWNLOAD_ATTEMPTS) throw err;
        io.stderr(`${file.name}: the download stream dropped at ${formatBytes(verifier.received)}; resuming\n`);
        await sleep(RESUME_DELAY_MS);
      }
    }
    await writer.flush();
    verifier.check();
    await out.close();
    await rename(partial, target);
    progress.finish(`sha256 ok -> ${target}${done && from ? from : ""}`);
  } catch (err) {
    progress.fail();
    await writer.settle();
    await out.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw err;
  }
}

/** How long a direct read from the object store may receive nothing before the coordinator's stream takes over. */
const DIRECT_STALL_MS = 30_000;

/** Read buffer of a direct download from a directory store. */
const DIRECT_READ_BYTES = 1024 * 1024;

/**
 * Reads a file's bytes from `offset` straight from where the coordinator said the store keeps it, handing each chunk
 * to `add`. An UnavailableError when this host cannot reach it: the path is not mounted here (or holds another
 * size), the URL does not answer with exactly the bytes asked for; the NATS servers' own errors when they do not
 * answer. A read the object store ends early (the connection dropped) returns short: the caller continues it.
 */
async function readDirect(source: FileSource__Output, size: number, offset: number, add: (chunk: Uint8Array) => Promise<void>, stallMs: number): Promise<void> {
  if (source.path) {
    const found = await stat(source.path).catch(() => undefined);
    if (!found?.isFile() || found.size !== size) throw new UnavailableError(`${source.path} is not mounted on this host`);
    for await (const chunk of createReadStream(source.path, { start: offset, highWaterMark: DIRECT_READ_BYTES })) await add(chunk as Buffer);
    return;
  }
  if (source.nats_servers.length > 0) {
    // No reconnects: a dropped connection ends the read here, and the coordinator's stream continues it.
    const nc = await connectFarm({ servers: source.nats_servers, name: "kiln-cli-download", timeout: CONNECT_TIMEOUT_MS, reconnect: false });
    const abort = new AbortController();
    // A server that stops sending without dropping the connection: the read ends (short) and the coordinator goes on.
    let stalled = false;
    const watchdog = setTimeout(() => {
      stalled = true;
      abort.abort();
      void nc.close();
    }, stallMs);
    try {
      const store = await NatsObjectStore.bind(jetstream(nc));
      let read = offset;
      for await (const chunk of await store.get(source.nats_object, offset, abort.signal)) {
        watchdog.refresh();
        await add(chunk as Buffer);
        read += (chunk as Buffer).length;
      }
      if (read !== size) {
        throw new UnavailableError(`the object store ended the read at ${formatBytes(read)} of ${formatBytes(size)}${stalled ? ` (nothing arrived for ${stallMs / 1000}s)` : ""}`);
      }
    } catch (err) {
      if (stalled && !hasErrorCode(err, ErrorCode.ChecksumMismatch)) throw new UnavailableError(`nothing arrived from the object store for ${stallMs / 1000}s`, { cause: err });
      throw err;
    } finally {
      clearTimeout(watchdog);
      abort.abort();
      await nc.close();
    }
    return;
  }
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const get = source.url.startsWith("https:") ? httpsGet : httpGet;
    const req = get(source.url, { headers: offset > 0 ? { Range: `bytes=${offset}-` } : {}, timeout: CONNECT_TIMEOUT_MS }, resolve);
    req.on("timeout", () => req.destroy(new UnavailableError(`no answer in ${CONNECT_TIMEOUT_MS / 1000}s`)));
    req.on("error", reject);
  });
  const length = Number(response.headers["content-length"]);
  if (response.statusCode !== (offset > 0 ? 206 : 200) || length !== size - offset) {
    response.resume();
    throw new UnavailableError(`HTTP ${response.statusCode ?? "?"} with ${Number.isNaN(length) ? "no" : length} bytes for the ${size - offset} asked for`);
  }
  for await (const chunk of response) await add(chunk as Buffer);
}
