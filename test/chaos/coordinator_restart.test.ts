/**
 * The coordinator is killed (SIGKILL) and restarted on its address while `kiln build --coordinator` and
 * `kiln logs -f` follow a two-job build, one of whose jobs fails: both CLIs show every line of both jobs once and
 * in order, and `kiln build` exits 1 as the failed build demands.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NatsServer } from "../../core/src/mod.js";
import { runKiln, tempDir, type ProcessResult } from "../src/mod.js";
import { dumpDaemons, startAgent, startCoordinator, waitFor, type KilnDaemon } from "./support.js";

const TICKS = 12;

/** The job's lines as a CLI showed them, in order. */
function ticksOf(stdout: string, job: string): string[] {
  // kiln logs prefixes each line with its time.
  return stdout
    .split("\n")
    .map((l) => new RegExp(`(?:^|\\s)(${job}: tick-\\d+)$`).exec(l.trimEnd())?.[1])
    .filter((l): l is string => l !== undefined);
}

describe("chaos - coordinator killed mid-build", () => {
  let nats: NatsServer;
  let work: { dir: string; cleanup: () => Promise<void> };
  const daemons: KilnDaemon[] = [];

  beforeEach(async () => {
    nats = await NatsServer.start();
    work = await tempDir("kiln-chaos-coord-");
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail") console.error(dumpDaemons(daemons));
    await Promise.all(daemons.map((d) => d.stop()));
    daemons.length = 0;
    await nats.stop();
    await work.cleanup();
  });

  it("keeps kiln build and kiln logs -f gapless through a coordinator restart, and exits 1 for the failed job", async () => {
    const first = await startCoordinator(nats.url, work.dir);
    daemons.push(first.daemon);
    for (const name of ["alpha", "beta"]) daemons.push(await startAgent(nats.url, name, work.dir));
    // Each job ticks, waits after tick 3 until the test has restarted the coordinator, then ticks on.
    const gate = path.join(work.dir, "go");
    const ticks = (exit: number): string[] => [
      `for i in $(seq 1 ${TICKS}); do echo tick-$i; if [ $i = 3 ]; then while [ ! -e ${gate} ]; do sleep 0.1; done; fi; sleep 0.1; done`,
      `exit ${exit}`,
    ];
    await writeFile(
      path.join(work.dir, "template.json"),
      JSON.stringify({
        builders: [
          { type: "null", name: "good", communicator: "none" },
          { type: "null", name: "bad", communicator: "none" },
        ],
        provisioners: [
          { type: "shell-local", inline: ticks(0), only: ["good"] },
          { type: "shell-local", inline: ticks(3), only: ["bad"] },
        ],
      }),
    );

    let buildOut = "";
    const build = runKiln(["build", "-color=false", "--coordinator", first.address, "template.json"], {
      cwd: work.dir,
      timeoutMs: 120_000,
      onStdout: (o) => (buildOut = o),
    });
    await waitFor("the first ticks", () => buildOut.includes("tick-1"));
    const list = JSON.parse((await runKiln(["builds", "--json", "--coordinator", first.address], { cwd: work.dir })).stdout) as { id: string }[];
    const buildId = list[0]?.id ?? "";
    let logsOut = "";
    const logs: Promise<ProcessResult> = runKiln(["logs", "-f", "-color=false", "--coordinator", first.address, buildId], {
      cwd: work.dir,
      timeoutMs: 120_000,
      onStdout: (o) => (logsOut = o),
    });
    await waitFor("kiln logs to catch up", () => logsOut.includes("tick-3") && buildOut.includes("tick-3"));

    await first.daemon.kill9();
    await sleep(1_500);
    const second = await startCoordinator(nats.url, work.dir, { listen: first.address });
    daemons.push(second.daemon);
    await writeFile(gate, "");

    const [built, followed] = await Promise.all([build, logs]);
    const expected = (job: string): string[] => Array.from({ length: TICKS }, (_, i) => `${job}: tick-${i + 1}`);
    for (const [what, out] of [["kiln build", built.stdout], ["kiln logs -f", followed.stdout]] as const) {
      expect(ticksOf(out, "good"), `${what}:\n${out}`).toEqual(expected("good"));
      expect(ticksOf(out, "bad"), `${what}:\n${out}`).toEqual(expected("bad"));
    }
    expect(built.code, built.stdout + built.stderr).toBe(1);
    expect(built.stderr).toMatch(/reconnected after \d+\.\d s/);
    expect(built.stdout).toMatch(/Build 'bad' errored/);
    expect(built.stdout).not.toMatch(/Build 'good' errored/);
    expect(followed.code, followed.stderr).toBe(0);
  }, 180_000);
});
