/**
 * One attempt at a job that dies abruptly (SIGKILL: no cleanup runs) as soon as its provisioners start, with its VM
 * created and running: what an agent that crashes mid-build leaves in vCenter. Used by vsphere_reap.test.ts.
 *
 * Usage: vsphere_crash_child.ts JOB_JSON_FILE WORK_DIR ATTEMPT
 */
import { readFile } from "node:fs/promises";
import { codecs } from "../../proto/src/mod.js";
import { runJob } from "../src/runner.js";

const [jobFile, workDir, attempt] = process.argv.slice(2);
if (jobFile === undefined || workDir === undefined || attempt === undefined) throw new Error("usage: vsphere_crash_child.ts JOB_JSON_FILE WORK_DIR ATTEMPT");
const job = codecs.Job.normalize(JSON.parse(await readFile(jobFile, "utf8")) as Parameters<typeof codecs.Job.normalize>[0]);
const outcome = await runJob(job, {
  signal: new AbortController().signal,
  workDir,
  templateDir: workDir,
  attempt: Number(attempt),
  log: (_level, text) => console.log(text),
  step: (name, finished) => {
    if (name === "provision" && !finished) process.kill(process.pid, "SIGKILL");
  },
  artifact: () => undefined,
  heartbeat: () => undefined,
});
console.log(`the attempt was not killed: it ended ${outcome.state} ${outcome.failure?.message ?? ""}`);
process.exit(1);
