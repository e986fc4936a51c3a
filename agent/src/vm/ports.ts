/**
 * Free TCP ports in a range for things another process binds (QEMU's `hostfwd` and VNC server). A port is checked
 * by binding it, then held in a process-wide reservation until released, so concurrent jobs on one agent never get
 * the same port; another process may still take it between the check and QEMU's bind, which callers handle by
 * retrying with a new port.
 */
import net from "node:net";
import { BuildFailedError } from "../../../core/src/mod.js";

const reserved = new Set<number>();

/** A reserved port; `release()` is idempotent. */
export interface PortReservation {
  readonly port: number;
  release(): void;
}

/**
 * Reserves a free port in `min..max` on `host`, starting at a random offset.
 * @throws BuildFailedError naming the option range when none is free
 */
export async function reservePort(min: number, max: number, host: string, what: string): Promise<PortReservation> {
  const span = max - min + 1;
  const offset = Math.floor(Math.random() * span);
  for (let n = 0; n < span; n++) {
    const port = min + ((offset + n) % span);
    if (reserved.has(port)) continue;
    reserved.add(port);
    if (await canBind(port, host)) {
      let held = true;
      return {
        port,
        release() {
          if (held) reserved.delete(port);
          held = false;
        },
      };
    }
    reserved.delete(port);
  }
  throw new BuildFailedError(`no free port for ${what} in ${min}-${max} on ${host}: widen the ${what} range`);
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
