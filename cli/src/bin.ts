#!/usr/bin/env node
// The installed `kiln` executable: runs the CLI with the process's arguments and exits with its code.
import { setupTelemetry } from "../../core/src/mod.js";
import { describeFailure, main } from "./main.js";

/**
 * A reader that went away (`kiln build | head`, a log collector that died) is a hang-up, not a crash: output to that
 * stream is dropped from then on, and the process is told SIGINT once, as Ctrl-C would — a build in progress is
 * cancelled and cleaned up, the embedded farm (its nats-server, its temp dirs) stopped. Unhandled, the EPIPE killed
 * kiln with a stack trace and left the embedded nats-server running. A command without an interrupt handler goes on.
 */
const gone = new Set<NodeJS.WriteStream>();
function writer(stream: NodeJS.WriteStream): (text: string) => void {
  stream.on("error", () => {
    if (gone.has(stream)) return;
    gone.add(stream);
    if (gone.size > 1) return;
    if (stream === process.stdout) process.stderr.write("kiln: standard output was closed; stopping as on Ctrl-C\n");
    process.emit("SIGINT", "SIGINT");
  });
  return (text) => {
    if (!gone.has(stream)) stream.write(text);
  };
}

const shutdownTelemetry = await setupTelemetry("kiln");
const stderr = writer(process.stderr);
main(process.argv.slice(2), {
  stdout: writer(process.stdout),
  stderr,
}).then(
  async (code) => {
    await shutdownTelemetry().catch(() => undefined);
    process.exitCode = code;
    // gRPC and NATS keep handles open briefly after close; the command's work is done.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (err: unknown) => {
    stderr(describeFailure(err));
    process.exit(1);
  },
);
