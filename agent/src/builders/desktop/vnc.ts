/**
 * A minimal RFB (VNC, RFC 6143) client: enough to type a boot command into VMware's built-in VNC server —
 * ProtocolVersion 3.8, security type None, ClientInit (shared), ServerInit, then KeyEvent messages.
 */
import net from "node:net";
import { BuildFailedError } from "../../../../core/src/mod.js";
import { cancellationOf } from "../../util/abort.js";

/** An open RFB session. */
export class VncClient {
  private constructor(private readonly socket: net.Socket) {}

  /** Connects and completes the handshake. @throws BuildFailedError when the server wants a password or closes */
  static async connect(host: string, port: number, signal: AbortSignal): Promise<VncClient> {
    const socket = net.connect({ host, port });
    const reader = new SocketReader(socket, signal);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      const version = (await reader.read(12)).toString("latin1");
      if (!/^RFB 003\.00[78]\n$/.test(version)) throw new BuildFailedError(`VNC server at ${host}:${port} speaks ${JSON.stringify(version)}; kiln needs RFB 3.7 or 3.8`);
      socket.write(version);
      const count = (await reader.read(1)).readUInt8(0);
      if (count === 0) {
        const len = (await reader.read(4)).readUInt32BE(0);
        throw new BuildFailedError(`VNC server refused the connection: ${(await reader.read(len)).toString("utf8")}`);
      }
      const types = [...(await reader.read(count))];
      if (!types.includes(1)) throw new BuildFailedError(`VNC server at ${host}:${port} requires a password (security types ${types.join(",")}); kiln connects without one`);
      socket.write(Buffer.from([1]));
      if (version.endsWith("8\n")) {
        const result = (await reader.read(4)).readUInt32BE(0);
        if (result !== 0) throw new BuildFailedError(`VNC security handshake failed (${result})`);
      }
      socket.write(Buffer.from([1])); // ClientInit: shared
      const init = await reader.read(24);
      await reader.read(init.readUInt32BE(20)); // the desktop name
      reader.detach();
      return new VncClient(socket);
    } catch (err) {
      socket.destroy();
      if (signal.aborted) throw cancellationOf(signal);
      if (err instanceof BuildFailedError) throw err;
      throw new BuildFailedError(`cannot connect to the VM's VNC server at ${host}:${port}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /** Sends one KeyEvent. */
  async key(keysym: number, down: boolean): Promise<void> {
    const msg = Buffer.alloc(8);
    msg.writeUInt8(4, 0);
    msg.writeUInt8(down ? 1 : 0, 1);
    msg.writeUInt32BE(keysym, 4);
    await new Promise<void>((resolve, reject) => this.socket.write(msg, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Reads exact byte counts from a socket, failing on close or abort. */
class SocketReader {
  private buffered = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;
  private readonly onData = (d: Buffer): void => {
    this.buffered = Buffer.concat([this.buffered, d]);
    this.waiter?.();
  };
  private readonly onEnd = (): void => {
    this.ended ??= new Error("the VNC server closed the connection");
    this.waiter?.();
  };

  constructor(
    private readonly socket: net.Socket,
    private readonly signal: AbortSignal,
  ) {
    socket.on("data", this.onData);
    socket.on("close", this.onEnd);
    socket.on("error", (e) => {
      this.ended ??= e;
      this.waiter?.();
    });
  }

  async read(n: number): Promise<Buffer> {
    while (this.buffered.length < n) {
      if (this.signal.aborted) throw cancellationOf(this.signal);
      if (this.ended !== undefined) throw this.ended;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        this.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      this.waiter = undefined;
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  detach(): void {
    this.socket.off("data", this.onData);
    this.socket.off("close", this.onEnd);
  }
}
