#!/usr/bin/env node
// The installed `kiln` executable: runs the CLI with the process's arguments and exits with its code.
import { setupTelemetry } from "../../core/src/mod.js";
import { describeFailure, main } from "./main.js";

const shutdownTelemetry = await setupTelemetry("kiln");
main(process.argv.slice(2), {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
}).then(
  async (code) => {
    await shutdownTelemetry().catch(() => undefined);
    process.exitCode = code;
    // gRPC and NATS keep handles open briefly after close; the command's work is done.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (err: unknown) => {
    process.stderr.write(describeFailure(err));
    process.exit(1);
  },
);
