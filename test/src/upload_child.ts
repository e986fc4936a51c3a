/**
 * A process that uploads a file into an artifact store and dies abruptly (SIGKILL, no cleanup) once `dieAfter` bytes
 * are stored: what a crashed agent leaves behind mid-upload. DIE_AFTER `complete`: it dies once the upload completed,
 * as an agent that stored the whole file and died before reporting it. Usage: upload_child.ts STORE FILE KEY
 * DIE_AFTER, where STORE is a directory, `nats://HOST:PORT` (the JetStream object store there), or an S3 store config
 * as JSON.
 */
import { jetstream } from "@nats-io/jetstream";
import { DirectoryStore, NatsObjectStore, S3Store, connectFarm, uploadResumable, type ArtifactStore } from "../../core/src/mod.js";

const [spec, file, key, dieAfter] = process.argv.slice(2);
if (!spec || !file || !key || !dieAfter) throw new Error("usage: upload_child.ts STORE FILE KEY DIE_AFTER");
let store: ArtifactStore;
if (spec.startsWith("nats://")) store = await NatsObjectStore.open(jetstream(await connectFarm({ servers: spec })));
else if (spec.startsWith("{")) store = await S3Store.open(JSON.parse(spec) as Parameters<typeof S3Store.open>[0]);
else store = new DirectoryStore(spec);
await uploadResumable(store, file, key, new AbortController().signal, {
  onProgress: (stored) => {
    if (stored >= Number(dieAfter)) process.kill(process.pid, "SIGKILL");
  },
});
if (dieAfter === "complete") process.kill(process.pid, "SIGKILL");
