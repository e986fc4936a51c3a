/**
 * SSH benchmarks (issue 4), run by `npm run bench` (KILN_BENCH_ONLY=ssh for these alone). Both start a private
 * OpenSSH server from the test harness and print numbers; they assert nothing.
 *   1. scp upload of a 100 MiB file: kiln's communicator vs OpenSSH's `scp` to the same server (target >= 0.7).
 *   2. "SSH port open" -> first provisioner command ran (upload, chmod, run, as the shell provisioner does): the
 *      communicator polls the closed port, the server comes up, the time to the command's output (target < 300 ms).
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { SshCommunicator } from "../../agent/src/mod.js";
import { SshServer, freePort } from "../src/mod.js";

const RUNS = Number(process.env["KILN_BENCH_SSH_RUNS"] ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

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

export async function benchPortOpenToFirstCommand(): Promise<void> {
  const latencies: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 5); i++) {
    const port = await freePort();
    const stop = new AbortController();
    let server: SshServer | undefined;
    let comm: SshCommunicator | undefined;
    try {
      const connecting = SshCommunicator.connect(
        { ssh_host: "127.0.0.1", ssh_port: port, ssh_username: "kilntest", ssh_password: "kiln-test-password", ssh_timeout: 60_000 },
        { signal: never() },
      );
      const opened = portOpenAt(port, stop.signal);
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 300));
      server = await SshServer.start({ kind: "openssh", port });
      comm = await connecting;
      const connectedAt = performance.now();
      const script = `/tmp/kiln-bench-first-${process.pid}-${i}.sh`;
      await comm.upload(Buffer.from("#!/bin/sh\necho first\n"), script, never());
      await comm.start(`chmod 0755 ${script}`, { signal: never() });
      let ranAt = NaN;
      await comm.start(`${script}; rm -f ${script}`, { signal: never(), onStdout: () => (ranAt = performance.now()) });
      const open = await opened;
      latencies.push(ranAt - open);
      if (process.env["KILN_BENCH_DEBUG"]) console.log(`  open->connected ${(connectedAt - open).toFixed(0)} ms, connected->ran ${(ranAt - connectedAt).toFixed(0)} ms`);
    } finally {
      stop.abort();
      comm?.close();
      await server?.stop();
    }
  }
  // Context for a loaded machine: what OpenSSH's own client needs for one connection and one command.
  const server = await SshServer.start({ kind: "openssh" });
  const baseline: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      spawnSync("ssh", ["-p", String(server.port), "-i", server.clientKeyFile, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", `${server.username}@${server.host}`, "true"]);
      baseline.push(performance.now() - t);
    }
  } finally {
    await server.stop();
  }
  console.log(`SSH port open -> first provisioner command ran (upload, chmod, run; median of ${latencies.length})`);
  console.log(
    `  median ${median(latencies).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms (target < 300 ms); ` +
      `for scale, OpenSSH's "ssh host true" on this machine: ${median(baseline).toFixed(0)} ms`,
  );
}
