/**
 * A TCP proxy on an ephemeral loopback port for fault injection: it forwards every connection to a target, counts
 * the bytes sent upstream (client → target), and can cut every connection at once, refuse new ones for a while, stall
 * every connection (nothing forwarded, nothing closed), or flip one byte of the upstream traffic in passing (a
 * corrupted chunk on the wire).
 */
import net from "node:net";

export class TcpProxy implements AsyncDisposable {
  /** Bytes forwarded from clients to the target, over every connection so far. */
  upstreamBytes = 0;
  private readonly sockets = new Set<net.Socket>();
  private refusing = false;
  private stalled = false;
  private triggers: { at: number; fire: () => void }[] = [];
  private corruptAt: number | undefined;
  /** Whether a planned corruption happened. */
  corrupted = false;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
    server.on("connection", (client) => proxy.accept(client, targetPort, targetHost));
    return proxy;
  }

  private accept(client: net.Socket, targetPort: number, targetHost: string): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.on("data", (data: Buffer) => {
      const start = this.upstreamBytes;
      this.upstreamBytes += data.length;
      if (this.corruptAt !== undefined && this.corruptAt >= start && this.corruptAt < this.upstreamBytes) {
        const i = this.corruptAt - start;
        data[i] = (data[i] ?? 0) ^ 0xff;
        this.corruptAt = undefined;
        this.corrupted = true;
      }
      if (!upstream.write(data)) client.pause();
      const due = this.triggers.filter((t) => t.at <= this.upstreamBytes);
      this.triggers = this.triggers.filter((t) => t.at > this.upstreamBytes);
      for (const t of due) t.fire();
    });
    upstream.on("drain", () => {
      if (!this.stalled) client.resume();
    });
    upstream.on("data", (data: Buffer) => {
      if (!client.write(data)) upstream.pause();
    });
    client.on("drain", () => {
      if (!this.stalled) upstream.resume();
    });
  }

  /** Runs `fire` once the upstream byte count reaches `bytes`. */
  when(bytes: number, fire: () => void): void {
    this.triggers.push({ at: bytes, fire });
  }

  /** Flips the upstream byte at absolute position `bytes` (counted like `upstreamBytes`). */
  corrupt(bytes: number): void {
    this.corruptAt = bytes;
  }

  /** Destroys every open connection and refuses new ones for `refuseMs`. */
  cut(refuseMs: number): void {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    setTimeout(() => (this.refusing = false), refuseMs).unref();
  }

  /** Stops forwarding in both directions on every open connection, without closing any: a peer that hangs. */
  stall(): void {
    this.stalled = true;
    for (const s of this.sockets) s.pause();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
