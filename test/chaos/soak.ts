/**
 * The soak: N builds over 5 `kiln agent` processes and 2 `kiln coordinator`s while a chaos loop kills (SIGKILL, with
 * the processes they started) and restarts agents and one of the coordinators at random. It stops by itself once every
 * build it submitted is terminal, or at its deadline, and reports what it saw. Used by test/chaos/soak.test.ts (a
 * bounded N for CI) and by `npm run bench` (KILN_BENCH_ONLY=chaos).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connectFarm, FarmStore, NatsServer, openFarm, TERMINAL_BUILD_STATES } from "../../core/src/mod.js";
import type { BuildStatus__Output } from "../../proto/src/mod.js";
import { CoordinatorConnection } from "../../cli/src/mod.js";
import { packBundle } from "../../cli/src/bundle.js";
import { seededRandom, tempDir } from "../src/mod.js";
import { readMarks, startAgent, startCoordinator, writeMarkingProject, type CoordinatorProcess, type KilnDaemon } from "./support.js";

export interface SoakOptions {
  builds: number;
  /** Builds the soak runs at once. @default 8 */
  concurrency?: number;
  /** The soak gives up waiting after this long. */
  deadlineMs: number;
  /** @default 1 */
  seed?: number;
  /** Time between two chaos actions, at random between the bounds. @default [1500, 3000] ms */
  chaosEveryMs?: [number, number];
}

export interface SoakReport {
  submitted: number;
  /** Builds the farm knows (a submission whose answer was lost to a killed coordinator still counts). */
  known: number;
  succeeded: number;
  /** Builds that ended failed, each with its jobs' error codes. */
  failed: { id: string; codes: string[] }[];
  /** Builds not terminal at the deadline, or submitted and missing from the farm. */
  lost: number;
  /** Jobs whose recorded result (manifest entry) appears more than once in their build's output. */
  duplicateRecorded: number;
  /** Jobs whose side effect ran to completion on more than one attempt (an agent died after the script, before its result). */
  duplicateSideEffects: number;
  agentKills: number;
  coordinatorKills: number;
  elapsedMs: number;
  log: string[];
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const random = seededRandom(options.seed ?? 1);
  const started = Date.now();
  const work = await tempDir("kiln-soak-");
  const nats = await NatsServer.start();
  const nc = await connectFarm({ servers: nats.url });
  const store = new FarmStore((await openFarm(nc)).builds);
  const log: string[] = [];
  const agents = new Map<string, KilnDaemon>();
  const coordinators: CoordinatorProcess[] = [];
  const clients: CoordinatorConnection[] = [];
  let stopChaos = false;
  let chaos: Promise<void> = Promise.resolve();
  let agentKills = 0;
  let coordinatorKills = 0;
  try {
    const names = ["a1", "a2", "a3", "a4", "a5"];
    // Started side by side: each is a Node.js process that takes a few seconds to boot on a loaded machine.
    const starting = names.map(async (name) => agents.set(name, await startAgent(nats.url, name, work.dir, { slots: 2 })));
    coordinators.push(...(await Promise.all([startCoordinator(nats.url, work.dir), startCoordinator(nats.url, work.dir)])));
    await Promise.all(starting);
    const marks = path.join(work.dir, "marks.log");
    const project = path.join(work.dir, "project");
    await writeMarkingProject(project, { builds: ["s1", "s2"], marks, seconds: 0.5 });
    const bundle = await packBundle(project);
    const templateJson = await readFile(path.join(project, "template.json"), "utf8");

    // The chaos loop: kill an agent (it comes back a second later), or kill the second coordinator and restart it on
    // its address. At least three agents stay up.
    chaos = (async () => {
      const [lo, hi] = options.chaosEveryMs ?? [1_500, 3_000];
      while (!stopChaos) {
        await sleep(lo + random() * (hi - lo));
        if (stopChaos) break;
        if (random() < 0.75) {
          const name = names[Math.floor(random() * names.length)] ?? "a1";
          const victim = agents.get(name);
          if (!victim || [...agents.values()].filter((a) => a.alive).length <= 3) continue;
          await victim.kill9();
          agentKills++;
          log.push(`${Date.now() - started} ms: killed agent ${name}`);
          await sleep(1_000);
          agents.set(name, await startAgent(nats.url, name, work.dir, { slots: 2 }));
        } else {
          const victim = coordinators[1];
          if (!victim) continue;
          await victim.daemon.kill9();
          coordinatorKills++;
          log.push(`${Date.now() - started} ms: killed coordinator ${victim.address}`);
          await sleep(500);
          coordinators[1] = await startCoordinator(nats.url, work.dir, { listen: victim.address });
        }
      }
    })();

    // Submit through either coordinator; a submission that fails (its coordinator was killed) goes to the other one.
    for (const c of coordinators) clients.push(new CoordinatorConnection(c.address));
    const ids: string[] = [];
    let next = 0;
    const submitOne = async (): Promise<void> => {
      const n = next++;
      for (let attempt = 0; ; attempt++) {
        const client = clients[(n + attempt) % clients.length] as CoordinatorConnection;
        try {
          const status = await client.submit({ template_json: templateJson, template_name: `soak-${n}`, bundle, bundle_template_path: "template.json" });
          ids.push(status.build?.id ?? "");
          return;
        } catch (err) {
          if (attempt > 20) throw err;
          await sleep(250);
        }
      }
    };
    const waitTerminal = async (id: string): Promise<void> => {
      while (Date.now() - started < options.deadlineMs) {
        const b = await store.getBuild(id).catch(() => null);
        if (b && TERMINAL_BUILD_STATES.has(b.state)) return;
        await sleep(200);
      }
    };
    const concurrency = options.concurrency ?? 8;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < options.builds && Date.now() - started < options.deadlineMs) {
          await submitOne();
          await waitTerminal(ids[ids.length - 1] ?? "");
        }
      }),
    );
    stopChaos = true;
    await chaos;

    // What the farm holds: every build, terminal or not.
    const all = await store.listBuildIds();
    const statuses: BuildStatus__Output[] = await Promise.all(all.map((id) => store.status(id)));
    const terminal = statuses.filter((s) => TERMINAL_BUILD_STATES.has(s.build?.state ?? ""));
    const missing = ids.filter((id) => !all.includes(id)).length;
    let duplicateRecorded = 0;
    for (const s of statuses) {
      const manifest = s.build?.output_files.find((f) => f.path === "manifest.json");
      if (!manifest) continue;
      const names = (JSON.parse(Buffer.from(manifest.content).toString()) as { builds: { name: string }[] }).builds.map((b) => b.name);
      duplicateRecorded += names.length - new Set(names).size;
    }
    const doneByJob = new Map<string, number>();
    for (const m of (await readMarks(marks)).filter((x) => x.kind === "done")) {
      const key = m.workspace.split("/").slice(-2).join("/"); // <build id>/<job id>
      doneByJob.set(key, (doneByJob.get(key) ?? 0) + 1);
    }
    return {
      submitted: ids.length,
      known: all.length,
      succeeded: terminal.filter((s) => s.build?.state === "BUILD_STATE_SUCCEEDED").length,
      failed: terminal
        .filter((s) => s.build?.state !== "BUILD_STATE_SUCCEEDED")
        .map((s) => ({ id: s.build?.id ?? "", codes: s.jobs.map((j) => j.failure?.code ?? j.state) })),
      lost: statuses.length - terminal.length + missing,
      duplicateRecorded,
      duplicateSideEffects: [...doneByJob.values()].filter((n) => n > 1).length,
      agentKills,
      coordinatorKills,
      elapsedMs: Date.now() - started,
      log,
    };
  } finally {
    stopChaos = true;
    await chaos.catch(() => undefined);
    for (const c of clients) c.close();
    await Promise.all([...agents.values(), ...coordinators.map((c) => c.daemon)].map((d) => d.stop(5_000)));
    await nc.close();
    await nats.stop();
    await work.cleanup();
  }
}
