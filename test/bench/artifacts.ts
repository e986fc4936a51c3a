/**
 * Artifact transfer benchmark (issue 8), run by `npm run bench` (KILN_BENCH_ONLY=artifacts for it alone). Prints
 * numbers; asserts nothing.
 *
 * A 1 GiB file (KILN_BENCH_ARTIFACT_MIB to change it) goes up through each backend — the JetStream object store, S3
 * (s3rver on loopback) and a directory — the way an agent uploads it (a process of its own, hashing on the way), and
 * comes back the way a user fetches it (`kiln artifacts get`, verifying on the way): straight from the store where the
 * CLI reaches it (object store: NATS itself; S3: a presigned URL; dir: the mounted path) and through the coordinator's gRPC stream
 * (KILN_ARTIFACT_DIRECT=0). Beside them, baselines over the same file in the same run: a raw local `cp` and
 * `sha256sum`, and the plain AWS SDK against s3rver (multipart up, GetObject down, no kiln, no hashing), which shows
 * what s3rver itself sustains. s3rver runs in a process of its own, as a real S3 service would. Since every transfer hashes
 * every byte once, `sha256sum` is the bound on a small machine; ratios are against its rate (targets: >= 0.6 for the
 * object store, >= 0.8 for S3 and the directory). kiln's own sha256 rate is printed beside it: on a CPU with SHA
 * instructions it is several times `sha256sum`'s, and the hash stops being the bound. The agent's and the CLI's peak RSS (VmHWM) are printed too (target
 * < 200 MiB whatever the file size).
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { availableParallelism, uptime, loadavg } from "node:os";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ArtifactStoreConfig } from "../../core/src/mod.js";
import { NatsServer, connectFarm, median } from "./support.js";
import { CoordinatorGrpcServer, CoordinatorService } from "../../coordinator/src/mod.js";
import { S3_TEST_CREDENTIALS, runKiln, runScript } from "../src/mod.js";

const MiB = 1024 * 1024;
const SIZE = Number(process.env["KILN_BENCH_ARTIFACT_MIB"] ?? 1024) * MiB;
/**
 * Downloads per path (KILN_BENCH_ARTIFACT_RUNS), interleaved; the median is printed with the range. One run on this
 * shared machine varied by +-40%.
 */
const DOWNLOAD_RUNS = Number(process.env["KILN_BENCH_ARTIFACT_RUNS"] ?? 3);
/** KILN_BENCH_ARTIFACT_STORES=nats,dir runs only those backends (and the s3rver baseline only with s3). */
const STORES = (process.env["KILN_BENCH_ARTIFACT_STORES"] ?? "nats,s3,dir").split(",");

function timed(cmd: string, args: string[]): number {
  const started = performance.now();
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed`);
  return performance.now() - started;
}

const rate = (bytes: number, ms: number): number => bytes / MiB / (ms / 1000);

function trackPeak(child: ChildProcess): () => number {
  let peak = 0;
  const timer = setInterval(() => {
    if (!child.pid) return;
    void readFile(`/proc/${child.pid}/status`, "utf8").then(
      (s) => (peak = Math.max(peak, Number(/^VmHWM:\s+(\d+) kB$/m.exec(s)?.[1] ?? 0) * 1024)),
      () => undefined,
    );
  }, 25);
  child.once("exit", () => clearInterval(timer));
  return () => peak;
}

/**
 * MiB/s of sha256 in this process, over 1 GiB of one buffer: the hash every kiln transfer runs. Where the CPU has SHA
 * instructions OpenSSL uses them and `sha256sum` (coreutils) does not, so kiln's hash is several times faster than the
 * baseline the ratios divide by, and the transfers can exceed 1.0.
 */
function hashRateInProcess(): number {
  const block = randomBytes(MiB);
  const hash = createHash("sha256");
  const started = performance.now();
  for (let i = 0; i < 1024; i++) hash.update(block);
  hash.digest();
  return rate(1024 * MiB, performance.now() - started);
}

export async function benchArtifacts(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "kiln-bench-artifacts-"));
  const nats = await NatsServer.start();
  const nc = await connectFarm({ servers: nats.url });
  const service = await CoordinatorService.open(nc, { log: () => undefined });
  // The CLI runs on this host: it reads object-store downloads from NATS itself, as with the embedded farm.
  const server = await CoordinatorGrpcServer.start(service, "127.0.0.1:0", { advertiseNats: [nats.url] });
  let s3rver: ChildProcess | undefined;
  let endpoint = "";
  const s3Exit = runScript("test/bench/s3rver_child.ts", [], {
    cwd: dir,
    timeoutMs: 3_600_000,
    onStdout: (out, child) => {
      s3rver = child;
      endpoint ||= out.split("\n").find((l) => l.startsWith("http")) ?? "";
    },
  });
  try {
    while (!endpoint) {
      if (await Promise.race([s3Exit.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))])) throw new Error("s3rver did not start");
    }
    const s3 = { endpoint };
    const file = path.join(dir, "image.raw");
    const fh = await open(file, "w");
    for (let done = 0; done < SIZE; done += 8 * MiB) await fh.write(randomBytes(Math.min(8 * MiB, SIZE - done)));
    await fh.close();
    // Warm the page cache for everyone alike, then the baselines.
    timed("cat", [file]);
    const cpMs = timed("cp", [file, path.join(dir, "copy.raw")]);
    await rm(path.join(dir, "copy.raw"));
    // The best of three: on this shared machine one run ranged 245-407 MiB/s, and a slow baseline flatters kiln.
    const shaMs = Math.min(...[1, 2, 3].map(() => timed("sha256sum", [file])));
    const shaRate = rate(SIZE, shaMs);
    const kilnHashRate = hashRateInProcess();
    console.log(`artifact transfer of ${SIZE / MiB} MiB (upload: an agent process; download: kiln artifacts get via a coordinator)`);
    let rawMs: { upMs: number; downMs: number } | undefined;
    if (STORES.includes("s3")) {
      const raw = await runScript("test/bench/s3_raw_child.ts", [s3.endpoint, file, path.join(dir, "raw.out")], {
        cwd: dir,
        timeoutMs: 600_000,
        // The SDK's notice that its 2027 releases need Node 22 is off, as in kiln's own S3 client.
        env: { AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      });
      if (raw.code !== 0) throw new Error(`raw s3rver baseline failed: ${raw.stderr}`);
      await rm(path.join(dir, "raw.out"));
      rawMs = JSON.parse(raw.stdout.trim().split("\n").pop() ?? "{}") as { upMs: number; downMs: number };
    }
    console.log(`  load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} (${availableParallelism()} cores; up ${(uptime() / 3600).toFixed(0)}h)`);
    console.log(`  baselines: cp ${rate(SIZE, cpMs).toFixed(0)} MiB/s, sha256sum ${shaRate.toFixed(0)} MiB/s; sha256 as kiln computes it (Node's OpenSSL, in memory) ${kilnHashRate.toFixed(0)} MiB/s`);
    if (rawMs) {
      console.log(
        `  s3rver raw (AWS SDK, no kiln, no hashing): upload ${rate(SIZE, rawMs.upMs).toFixed(0)} MiB/s (${(rate(SIZE, rawMs.upMs) / shaRate).toFixed(2)} of sha256sum), ` +
          `download ${rate(SIZE, rawMs.downMs).toFixed(0)} MiB/s (${(rate(SIZE, rawMs.downMs) / shaRate).toFixed(2)})`,
      );
    }

    const artifacts = await service.artifacts();
    const backends: [string, ArtifactStoreConfig, number][] = [
      ["nats (object store)", { backend: "nats" }, 0.6],
      ["s3 (s3rver)", { backend: "s3", bucket: "bench", endpoint: s3.endpoint, forcePathStyle: true, ...S3_TEST_CREDENTIALS }, 0.8],
      ["dir", { backend: "dir", path: path.join(dir, "store") }, 0.8],
    ];
    for (const [label, config, target] of backends) {
      if (!STORES.includes(config.backend)) continue;
      if (config.backend === "dir") await mkdir(config.path, { recursive: true });
      await artifacts.catalog.setStoreConfig(config);
      const key = `bench/${config.backend}/image.raw`;
      let agentPeak = () => 0;
      const up = await runScript("test/bench/artifact_upload_child.ts", [nats.url, file, key], {
        cwd: dir,
        timeoutMs: 600_000,
        onSpawn: (c) => (agentPeak = trackPeak(c)),
        // The SDK's notice that its 2027 releases need Node 22 is off, as in kiln's own S3 client.
        env: { AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      });
      if (up.code !== 0) throw new Error(`upload to ${label} failed: ${up.stderr}`);
      const result = JSON.parse(up.stdout.trim().split("\n").pop() ?? "{}") as { ms: number; sha256: string; store: string; peakRss: number };
      const id = `b${config.backend.padEnd(11, "0")}`.replace(/[^0-9a-f]/g, "0").slice(0, 12);
      await artifacts.catalog.put({
        id,
        builder_id: "bench",
        files: [{ name: "out/image.raw", size: SIZE, sha256: result.sha256, object: key, store: result.store }],
        build_id: `bench-${config.backend}`,
        job_id: "j0",
        build_name: "bench",
        created_at_ms: Date.now(),
        store: result.store,
        count: 1,
      });
      const dest = path.join(dir, "fetched");
      /** The CLI's peak RSS: direct, via the coordinator. */
      const cliPeak = { direct: 0, coordinator: 0 };
      /** `kiln artifacts get` of the file; its own timing of the transfer (process start-up excluded). */
      const download = async (direct: boolean): Promise<number> => {
        let peak = () => 0;
        const get = await runKiln(["artifacts", "get", id, "--dest", dest, "--coordinator", server.address], {
          cwd: dir,
          compiled: true,
          timeoutMs: 600_000,
          env: direct ? {} : { KILN_ARTIFACT_DIRECT: "0" },
          onSpawn: (c) => (peak = trackPeak(c)),
        });
        if (get.code !== 0) throw new Error(`download from ${label} failed: ${get.stderr}`);
        if (direct && /cannot read it from/.test(get.stderr)) throw new Error(`the direct download from ${label} fell back: ${get.stderr}`);
        const route = direct ? "direct" : "coordinator";
        cliPeak[route] = Math.max(cliPeak[route], peak());
        await rm(dest, { recursive: true, force: true });
        // "out/image.raw: 1.0 GiB in 5.2s (...)"
        return rate(SIZE, Number(/out\/image\.raw: .* in ([\d.]+)s/.exec(get.stderr)?.[1]) * 1000);
      };
      const upRate = rate(SIZE, result.ms);
      const runs = { direct: [] as number[], coordinator: [] as number[] };
      for (let i = 0; i < DOWNLOAD_RUNS; i++) {
        runs.coordinator.push(await download(false));
        runs.direct.push(await download(true));
      }
      const direct = median(runs.direct);
      const viaCoordinator = median(runs.coordinator);
      const spread = (r: number[]): string => (r.length > 1 ? `, ${Math.min(...r).toFixed(0)}-${Math.max(...r).toFixed(0)}` : "");
      console.log(
        `  ${label.padEnd(20)} upload ${upRate.toFixed(0).padStart(4)} MiB/s (${(upRate / shaRate).toFixed(2)} of sha256sum)   ` +
          `download ${direct.toFixed(0).padStart(4)} MiB/s (${(direct / shaRate).toFixed(2)}, direct${spread(runs.direct)})   ` +
          `via coordinator ${viaCoordinator.toFixed(0)} MiB/s (${(viaCoordinator / shaRate).toFixed(2)}${spread(runs.coordinator)})   ` +
          `target >= ${target}   peak RSS agent ${(Math.max(result.peakRss, agentPeak()) / MiB).toFixed(0)} MiB, CLI ${(cliPeak.direct / MiB).toFixed(0)} MiB direct, ${(cliPeak.coordinator / MiB).toFixed(0)} MiB via coordinator`,
      );
      await artifacts.remove([(await artifacts.catalog.get(id))!]);
    }
  } finally {
    await server.stop(200);
    service.close();
    await nc.close();
    await nats.stop();
    s3rver?.kill("SIGTERM");
    await s3Exit.catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
