#!/usr/bin/env node
// The installed `kiln` executable: runs the CLI with the process's arguments and exits with its code.
import { describeFailure, main } from "./main.js";

main(process.argv.slice(2), {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
}).then(
  (code) => {
    process.exitCode = code;
    // gRPC and NATS keep handles open briefly after close; the command's work is done.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (err: unknown) => {
    process.stderr.write(describeFailure(err));
    process.exit(1);
  },
);
