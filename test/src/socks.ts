/**
 * A private SOCKS5 proxy for tests: Debian's microsocks on a free 127.0.0.1 port, optionally with a username and
 * password. `stop()` kills it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { freePort } from "./sshd.js";

export const MICROSOCKS = "/usr/bin/microsocks";

export interface SocksProxyOptions {
  readonly username?: string;
  readonly password?: string;
}

export class SocksProxy implements AsyncDisposable {
  readonly host = "127.0.0.1";

  private constructor(
    readonly port: number,
    private readonly proc: ChildProcess,
    private readonly output: () => string,
  ) {}

  static async start(options: SocksProxyOptions = {}): Promise<SocksProxy> {
    if (!existsSync(MICROSOCKS)) throw new Error(`${MICROSOCKS} is missing: install the Debian package microsocks`);
    const port = await freePort();
    const auth = options.username !== undefined ? ["-u", options.username, "-P", options.password ?? ""] : [];
    const proc = spawn(MICROSOCKS, ["-i", "127.0.0.1", "-p", String(port), ...auth], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    const proxy = new SocksProxy(port, proc, () => out);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`microsocks exited with ${proc.exitCode}: ${out}`);
      const up = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, "127.0.0.1");
        s.once("connect", () => {
          s.destroy();
          resolve(true);
        });
        s.once("error", () => resolve(false));
      });
      if (up) return proxy;
      if (Date.now() > deadline) {
        await proxy.stop();
        throw new Error(`microsocks did not listen on port ${port}: ${out}`);
      }
      await new Promise((r) => setTimeout(r, 30));
    }
  }

  /** What microsocks printed (one line per proxied connection). */
  get log(): string {
    return this.output();
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once("exit", () => resolve()));
    p.kill("SIGTERM");
    const timer = setTimeout(() => p.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
