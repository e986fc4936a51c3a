/**
 * Fault-tolerance numbers (`KILN_BENCH_ONLY=chaos npm run bench`), from real processes killed with SIGKILL:
 *   1. time from an agent's death to its job running on another agent (target < 2 x ack_wait), with the farm's default
 *      lease unless KILN_BENCH_LEASE_MS says otherwise; KILN_BENCH_CHAOS_SAMPLES samples (default 3);
 *   2. a soak of KILN_BENCH_SOAK_BUILDS builds (default 100) under the chaos loop: builds lost, duplicate completions;
 *   3. the coordinator fail-over time `kiln build` sees: from the coordinator's death (restarted at once on its address)
 *      to the CLI's event stream resuming.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { JOB_ACK_WAIT_MS, NatsServer } from "../../core/src/mod.js";
import { CoordinatorConnection } from "../../cli/src/mod.js";
import { packBundle } from "../../cli/src/bundle.js";
import { runKiln, tempDir } from "../src/mod.js";
import { agentOf, readMarks, startAgent, startCoordinator, waitFor, writeMarkingProject, type KilnDaemon } from "../chaos/support.js";
import { runSoak } from "../chaos/soak.js";

const LEASE_MS = Number(process.env["KILN_BENCH_LEASE_MS"] ?? JOB_ACK_WAIT_MS);
const SAMPLES = Number(process.env["KILN_BENCH_CHAOS_SAMPLES"] ?? 3);
const SOAK_BUILDS = Number(process.env["KILN_BENCH_SOAK_BUILDS"] ?? 100);

async function agentDeathToRerun(): Promise<number[]> {
  const work = await tempDir("kiln-bench-chaos-");
  const nats = await NatsServer.start();
  const daemons: KilnDaemon[] = [];
  const client: { c?: CoordinatorConnection } = {};
  try {
    const coordinator = await startCoordinator(nats.url, work.dir);
    daemons.push(coordinator.daemon);
    const agents = new Map<string, KilnDaemon>();
    for (const name of ["alpha", "beta"]) {
      const a = await startAgent(nats.url, name, work.dir, { leaseMs: LEASE_MS });
      agents.set(name, a);
      daemons.push(a);
    }
    client.c = new CoordinatorConnection(coordinator.address);
    const samples: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const marks = path.join(work.dir, `marks-${i}.log`);
      const project = path.join(work.dir, `p${i}`);
      await writeMarkingProject(project, { builds: ["victim"], marks, seconds: 0, gate: true });
      await client.c.submit({
        template_json: await readFile(path.join(project, "template.json"), "utf8"),
        template_name: `death-${i}`,
        bundle: await packBundle(project),
        bundle_template_path: "template.json",
      });
      await waitFor("the job to start", async () => (await readMarks(marks)).length > 0, 60_000);
      const first = (await readMarks(marks))[0];
      const victimName = first ? agentOf(first) : "";
      await agents.get(victimName)?.kill9();
      const killedAt = Date.now();
      await waitFor("the job to run elsewhere", async () => (await readMarks(marks)).filter((m) => m.kind === "start").length > 1, 4 * LEASE_MS + 30_000);
      samples.push(Date.now() - killedAt);
      const second = (await readMarks(marks))[1];
      if (second) await writeFile(path.join(second.workspace, "release"), "");
      // The killed agent comes back for the next sample.
      const again = await startAgent(nats.url, victimName, work.dir, { leaseMs: LEASE_MS });
      agents.set(victimName, again);
      daemons.push(again);
    }
    return samples;
  } finally {
    client.c?.close();
    await Promise.all(daemons.map((d) => d.stop(5_000)));
    await nats.stop();
    await work.cleanup();
  }
}

async function coordinatorFailover(): Promise<{ cliSeesMs: number; cliReports: string }> {
  const work = await tempDir("kiln-bench-failover-");
  const nats = await NatsServer.start();
  const daemons: KilnDaemon[] = [];
  try {
    const first = await startCoordinator(nats.url, work.dir);
    daemons.push(first.daemon);
    daemons.push(await startAgent(nats.url, "solo", work.dir));
    const gate = path.join(work.dir, "go");
    await writeFile(
      path.join(work.dir, "t.json"),
      JSON.stringify({
        builders: [{ type: "null", name: "ticker", communicator: "none" }],
        provisioners: [{ type: "shell-local", inline: [`echo before; while [ ! -e ${gate} ]; do sleep 0.05; done; echo after`] }],
      }),
    );
    let out = "";
    let err = "";
    let resumedAt = 0;
    const build = runKiln(["build", "-color=false", "--coordinator", first.address, "t.json"], {
      cwd: work.dir,
      timeoutMs: 120_000,
      onStdout: (o) => (out = o),
      onSpawn: (c) =>
        c.stderr?.on("data", (chunk: Buffer) => {
          err += chunk.toString();
          if (!resumedAt && err.includes("reconnected after")) resumedAt = Date.now();
        }),
    });
    await waitFor("the build to run", () => out.includes("before"), 60_000);
    await first.daemon.kill9();
    const killedAt = Date.now();
    const second = await startCoordinator(nats.url, work.dir, { listen: first.address });
    daemons.push(second.daemon);
    // The CLI says it reconnected when the stream delivers again: the job goes on now and sends its next line.
    await writeFile(gate, "");
    await waitFor("the CLI to resume", () => resumedAt > 0, 60_000);
    await build;
    return { cliSeesMs: resumedAt - killedAt, cliReports: /reconnected after ([\d.]+ s)/.exec(err)?.[1] ?? "?" };
  } finally {
    await Promise.all(daemons.map((d) => d.stop(5_000)));
    await nats.stop();
    await work.cleanup();
  }
}

export async function benchChaos(): Promise<void> {
  const deaths = await agentDeathToRerun();
  const worst = Math.max(...deaths);
  console.log(`agent killed (SIGKILL) mid-job -> job running on another agent (ack_wait ${LEASE_MS} ms, ${SAMPLES} samples)`);
  console.log(`  ${deaths.map((d) => `${d} ms`).join(", ")}   worst ${worst} ms (target < ${2 * LEASE_MS} ms = 2 x ack_wait: ${worst < 2 * LEASE_MS ? "met" : "MISSED"})`);

  const soak = await runSoak({ builds: SOAK_BUILDS, deadlineMs: Math.max(300_000, SOAK_BUILDS * 3_000), seed: 11 });
  console.log(`soak: ${SOAK_BUILDS} builds over 5 agents, ${soak.agentKills} agent kills, ${soak.coordinatorKills} coordinator kills, ${(soak.elapsedMs / 1000).toFixed(0)} s`);
  console.log(`  builds lost: ${soak.lost} (target 0)   succeeded: ${soak.succeeded}   failed: ${soak.failed.length} (${soak.failed.map((f) => f.codes.join("/")).join(", ") || "-"})`);
  console.log(`  duplicate completions recorded: ${soak.duplicateRecorded} (target 0)   side effects run to completion twice: ${soak.duplicateSideEffects}`);

  const failover = await coordinatorFailover();
  console.log(`coordinator killed and restarted at once on its address: kiln build's stream resumes ${failover.cliSeesMs} ms after the kill (the CLI reports ${failover.cliReports})`);
}
