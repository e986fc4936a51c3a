/**
 * Helpers for the desktop-hypervisor builder tests (virtualbox_builder.test.ts, vmware_builder.test.ts): the corpus
 * templates with their variables bound to local files, a TCP forward that plays the hypervisor's NAT port forward
 * (so the "guest" answering SSH is the harness's real sshd), and a minimal RFB server that plays VMware's VNC
 * server and records the key events it receives.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURES = path.join(here, "fixtures", "desktop");
export const CORPUS = path.resolve(here, "..", "..", process.env["KILN_CORPUS"] ?? "../shared/corpus");

type Json = Record<string, unknown>;

/** A corpus template, parsed. */
export function corpusTemplate(relative: string): Json {
  return JSON.parse(readFileSync(path.join(CORPUS, "templates", relative), "utf8")) as Json;
}

/**
 * The template's variables with `overrides` applied; defaults that are templates themselves ({{env}}, {{isotime}},
 * {{template_dir}}) become "" unless overridden, since the test plans the job without the template engine's
 * variable pass.
 */
export function boundVariables(template: Json, overrides: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((template.variables as Json | undefined) ?? {})) out[k] = typeof v === "string" && !v.includes("{{") ? v : "";
  return { ...out, ...overrides };
}

/** A TCP forward from 127.0.0.1:`listenPort` to 127.0.0.1:`targetPort` (what VirtualBox's NAT rule does). */
export class PortForward {
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: net.Server) {}

  static async start(listenPort: number, targetPort: number): Promise<PortForward> {
    const server = net.createServer();
    const fwd = new PortForward(server);
    server.on("connection", (a) => {
      const b = net.connect(targetPort, "127.0.0.1");
      fwd.sockets.add(a).add(b);
      a.pipe(b).pipe(a);
      const close = (): void => {
        a.destroy();
        b.destroy();
      };
      a.on("error", close).on("close", close);
      b.on("error", close).on("close", close);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(listenPort, "127.0.0.1", resolve);
    });
    return fwd;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** One key event a VNC client sent. */
export interface RecordedKey {
  readonly keysym: number;
  readonly down: boolean;
}

/** RFB 3.8 server, security None, that records KeyEvent messages (what VMware's VNC server receives). */
export class RecordingVncServer {
  readonly keys: RecordedKey[] = [];
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: net.Server) {}

  static async start(port: number, host = "127.0.0.1"): Promise<RecordingVncServer> {
    const server = net.createServer();
    const vnc = new RecordingVncServer(server);
    server.on("connection", (s) => vnc.serve(s));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, resolve);
    });
    return vnc;
  }

  private serve(s: net.Socket): void {
    this.sockets.add(s);
    s.on("error", () => s.destroy());
    let buf = Buffer.alloc(0);
    let phase: "version" | "security" | "init" | "messages" = "version";
    s.write("RFB 003.008\n");
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (phase === "version" && buf.length >= 12) {
          buf = buf.subarray(12);
          s.write(Buffer.from([1, 1])); // one security type: None
          phase = "security";
        } else if (phase === "security" && buf.length >= 1) {
          buf = buf.subarray(1);
          s.write(Buffer.from([0, 0, 0, 0])); // SecurityResult OK
          phase = "init";
        } else if (phase === "init" && buf.length >= 1) {
          buf = buf.subarray(1);
          const name = Buffer.from("kiln-test");
          const init = Buffer.alloc(24);
          init.writeUInt16BE(640, 0);
          init.writeUInt16BE(480, 2);
          init.writeUInt32BE(name.length, 20);
          s.write(Buffer.concat([init, name]));
          phase = "messages";
        } else if (phase === "messages" && buf.length >= 8 && buf[0] === 4) {
          this.keys.push({ keysym: buf.readUInt32BE(4), down: buf[1] === 1 });
          buf = buf.subarray(8);
        } else break;
      }
    });
  }

  /** The typed text, reconstructed: printable keysyms with shift applied, special keys as <name>. */
  typed(): string {
    const names: Record<number, string> = { 0xff0d: "<enter>", 0xff1b: "<esc>", 0xff09: "<tab>", 0xff08: "<bs>" };
    const shifted: Record<string, string> = { ";": ":", "/": "?", "-": "_", "'": '"', "=": "+", "1": "!", "\\": "|", ",": "<", ".": ">" };
    let shift = false;
    let out = "";
    for (const k of this.keys) {
      if (k.keysym === 0xffe1) shift = k.down;
      else if (k.down) {
        const ch = k.keysym < 0x7f ? String.fromCharCode(k.keysym) : (names[k.keysym] ?? `<0x${k.keysym.toString(16)}>`);
        out += shift ? (shifted[ch] ?? ch.toUpperCase()) : ch;
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
