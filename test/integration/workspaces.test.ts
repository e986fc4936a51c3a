/**
 * Job workspaces on a farm agent (`<work dir>/<build>/<job>`, the unpacked bundle): removed once the job has ended
 * (its artifacts are in the farm's store by then), kept with -on-error=abort for inspection, and, when an agent
 * starts, removed for every job whose record has ended while anything unknown to the farm is kept.
 */
import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packBundle } from "../../cli/src/bundle.js";
import type { CoordinatorConnection } from "../../cli/src/mod.js";
import type { BuildStatus__Output, JobEvent__Output } from "../../proto/src/mod.js";
import { TestFarm, tempDir, watchToEnd } from "../src/mod.js";

const TEMPLATE = JSON.stringify({
  builders: [
    { type: "file", name: "ok", content: "made", target: "out/made.txt" },
    { type: "file", name: "broken", source: "not-there.txt", target: "out/copy.txt" },
  ],
});

/** Lists `<dir>/<build>/<job>` as `build/job`; [] when the directory does not exist. */
async function workspaces(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const build of await readdir(dir).catch(() => [] as string[])) {
    for (const job of await readdir(path.join(dir, build)).catch(() => [] as string[])) found.push(`${build}/${job}`);
  }
  return found.sort();
}

describe("agent job workspaces", () => {
  let farm: TestFarm;
  let client: CoordinatorConnection;
  let project: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    farm = await TestFarm.start();
    client = await farm.addCoordinator();
    project = await tempDir("kiln-workspaces-project-");
    await writeFile(path.join(project.dir, "template.json"), TEMPLATE);
  });
  afterAll(async () => {
    await farm.stop();
    await project.cleanup();
  });

  async function submit(onError: string): Promise<{ status: BuildStatus__Output; events: JobEvent__Output[] }> {
    const submitted = await client.submit({
      template_json: TEMPLATE,
      template_name: path.join(project.dir, "template.json"),
      variables: {},
      options: { on_error: onError },
      bundle: await packBundle(project.dir),
      bundle_template_path: "template.json",
    });
    return watchToEnd(client, submitted.build?.id ?? "");
  }

  it("removes a job's workspace when it ends, keeps a failed one under -on-error=abort, and reaps ended jobs' at start", async () => {
    const workDir = path.join(farm.dir, "agents", "w1");
    await farm.addAgent({ name: "w1", builderTypes: ["file"], acceptLocalWorkspaces: false });

    const cleanup = await submit("cleanup");
    expect(cleanup.status.jobs.map((j) => `${j.name} ${j.state}`).sort()).toEqual(["broken JOB_STATE_FAILED", "ok JOB_STATE_SUCCEEDED"]);
    // Each job's workspace existed (the bundle was unpacked there) and is gone, success or failure.
    expect(await workspaces(workDir)).toEqual([]);

    const abort = await submit("abort");
    const buildId = abort.status.build?.id ?? "";
    const broken = abort.status.jobs.find((j) => j.name === "broken");
    expect(broken?.state).toBe("JOB_STATE_FAILED");
    const kept = path.join(workDir, buildId, broken?.job_id ?? "");
    expect(await workspaces(workDir)).toEqual([`${buildId}/${broken?.job_id ?? ""}`]);
    expect(abort.events.map((e) => e.log?.text)).toContain(`-on-error=abort: the job's workspace is left on agent w1 at ${kept}`);

    // The agent dies; a directory the farm knows nothing about sits next to the kept workspace.
    await farm.crashAgent("w1");
    await mkdir(path.join(workDir, "not-a-build", "not-a-job"), { recursive: true });
    await writeFile(path.join(workDir, "not-a-build", "not-a-job", "keep.txt"), "mine");
    const logs = farm.logs.length;
    await farm.addAgent({ name: "w1", builderTypes: ["file"], acceptLocalWorkspaces: false });
    expect(await workspaces(workDir)).toEqual(["not-a-build/not-a-job"]);
    expect(await readdir(workDir)).not.toContain(buildId);
    expect(farm.logs.slice(logs)).toContain(`agent w1: removed workspace ${kept} of ended job ${buildId}/${broken?.job_id ?? ""}`);
  }, 120_000);
});
