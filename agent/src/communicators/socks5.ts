/**
 * A SOCKS5 client for `ssh_proxy_*` (RFC 1928 CONNECT, with RFC 1929 username/password authentication when a
 * username is given): returns a connected socket the SSH client then speaks over.
 */
import net from "node:net";

export interface Socks5Options {
  readonly proxyHost: string;
  readonly proxyPort: number;
  readonly username?: string;
  readonly password?: string;
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

const REPLIES: Record<number, string> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
};

/** An error the proxy itself reported (or a refused login): `level` tells the retry loop it is not a socket error. */
export class Socks5Error extends Error {
  constructor(
    message: string,
    readonly level: "proxy-auth" | "proxy" | "client-socket",
  ) {
    super(message);
    this.name = "Socks5Error";
  }
}

/** Connects to `host:port` through the SOCKS5 proxy. */
export function socks5Connect(o: Socks5Options): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(o.proxyPort, o.proxyHost);
    let buf = Buffer.alloc(0);
    let stage: "method" | "auth" | "connect" = "method";
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal.removeEventListener("abort", onAbort);
      socket.removeListener("data", onData);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        resolve(socket);
      }
    };
    const onAbort = (): void => finish(o.signal.reason instanceof Error ? o.signal.reason : new Error("cancelled"));
    o.signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => finish(new Socks5Error(`SOCKS5 proxy ${o.proxyHost}:${o.proxyPort} did not answer within ${o.timeoutMs} ms`, "client-socket")), o.timeoutMs);
    const useAuth = (o.username ?? "") !== "";
    socket.once("error", (err) => finish(new Socks5Error(`SOCKS5 proxy ${o.proxyHost}:${o.proxyPort}: ${err.message}`, "client-socket")));
    socket.once("close", () => finish(new Socks5Error(`SOCKS5 proxy ${o.proxyHost}:${o.proxyPort} closed the connection during the handshake`, "proxy")));
    socket.once("connect", () => socket.write(Buffer.from(useAuth ? [5, 1, 2] : [5, 1, 0])));
    const sendConnect = (): void => {
      stage = "connect";
      const ip = net.isIP(o.host);
      const addr =
        ip === 4
          ? Buffer.from([1, ...o.host.split(".").map(Number)])
          : ip === 6
            ? Buffer.concat([Buffer.from([4]), ipv6Bytes(o.host)])
            : Buffer.concat([Buffer.from([3, Buffer.byteLength(o.host)]), Buffer.from(o.host)]);
      const port = Buffer.alloc(2);
      port.writeUInt16BE(o.port);
      socket.write(Buffer.concat([Buffer.from([5, 1, 0]), addr, port]));
    };
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (stage === "method") {
        if (buf.length < 2) return;
        const method = buf[1];
        buf = buf.subarray(2);
        if (method === 0xff || (method === 2 && !useAuth) || (method !== 0 && method !== 2)) {
          return finish(
            new Socks5Error(
              `SOCKS5 proxy ${o.proxyHost}:${o.proxyPort} accepts none of the offered authentication methods` +
                (useAuth ? "" : ": set ssh_proxy_username and ssh_proxy_password"),
              "proxy-auth",
            ),
          );
        }
        if (method === 2) {
          stage = "auth";
          const u = Buffer.from(o.username ?? "");
          const p = Buffer.from(o.password ?? "");
          socket.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]));
        } else sendConnect();
      } else if (stage === "auth") {
        if (buf.length < 2) return;
        const status = buf[1];
        buf = buf.subarray(2);
        if (status !== 0) {
          return finish(new Socks5Error(`SOCKS5 proxy ${o.proxyHost}:${o.proxyPort} refused the login; check ssh_proxy_username and ssh_proxy_password`, "proxy-auth"));
        }
        sendConnect();
      } else {
        if (buf.length < 5) return;
        const rep = buf[1] ?? 1;
        if (rep !== 0) {
          return finish(new Socks5Error(`SOCKS5 proxy ${o.proxyHost}:${o.proxyPort} could not connect to ${o.host}:${o.port}: ${REPLIES[rep] ?? `reply ${rep}`}`, "proxy"));
        }
        const atyp = buf[3];
        const len = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + (buf[4] ?? 0);
        if (buf.length < 4 + len + 2) return;
        const rest = buf.subarray(4 + len + 2);
        if (rest.length > 0) socket.unshift(rest);
        socket.removeAllListeners("error");
        socket.removeAllListeners("close");
        finish();
      }
    };
    socket.on("data", onData);
  });
}

function ipv6Bytes(host: string): Buffer {
  const [head = "", tail = ""] = host.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === "" ? [] : host.includes("::") ? tail.split(":") : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
