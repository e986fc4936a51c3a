/**
 * `npm run bench`: kiln against Packer and against its own targets. Prints numbers; asserts nothing.
 *   1. Embedded `kiln build` vs `packer build` on one 4-builder file template (shell-local provisioner, checksum and
 *      manifest post-processors): median wall time of several runs each, and the ratio (target <= 1.0).
 *   2. A warm farm in one process (nats-server, a coordinator, 50 agents): submission-to-completion latency p50/p99
 *      of 1,000 trivial jobs, and jobs/s (targets: p50 < 20 ms, >= 500 jobs/s).
 *   3. `kiln validate` over the corpus vs `packer validate` (target <= 0.5).
 *   4. The docker builder: one commit template (shell provisioner, changes) through `packer build` (docker CLI) and
 *      through kiln, on a private dockerd: embedded `kiln build` (farm start-up included; target <= 1.2) and a warm
 *      farm in this process (target <= 1.0); median of several runs, and the ratios.
 *   5. One qemu build of the test guest under TCG, kiln vs packer (target <= 0.8).
 *   6. Fault tolerance (chaos.ts): agent death to its job running elsewhere, builds lost and duplicate completions in
 *      a soak under a chaos loop, and the coordinator fail-over time the CLI sees.
 *   7. Artifacts (artifacts.ts): upload and download throughput of a 1 GiB artifact through each store backend beside
 *      `cp` and `sha256sum` of the same file, and the agent's and CLI's peak RSS.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { NatsServer, codecsForBench, connectFarm, median, validateTemplate } from "./support.js";
import { CoordinatorService } from "../../coordinator/src/mod.js";
import { Agent } from "../../agent/src/mod.js";
import { DockerDaemon, REPO_ROOT, guestImage } from "../src/mod.js";
import { benchPortOpenToFirstCommand, benchScpUpload } from "./ssh.js";
import { benchChaos } from "./chaos.js";
import { benchArtifacts } from "./artifacts.js";

const RUNS = Number(process.env["KILN_BENCH_RUNS"] ?? 5);
const JOBS = Number(process.env["KILN_BENCH_JOBS"] ?? 1000);
const AGENTS = Number(process.env["KILN_BENCH_AGENTS"] ?? 50);

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function timeCommand(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return ms;
}

/** A submission as the embedded farm's CLI makes it: the template's directory is `work` on this host. */
function localSubmission(templateJson: string, work: string): Parameters<CoordinatorService["submit"]>[0] {
  return {
    template_json: templateJson,
    template_name: "bench.json",
    variables: {},
    only: [],
    except: [],
    options: null,
    bundle: Buffer.alloc(0),
    bundle_template_path: "",
    local_cwd: work,
    local_template_dir: work,
    datacenter: "",
    trace_context: {},
    external_files: {},
  };
}

/** CPU time (user + system) a process has used so far, from /proc (Linux). */
async function processCpuMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).replace(/^.*\) /, "").split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

async function benchVersusPacker(): Promise<void> {
  const template = {
    builders: [1, 2, 3, 4].map((i) => ({ type: "file", name: `f${i}`, target: `out/f${i}.txt`, content: `file ${i}` })),
    provisioners: [{ type: "shell-local", inline: ["echo provisioning $PACKER_BUILD_NAME"] }],
    "post-processors": [[{ type: "checksum", checksum_types: ["sha256"] }, { type: "manifest" }]],
  };
  const kilnBin = path.join(REPO_ROOT, "dist", "cli", "src", "bin.js");
  const packerTimes: number[] = [];
  const kilnTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [tool, times] of [["packer", packerTimes], ["kiln", kilnTimes]] as const) {
      const dir = await mkdtemp(path.join(tmpdir(), `kiln-bench-${tool}-`));
      await writeFile(path.join(dir, "t.json"), JSON.stringify(template));
      const env = { ...process.env, CHECKPOINT_DISABLE: "1", KILN_COORDINATOR: "" };
      times.push(
        tool === "packer"
          ? await timeCommand("packer", ["build", "-color=false", "t.json"], dir, env)
          : await timeCommand(process.execPath, [kilnBin, "build", "-color=false", "t.json"], dir, env),
      );
      await rm(dir, { recursive: true, force: true });
    }
  }
  const p = median(packerTimes);
  const k = median(kilnTimes);
  console.log(`embedded kiln build vs packer build (4 file builds, shell-local, checksum+manifest; median of ${RUNS})`);
  console.log(`  packer: ${p.toFixed(0)} ms   kiln: ${k.toFixed(0)} ms   ratio kiln/packer: ${(k / p).toFixed(2)} (target <= 1.0)`);
}

/**
 * `agentConnections`: "own" gives every agent its own NATS connection, as agents on separate hosts have; "shared"
 * lets the in-process agents share one, so that the number measures kiln rather than 50 loopback TCP sockets
 * competing for this machine's two cores.
 */
async function benchWarmFarm(agentConnections: "own" | "shared"): Promise<void> {
  const nats = await NatsServer.start();
  const coordinatorNc = await connectFarm({ servers: nats.url });
  const service = await CoordinatorService.open(coordinatorNc);
  const work = await mkdtemp(path.join(tmpdir(), "kiln-bench-farm-"));
  const agents: { agent: Agent; nc: NatsConnection }[] = [];
  try {
    const shared = agentConnections === "shared" ? await connectFarm({ servers: nats.url }) : undefined;
    for (let i = 0; i < AGENTS; i++) {
      const nc = shared ?? (await connectFarm({ servers: nats.url }));
      const agent = await Agent.start(nc, { name: `bench-${i}`, builderTypes: ["null"], workDir: work, acceptLocalWorkspaces: true, log: () => undefined });
      agents.push({ agent, nc });
    }
    const finishedAt = new Map<string, number>();
    const waiters = new Map<string, () => void>();
    coordinatorNc.subscribe("kiln.events.*._build", {
      callback: (_err, msg) => {
        const e = codecsForBench.JobEvent.decode(msg.data);
        if (!e.state?.build_state || e.state.build_state === "BUILD_STATE_QUEUED") return;
        finishedAt.set(e.build_id, performance.now());
        waiters.get(e.build_id)?.();
      },
    });
    const templateJson = JSON.stringify({ builders: [{ type: "null", communicator: "none" }] });
    const submitOne = async (): Promise<number> => {
      const start = performance.now();
      const status = await service.submit(localSubmission(templateJson, work));
      const id = status.build?.id ?? "";
      if (!finishedAt.has(id)) await new Promise<void>((resolve) => waiters.set(id, resolve));
      waiters.delete(id);
      return (finishedAt.get(id) ?? performance.now()) - start;
    };
    for (let i = 0; i < 20; i++) await submitOne(); // warm-up
    const sequential: number[] = [];
    for (let i = 0; i < Math.min(JOBS, 200); i++) sequential.push(await submitOne());
    const concurrency = 50;
    const latencies: number[] = [];
    const natsCpuBefore = await processCpuMs(nats.pid);
    const connections = [...new Set([coordinatorNc, ...agents.map((a) => a.nc)])];
    const messagesSent = (): number => connections.reduce((sum, nc) => sum + nc.stats().outMsgs, 0);
    const messagesBefore = messagesSent();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < JOBS) {
          next++;
          latencies.push(await submitOne());
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const kilnCpuPerJob = (cpu.user + cpu.system) / 1000 / JOBS;
    const natsCpuPerJob = ((await processCpuMs(nats.pid)) - natsCpuBefore) / JOBS;
    const messagesPerJob = (messagesSent() - messagesBefore) / JOBS;
    console.log(`warm farm: ${AGENTS} agents in-process on ${agentConnections === "own" ? "a NATS connection each" : "one shared NATS connection"}, trivial null jobs`);
    console.log(`  one at a time (${sequential.length}): p50 ${percentile(sequential, 50).toFixed(1)} ms, p99 ${percentile(sequential, 99).toFixed(1)} ms (target p50 < 20 ms)`);
    console.log(`  ${JOBS} jobs, ${concurrency} in flight: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, ${(JOBS / seconds).toFixed(0)} jobs/s (target >= 500)`);
    // Wall-clock rates move with whatever else the machine runs; CPU per job does not, and bounds the rate: with one
    // core for kiln's process and one for nats-server, jobs/s <= 1000 / max(kiln, nats) CPU ms per job.
    console.log(`  CPU per job: kiln process ${kilnCpuPerJob.toFixed(2)} ms, nats-server ${natsCpuPerJob.toFixed(2)} ms -> at most ${(1000 / Math.max(kilnCpuPerJob, natsCpuPerJob)).toFixed(0)} jobs/s on two idle cores; ${messagesPerJob.toFixed(1)} NATS messages sent per job`);
  } finally {
    await Promise.all(agents.map(({ agent }) => agent.stop(1_000)));
    await Promise.all([...new Set(agents.map((a) => a.nc))].map((nc) => nc.close()));
    service.close();
    await coordinatorNc.close();
    await nats.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * `kiln validate` over the whole corpus in one process vs `packer validate` per template, with the var files the
 * oracle used (target: kiln <= 0.5 of Packer's total).
 */
async function benchValidateCorpus(): Promise<void> {
  const corpus = path.resolve(REPO_ROOT, process.env["KILN_CORPUS"] ?? "../shared/corpus");
  const rows = (await readFile(path.join(corpus, "SOURCES.tsv"), "utf8")).trim().split("\n").slice(1).map((l) => l.split("\t"));
  const templates = rows.filter((r) => r[5] === "template").map((r) => r[0] ?? "");
  const cwd = await mkdtemp(path.join(tmpdir(), "kiln-bench-validate-"));
  const inputs = await Promise.all(
    templates.map(async (rel) => {
      const file = path.join(corpus, rel);
      // The oracle's argv after `packer`, space-separated, paths relative to <corpus>/cwd.
      const args = (await readFile(`${file}.validate.args`, "utf8").catch(() => "")).trim().split(/\s+/);
      const varFiles = args.filter((a) => a.startsWith("-var-file=")).map((a) => path.resolve(corpus, "cwd", a.slice("-var-file=".length)));
      return { file, text: await readFile(file), varFiles: await Promise.all(varFiles.map(async (v) => ({ path: v, text: await readFile(v) }))) };
    }),
  );
  const kilnStart = performance.now();
  for (const t of inputs) validateTemplate(t.text, t.file, { varFiles: t.varFiles, env: {} });
  const kilnMs = performance.now() - kilnStart;
  const packerStart = performance.now();
  for (const t of inputs) {
    spawnSync("packer", ["validate", ...t.varFiles.map((v) => `-var-file=${v.path}`), t.file], { cwd, env: { PATH: "/usr/bin:/bin", HOME: cwd, CHECKPOINT_DISABLE: "1" } });
  }
  const packerMs = performance.now() - packerStart;
  await rm(cwd, { recursive: true, force: true });
  console.log(`validate the corpus (${inputs.length} templates): kiln in one process vs packer validate per template`);
  console.log(`  packer: ${packerMs.toFixed(0)} ms   kiln: ${kilnMs.toFixed(0)} ms   ratio kiln/packer: ${(kilnMs / packerMs).toFixed(3)} (target <= 0.5)`);
}

async function benchDocker(): Promise<void> {
  const daemon = await DockerDaemon.start();
  const work = await mkdtemp(path.join(tmpdir(), "kiln-bench-docker-"));
  const savedHost = process.env["DOCKER_HOST"];
  process.env["DOCKER_HOST"] = daemon.host;
  const nats = await NatsServer.start();
  const nc = await connectFarm({ servers: nats.url });
  const service = await CoordinatorService.open(nc);
  const agentNc = await connectFarm({ servers: nats.url });
  const agent = await Agent.start(agentNc, { name: "bench-docker", builderTypes: ["docker"], workDir: work, acceptLocalWorkspaces: true, log: () => undefined });
  try {
    const base = await daemon.importBusyboxImage("kiln-bench-base:1");
    const template = {
      builders: [
        { type: "docker", name: "d", image: "kiln-bench-base:1", pull: false, commit: true, changes: ["ENV BUILT_BY=bench", "WORKDIR /srv"] },
      ],
      provisioners: [{ type: "shell", inline: ["mkdir -p /srv", "echo provisioned > /srv/message.txt"] }],
    };
    const removeBuiltImages = async (): Promise<void> => {
      for (const image of await daemon.docker.listImages()) {
        if (image.Id !== base) await daemon.docker.getImage(image.Id).remove({ force: true });
      }
    };
    const done = new Map<string, (state: string) => void>();
    nc.subscribe("kiln.events.*._build", {
      callback: (_err, msg) => {
        const e = codecsForBench.JobEvent.decode(msg.data);
        const state = e.state?.build_state;
        if (state === "BUILD_STATE_SUCCEEDED" || state === "BUILD_STATE_FAILED" || state === "BUILD_STATE_CANCELLED") done.get(e.build_id)?.(state);
      },
    });
    const warmBuild = async (): Promise<number> => {
      const start = performance.now();
      let resolveDone = (_state: string): void => undefined;
      const finished = new Promise<string>((resolve) => (resolveDone = resolve));
      const status = await service.submit(localSubmission(JSON.stringify(template), work));
      done.set(status.build?.id ?? "", resolveDone);
      const state = await finished;
      if (state !== "BUILD_STATE_SUCCEEDED") throw new Error(`the warm-farm docker build ended ${state}`);
      return performance.now() - start;
    };
    const kilnBin = path.join(REPO_ROOT, "dist", "cli", "src", "bin.js");
    const env = { ...process.env, CHECKPOINT_DISABLE: "1", KILN_COORDINATOR: "", DOCKER_HOST: daemon.host };
    const packerTimes: number[] = [];
    const embeddedTimes: number[] = [];
    const warmTimes: number[] = [];
    await warmBuild(); // warm-up
    await removeBuiltImages();
    for (let i = 0; i < RUNS; i++) {
      for (const tool of ["packer", "kiln", "warm"] as const) {
        const dir = await mkdtemp(path.join(tmpdir(), `kiln-bench-docker-${tool}-`));
        await writeFile(path.join(dir, "t.json"), JSON.stringify(template));
        if (tool === "packer") packerTimes.push(await timeCommand("packer", ["build", "-color=false", "t.json"], dir, { ...env, HOME: dir }));
        else if (tool === "kiln") embeddedTimes.push(await timeCommand(process.execPath, [kilnBin, "build", "-color=false", "t.json"], dir, env));
        else warmTimes.push(await warmBuild());
        await rm(dir, { recursive: true, force: true });
        await removeBuiltImages();
      }
    }
    const p = median(packerTimes);
    const k = median(embeddedTimes);
    const w = median(warmTimes);
    console.log(`docker builder, commit template with a shell provisioner, private dockerd (median of ${RUNS})`);
    console.log(`  packer: ${p.toFixed(0)} ms   embedded kiln build: ${k.toFixed(0)} ms   ratio ${(k / p).toFixed(2)} (target <= 1.2)`);
    console.log(`  warm farm (submit to finish): ${w.toFixed(0)} ms   ratio ${(w / p).toFixed(2)} (target <= 1.0)`);
  } finally {
    await agent.stop(5_000);
    await agentNc.close();
    service.close();
    await nc.close();
    await nats.stop();
    if (savedHost === undefined) delete process.env["DOCKER_HOST"];
    else process.env["DOCKER_HOST"] = savedHost;
    await daemon.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * One qemu build of the test guest (boot_command at isolinux's prompt, SSH, a shell provisioner, shutdown_command)
 * through `packer build` and embedded `kiln build`, one after the other, TCG both (target ratio <= 0.8).
 */
async function benchQemuVersusPacker(): Promise<void> {
  const guest = await guestImage();
  const template = {
    builders: [{
      type: "qemu", iso_url: guest.iso, iso_checksum: "none", accelerator: "tcg", disk_size: "16M", memory: 256, headless: true,
      output_directory: "out", vm_name: "disk.qcow2", boot_wait: "5s", boot_command: ["live<enter>"],
      ssh_username: guest.username, ssh_password: guest.password, ssh_timeout: "4m", shutdown_command: "poweroff",
    }],
    provisioners: [{ type: "shell", inline: ["echo built | dd of=/dev/vda conv=sync 2>/dev/null", "sync"] }],
  };
  const kilnBin = path.join(REPO_ROOT, "dist", "cli", "src", "bin.js");
  const runs = Math.max(1, Math.min(RUNS, 3));
  const packerTimes: number[] = [];
  const kilnTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const [tool, times] of [["packer", packerTimes], ["kiln", kilnTimes]] as const) {
      const dir = await mkdtemp(path.join(tmpdir(), `kiln-bench-qemu-${tool}-`));
      await writeFile(path.join(dir, "t.json"), JSON.stringify(template));
      const env = { ...process.env, CHECKPOINT_DISABLE: "1", KILN_COORDINATOR: "", KILN_CACHE_DIR: path.join(dir, "cache"), PACKER_CACHE_DIR: path.join(dir, "cache") };
      times.push(
        tool === "packer"
          ? await timeCommand("packer", ["build", "-color=false", "t.json"], dir, env)
          : await timeCommand(process.execPath, [kilnBin, "build", "-color=false", "t.json"], dir, env),
      );
      await rm(dir, { recursive: true, force: true });
    }
  }
  const p = median(packerTimes);
  const k = median(kilnTimes);
  console.log(`qemu build of the test guest under TCG: kiln build vs packer build (median of ${runs})`);
  console.log(`  packer: ${p.toFixed(0)} ms   kiln: ${k.toFixed(0)} ms   ratio kiln/packer: ${(k / p).toFixed(2)} (target <= 0.8)`);
}

/**
 * Four qemu builds of the test guest on one agent (the embedded farm's): all four at once vs one after the other
 * (-parallel-builds=1). Prints the speed-up; on two cores under TCG the guests compete for CPU, so it is well below 4.
 */
async function benchQemuConcurrency(): Promise<void> {
  const guest = await guestImage();
  const builders = [1, 2, 3, 4].map((i) => ({
    type: "qemu", name: `q${i}`, iso_url: guest.autoIso, iso_checksum: "none", accelerator: "tcg", disk_size: "16M", memory: 256,
    output_directory: `out-${i}`, vm_name: "disk.qcow2", ssh_username: guest.username, ssh_password: guest.password, ssh_timeout: "8m",
    shutdown_command: "poweroff",
  }));
  const template = { builders, provisioners: [{ type: "shell", inline: ["echo built | dd of=/dev/vda conv=sync 2>/dev/null", "sync"] }] };
  const kilnBin = path.join(REPO_ROOT, "dist", "cli", "src", "bin.js");
  const timeBuild = async (extra: string[]): Promise<number> => {
    const dir = await mkdtemp(path.join(tmpdir(), "kiln-bench-qemu4-"));
    try {
      await writeFile(path.join(dir, "t.json"), JSON.stringify(template));
      const env = { ...process.env, KILN_COORDINATOR: "", KILN_CACHE_DIR: path.join(dir, "cache") };
      return await timeCommand(process.execPath, [kilnBin, "build", "-color=false", ...extra, "t.json"], dir, env);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  const sequential = await timeBuild(["-parallel-builds=1"]);
  const concurrent = await timeBuild([]);
  console.log("four qemu builds of the test guest on one agent (TCG): concurrent vs sequential");
  console.log(`  sequential: ${sequential.toFixed(0)} ms   concurrent: ${concurrent.toFixed(0)} ms   speed-up ${(sequential / concurrent).toFixed(2)}x`);
}

// KILN_BENCH_ONLY=packer|farm|validate|docker|qemu|qemu-concurrency|ssh|chaos|artifacts runs one part (for profiling).
const only = process.env["KILN_BENCH_ONLY"];
if (!only || only === "packer") await benchVersusPacker();
if (!only || only === "farm") {
  await benchWarmFarm("own");
  await benchWarmFarm("shared");
}
if (!only || only === "validate") await benchValidateCorpus();
if (!only || only === "docker") await benchDocker();
if (!only || only === "qemu") await benchQemuVersusPacker();
if (!only || only === "qemu" || only === "qemu-concurrency") await benchQemuConcurrency();
if (!only || only === "ssh") {
  await benchScpUpload();
  await benchPortOpenToFirstCommand();
}
if (!only || only === "chaos") await benchChaos();
if (!only || only === "artifacts") await benchArtifacts();
process.exit(0);
