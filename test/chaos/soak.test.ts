/**
 * The soak under chaos (see soak.ts): every build ends terminal, none is lost, none records a job twice. CI runs a
 * bounded number of builds (KILN_CHAOS_SOAK_BUILDS, default 30); the 500 is `KILN_CHAOS_SOAK_BUILDS=500`.
 */
import { describe, expect, it } from "vitest";
import { runSoak } from "./soak.js";

const BUILDS = Number(process.env["KILN_CHAOS_SOAK_BUILDS"] ?? 30);
const DEADLINE_MS = Number(process.env["KILN_CHAOS_SOAK_DEADLINE_MS"] ?? 120_000);

describe("chaos - soak", () => {
  it(`runs ${BUILDS} builds to a terminal state while agents and a coordinator are killed at random`, async () => {
    const report = await runSoak({ builds: BUILDS, deadlineMs: DEADLINE_MS, seed: 7 });
    const summary = JSON.stringify({ ...report, log: report.log.slice(-20) }, null, 2);
    console.log(`soak report: ${summary}`);
    expect(report.submitted, summary).toBe(BUILDS);
    expect(report.lost, summary).toBe(0);
    expect(report.known, summary).toBeGreaterThanOrEqual(BUILDS);
    expect(report.duplicateRecorded, summary).toBe(0);
    // A job fails only when agents die under it more often than its attempt limit allows, and then says so.
    for (const f of report.failed) expect(f.codes.filter((c) => c !== "JOB_STATE_SUCCEEDED"), summary).toContain("ERROR_CODE_AGENT_LOST");
    expect(report.agentKills + report.coordinatorKills, summary).toBeGreaterThan(0);
  }, DEADLINE_MS + 60_000);
});
