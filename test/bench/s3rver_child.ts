/**
 * s3rver in a process of its own for the artifacts benchmark, as a real S3 service is: it then does not share the
 * event loop (and the core) of the coordinator the download goes through. Prints its endpoint, stops on SIGTERM.
 */
import { S3Server } from "../src/mod.js";

const s3 = await S3Server.start();
process.once("SIGTERM", () => void s3.stop().then(() => process.exit(0)));
process.stdout.write(`${s3.endpoint}\n`);
