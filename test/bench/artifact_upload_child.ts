/**
 * The agent's side of the artifacts benchmark, in a process of its own so its peak RSS is its own: uploads FILE under
 * KEY into the farm's artifact store (as configured in the farm at NATS_URL) the way an agent does, then prints one
 * JSON line: the upload's wall time, size, sha256 and the process's peak RSS (VmHWM).
 */
import { readFile } from "node:fs/promises";
import { jetstream } from "@nats-io/jetstream";
import { Artifacts, connectFarm } from "../../core/src/mod.js";

const [natsUrl, file, key] = process.argv.slice(2);
if (!natsUrl || !file || !key) throw new Error("usage: artifact_upload_child.ts NATS_URL FILE KEY");
const nc = await connectFarm({ servers: natsUrl });
const artifacts = await Artifacts.open(jetstream(nc));
const started = performance.now();
const result = await artifacts.uploadFile(file, key, new AbortController().signal);
const ms = performance.now() - started;
await artifacts.close();
await nc.close();
const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(await readFile("/proc/self/status", "utf8"))?.[1];
process.stdout.write(`${JSON.stringify({ ms, size: result.size, sha256: result.sha256, store: result.store, peakRss: Number(hwm) * 1024 })}\n`);
