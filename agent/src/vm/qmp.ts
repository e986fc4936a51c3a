/**
 * A minimal QMP (QEMU Machine Protocol) client over a unix socket: the greeting, `qmp_capabilities`, then commands
 * one at a time (QMP answers in order). Events are recorded, not acted on. Used to type `boot_command`
 * (`input-send-event`), power the VM off and quit QEMU.
 */
import net from "node:net";
import { BuildFailedError } from "../../../core/src/mod.js";
import { qmpKeyEvents, type BootAction } from "./boot_command.js";
import { sleep } from "../util/abort.js";

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class QmpClient {
  private buffer = "";
  private readonly pending: Pending[] = [];
  private closed = false;
  /** Event names QEMU sent (`SHUTDOWN`, `POWERDOWN`, ...). */
  readonly events: string[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("close", () => this.fail(new BuildFailedError("QMP connection closed")));
    socket.on("error", (err) => this.fail(new BuildFailedError(`QMP: ${err.message}`, { cause: err })));
  }

  /** Connects and negotiates capabilities. @throws BuildFailedError when the socket does not answer as QMP */
  static async connect(socketPath: string): Promise<QmpClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(socketPath);
      s.once("connect", () => resolve(s));
      s.once("error", reject);
    });
    const client = new QmpClient(socket);
    await client.next(); // the greeting
    await client.execute("qmp_capabilities");
    return client;
  }

  /** Runs a command; resolves with its `return`. @throws BuildFailedError with QEMU's error description */
  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const reply = this.next();
    this.socket.write(`${JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args })}\n`);
    return reply;
  }

  /** Types parsed boot command actions, `keyIntervalMs` after each key. */
  async type(actions: readonly BootAction[], keyIntervalMs: number, signal: AbortSignal): Promise<void> {
    for (const action of actions) {
      switch (action.type) {
        case "wait":
          await sleep(action.ms, signal);
          continue;
        case "tap":
          await this.execute("input-send-event", { events: qmpKeyEvents(action.keys, true) });
          await this.execute("input-send-event", { events: qmpKeyEvents([...action.keys].reverse(), false) });
          break;
        case "down":
        case "up":
          await this.execute("input-send-event", { events: qmpKeyEvents([action.key], action.type === "down") });
          break;
      }
      await sleep(keyIntervalMs, signal);
    }
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private next(): Promise<unknown> {
    if (this.closed) return Promise.reject(new BuildFailedError("QMP connection closed"));
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line === "") continue;
      let msg: { event?: string; return?: unknown; error?: { desc?: string }; QMP?: unknown };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        continue;
      }
      if (msg.event !== undefined) {
        this.events.push(msg.event);
        continue;
      }
      const waiter = this.pending.shift();
      if (waiter === undefined) continue;
      if (msg.error !== undefined) waiter.reject(new BuildFailedError(`QMP: ${msg.error.desc ?? "error"}`));
      else waiter.resolve(msg.return ?? msg.QMP);
    }
  }

  private fail(err: Error): void {
    this.closed = true;
    for (const p of this.pending.splice(0)) p.reject(err);
  }
}
