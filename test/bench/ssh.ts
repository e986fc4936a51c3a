/**
 * SSH benchmarks (issue 4), run by `npm run bench` (KILN_BENCH_ONLY=ssh for these alone). Both start a private
 * OpenSSH server from the test harness and print numbers; they assert nothing.
 *   1. scp upload of a 100 MiB file: kiln's communicator vs OpenSSH's `scp` to the same server (target >= 0.7).
 *   2. "SSH port open" -> first provisioner command ran: a null build with a shell provisioner polls a closed port, a
 *      fresh server comes up there, the time from its port accepting connections to the script's first output line
 *      (target < 300 ms), with key and with password authentication, next to OpenSSH's client for scale.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { SshCommunicator, generateTemporaryKeyPair, runJob, type JobRunContext } from "../../agent/src/mod.js";
import { parseTemplate, planBuild } from "../../core/src/mod.js";
import type { Job__Output } from "../../proto/src/mod.js";
import { SshServer, TEST_PASSWORD, TEST_USER, freePort } from "../src/mod.js";
import { codecsForBench, median } from "./support.js";

const RUNS = Number(process.env["KILN_BENCH_SSH_RUNS"] ?? 3);

const never = (): AbortSignal => new AbortController().signal;

export async function benchScpUpload(): Promise<void> {
  const server = await SshServer.start({ kind: "openssh" });
  const dir = await mkdtemp(path.join(tmpdir(), "kiln-bench-scp-"));
  const comm = await SshCommunicator.connect(
    { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_private_key_file: server.clientKeyFile },
    { signal: never() },
  );
  const remote = `/tmp/kiln-bench-scp-${process.pid}.bin`;
  try {
    const local = path.join(dir, "big.bin");
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131) & 0xff;
    await writeFile(local, Buffer.concat(Array.from({ length: 100 }, () => chunk)));
    const kiln: number[] = [];
    const scp: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let t = performance.now();
      await comm.upload(local, remote, never());
      kiln.push(performance.now() - t);
      t = performance.now();
      const r = spawnSync(
        "scp",
        ["-q", "-P", String(server.port), "-i", server.clientKeyFile, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", local, `${server.username}@${server.host}:${remote}`],
        { encoding: "utf8" },
      );
      scp.push(performance.now() - t);
      if (r.status !== 0) throw new Error(`scp failed: ${r.stderr}`);
    }
    const k = median(kiln);
    const s = median(scp);
    console.log(`scp upload of 100 MiB to a local OpenSSH sshd (median of ${RUNS}; OpenSSH's scp includes its own connection setup)`);
    console.log(
      `  openssh scp: ${s.toFixed(0)} ms (${((100 / s) * 1000).toFixed(0)} MiB/s)   kiln: ${k.toFixed(0)} ms (${((100 / k) * 1000).toFixed(0)} MiB/s)   ` +
        `throughput ratio kiln/scp: ${(s / k).toFixed(2)} (target >= 0.7)`,
    );
  } finally {
    await comm.start(`rm -f ${remote}`, { signal: AbortSignal.timeout(10_000) }).catch(() => -1);
    comm.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Resolves with the time a TCP connect to the port first succeeds (probed every few milliseconds). */
async function portOpenAt(port: number, signal: AbortSignal): Promise<number> {
  while (!signal.aborted) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return performance.now();
    await new Promise((r) => setTimeout(r, 2));
  }
  return NaN;
}

/** The job of a template's only build, as the coordinator would plan it. */
function jobOf(template: Record<string, unknown>): Job__Output {
  const now = Date.now();
  const [job] = planBuild({
    template: parseTemplate(JSON.stringify(template), "bench.json"),
    variables: {},
    buildId: "bench",
    statics: { run_uuid: randomUUID(), template_uuid: randomUUID(), init_time_unix: Math.floor(now / 1000), init_time_nanos: String(BigInt(now) * 1_000_000n) },
    options: { on_error: "", force: false },
    workspace: {},
    datacenter: "",
  });
  if (job === undefined) throw new Error("the bench template has no build");
  return codecsForBench.Job.normalize(job);
}

type Auth = "key" | "password";

/**
 * One measurement: a `null` build (the builder's connect step, then the real shell provisioner with an inline
 * script) starts against a port nothing listens on; 300-600 ms later a fresh sshd is started there. Returns the time
 * from the moment the port first accepts a TCP connection to the moment the script's first output line reaches the
 * job's log. "key" is a temporary ed25519 key pair made for the run and authorized in the server from its start
 * (what the VM builders do); "password" goes through sshd's password check.
 */
async function portOpenToFirstLine(auth: Auth, dir: string): Promise<{ ms: number; connectedMs: number }> {
  const port = await freePort();
  const marker = `first-line-${randomUUID()}`;
  const keys = await generateTemporaryKeyPair({ type: "ed25519", bits: 0 }, "kiln-bench");
  const keyFile = path.join(dir, `key-${port}`);
  await writeFile(keyFile, keys.privateKey, { mode: 0o600 });
  const builder: Record<string, unknown> = { type: "null", ssh_host: "127.0.0.1", ssh_port: port, ssh_username: TEST_USER, ssh_timeout: "60s" };
  if (auth === "key") builder["ssh_private_key_file"] = keyFile;
  else builder["ssh_password"] = TEST_PASSWORD;
  const job = jobOf({ builders: [builder], provisioners: [{ type: "shell", inline: [`echo ${marker}`] }] });
  let ranAt = NaN;
  let connectedAt = NaN;
  const ctx: JobRunContext = {
    signal: AbortSignal.timeout(120_000),
    workDir: dir,
    templateDir: dir,
    log: (_level, text) => {
      if (text === "Connected to SSH!") connectedAt = performance.now();
      if (text === marker && Number.isNaN(ranAt)) ranAt = performance.now();
    },
    step: () => undefined,
    artifact: () => undefined,
    heartbeat: () => undefined,
  };
  const stop = new AbortController();
  let server: SshServer | undefined;
  try {
    const running = runJob(job, ctx);
    const opened = portOpenAt(port, stop.signal);
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 300));
    server = await SshServer.start({ kind: "openssh", port, authorizedKeys: [keys.publicKey] });
    const outcome = await running;
    if (outcome.state !== "succeeded") throw new Error(`the bench build failed: ${outcome.failure?.message ?? outcome.state}`);
    const open = await opened;
    return { ms: ranAt - open, connectedMs: connectedAt - open };
  } finally {
    stop.abort();
    await server?.stop();
  }
}

/** OpenSSH's client, one connection and `true`, against a running server (key, or password through sshpass). */
function opensshBaseline(server: SshServer, auth: Auth): number | string {
  const common = ["-p", String(server.port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", `${server.username}@${server.host}`, "true"];
  const argv =
    auth === "key"
      ? ["ssh", "-i", server.clientKeyFile, "-o", "BatchMode=yes", ...common]
      : ["sshpass", "-p", server.password, "ssh", "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password", ...common];
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const r = spawnSync(argv[0] ?? "", argv.slice(1), { encoding: "utf8" });
    if (r.error !== undefined) return `(${argv[0] ?? ""} missing: install the Debian package ${argv[0] === "sshpass" ? "sshpass" : "openssh-client"})`;
    if (r.status !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr}`);
    times.push(performance.now() - t);
  }
  return median(times);
}

export async function benchPortOpenToFirstCommand(): Promise<void> {
  const runs = Math.max(RUNS, 9);
  const dir = await mkdtemp(path.join(tmpdir(), "kiln-bench-first-"));
  const results = new Map<Auth, { ms: number; connectedMs: number }[]>([
    ["key", []],
    ["password", []],
  ]);
  try {
    // Interleaved, so that a burst of load on a shared machine hits both alike.
    for (let i = 0; i < runs; i++) {
      for (const auth of ["key", "password"] as const) results.get(auth)?.push(await portOpenToFirstLine(auth, dir));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // Context for a loaded machine: what OpenSSH's own client needs for one connection and one command.
  const server = await SshServer.start({ kind: "openssh" });
  let baseline: Record<Auth, number | string>;
  try {
    baseline = { key: opensshBaseline(server, "key"), password: opensshBaseline(server, "password") };
  } finally {
    await server.stop();
  }
  const fmt = (v: number | string): string => (typeof v === "number" ? `${v.toFixed(0)} ms` : v);
  console.log(`SSH port open -> first provisioner command ran (a null build's connect, then the shell provisioner; median of ${runs})`);
  for (const auth of ["key", "password"] as const) {
    const r = results.get(auth) ?? [];
    const ms = r.map((x) => x.ms);
    console.log(
      `  ${auth === "key" ? "key auth (temporary key pair, what VM builders use)" : "password auth"}: median ${median(ms).toFixed(0)} ms, ` +
        `max ${Math.max(...ms).toFixed(0)} ms (of which connected: median ${median(r.map((x) => x.connectedMs)).toFixed(0)} ms)` +
        `${auth === "key" ? " (target < 300 ms)" : ""}; OpenSSH's "ssh host true" with ${auth}: ${fmt(baseline[auth])}`,
    );
  }
}
