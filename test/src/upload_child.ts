/**
 * A process that uploads a file into a directory store and dies abruptly (SIGKILL, no cleanup) once `dieAfter` bytes
 * are stored: what a crashed agent leaves behind mid-upload. Usage: upload_child.ts STORE_DIR FILE KEY DIE_AFTER
 */
import { DirectoryStore, uploadResumable } from "../../core/src/mod.js";

const [storeDir, file, key, dieAfter] = process.argv.slice(2);
if (!storeDir || !file || !key || !dieAfter) throw new Error("usage: upload_child.ts STORE_DIR FILE KEY DIE_AFTER");
await uploadResumable(new DirectoryStore(storeDir), file, key, new AbortController().signal, {
  onProgress: (stored) => {
    if (stored >= Number(dieAfter)) process.kill(process.pid, "SIGKILL");
  },
});
