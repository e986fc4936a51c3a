/**
 * The SSH communicator (Packer's communicator/ssh) on the `ssh2` package: connects with Packer's option names,
 * polls the guest fast (a closed port every 25-50 ms, a failed handshake every 200-300 ms) until `ssh_timeout`,
 * authenticates with the method that will succeed first, accepts a new host key and pins it for the
 * communicator's later reconnects, runs commands with their output streamed line by line, and transfers files
 * over SFTP. A command whose connection drops before it reports an exit status exits with Packer's 2300218.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, mkdir, readFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import type { Duplex } from "node:stream";
import ssh2 from "ssh2";
import type { ClientChannel, ConnectConfig, SFTPWrapper } from "ssh2";
import { BuildFailedError, HostKeyMismatchError, KilnError, type CommunicatorConfig } from "../../../core/src/mod.js";
import { socks5Connect } from "./socks5.js";
import { fingerprintPolicy, knownHostsPolicy, sha256Fingerprint, type HostKeyPolicy } from "./host_keys.js";

const { Client } = ssh2;
type Client = InstanceType<typeof Client>;

/** Packer's exit status for a command whose connection went away (`packersdk.CmdDisconnect`). */
export const CMD_DISCONNECT = 2300218;

/** The options the communicator reads (Packer's names; durations in milliseconds, as kiln compiles them). */
export interface SshOptions {
  readonly ssh_host: string;
  readonly ssh_port?: number;
  readonly ssh_username: string;
  readonly ssh_password?: string;
  readonly ssh_private_key_file?: string;
  /** A private key in memory: the build's temporary key pair (Packer's `ssh_private_key`). */
  readonly ssh_private_key?: Buffer;
  /** Milliseconds; 5m when neither this nor ssh_handshake_attempts is set. */
  readonly ssh_timeout?: number;
  readonly ssh_handshake_attempts?: number;
  /** Milliseconds; 5s by default, 0 or negative disables. */
  readonly ssh_keep_alive_interval?: number;
  /** Authenticate with the keys of the agent at $SSH_AUTH_SOCK. */
  readonly ssh_agent_auth?: boolean;
  /** Request a pseudo-terminal for commands. */
  readonly ssh_pty?: boolean;
  /** `scp` (Packer's default) or `sftp`. */
  readonly ssh_file_transfer_method?: string;
  readonly pause_before_connecting?: number;
  /** Pins the server's host key: `SHA256:…` as `ssh-keygen -lf` prints it (kiln extension). */
  readonly ssh_host_key_fingerprint?: string;
  /** Accepts only the host keys this OpenSSH known_hosts file lists for the host (kiln extension). */
  readonly ssh_known_hosts_file?: string;
  /** A bastion (jump host) the connection is forwarded through (`direct-tcpip`, like `ssh -J`). */
  readonly ssh_bastion_host?: string;
  /** 22 by default. */
  readonly ssh_bastion_port?: number;
  readonly ssh_bastion_username?: string;
  readonly ssh_bastion_password?: string;
  readonly ssh_bastion_private_key_file?: string;
  readonly ssh_bastion_agent_auth?: boolean;
  /** Answer the bastion's keyboard-interactive prompts with ssh_bastion_password (there is no terminal on a farm). */
  readonly ssh_bastion_interactive?: boolean;
  /** A SOCKS5 proxy the connection goes through. */
  readonly ssh_proxy_host?: string;
  /** 1080 by default. */
  readonly ssh_proxy_port?: number;
  readonly ssh_proxy_username?: string;
  readonly ssh_proxy_password?: string;
}

/** The communicator options of a compiled builder config; `host` is where the builder's machine listens. */
export function sshOptionsFromConfig(c: CommunicatorConfig, host: string = c.ssh_host ?? ""): SshOptions {
  return {
    ssh_host: host,
    ssh_port: c.ssh_port,
    ssh_username: c.ssh_username ?? "",
    ssh_password: c.ssh_password,
    ssh_private_key_file: c.ssh_private_key_file,
    ssh_timeout: c.ssh_timeout ?? c.ssh_wait_timeout,
    ssh_handshake_attempts: c.ssh_handshake_attempts,
    ssh_keep_alive_interval: c.ssh_keep_alive_interval,
    ssh_file_transfer_method: c.ssh_file_transfer_method,
    ssh_agent_auth: c.ssh_agent_auth,
    ssh_pty: c.ssh_pty,
    pause_before_connecting: c.pause_before_connecting,
    ssh_host_key_fingerprint: c.ssh_host_key_fingerprint,
    ssh_known_hosts_file: c.ssh_known_hosts_file,
    ssh_bastion_host: c.ssh_bastion_host,
    ssh_bastion_port: c.ssh_bastion_port,
    ssh_bastion_username: c.ssh_bastion_username,
    ssh_bastion_password: c.ssh_bastion_password,
    ssh_bastion_private_key_file: c.ssh_bastion_private_key_file,
    ssh_bastion_agent_auth: c.ssh_bastion_agent_auth,
    ssh_bastion_interactive: c.ssh_bastion_interactive,
    ssh_proxy_host: c.ssh_proxy_host,
    ssh_proxy_port: c.ssh_proxy_port,
    ssh_proxy_username: c.ssh_proxy_username,
    ssh_proxy_password: c.ssh_proxy_password,
  };
}

export interface SshConnectOptions {
  readonly signal: AbortSignal;
  /** Relative key paths resolve here. */
  readonly workDir?: string;
  /** Debug-level progress: each failed attempt's reason. */
  readonly log?: (text: string) => void;
}

export interface StartOptions {
  readonly signal: AbortSignal;
  readonly onStdout?: (line: string) => void;
  readonly onStderr?: (line: string) => void;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error("ssh: cancelled");
}

/** Splits a byte stream into lines (without the trailing newline); `flush` emits a final unterminated line. */
function lineSplitter(emit: ((line: string) => void) | undefined): { push(d: Buffer): void; flush(): void } {
  let pending = "";
  const decoder = new TextDecoder();
  return {
    push(d) {
      if (!emit) return;
      pending += decoder.decode(d, { stream: true });
      let start = 0;
      let nl: number;
      while ((nl = pending.indexOf("\n", start)) >= 0) {
        emit(pending.slice(start, nl).replace(/\r$/, ""));
        start = nl + 1;
      }
      if (start > 0) pending = pending.slice(start);
    },
    flush() {
      if (!emit) return;
      pending += decoder.decode();
      if (pending !== "") emit(pending.replace(/\r$/, ""));
      pending = "";
    },
  };
}

/** Reads and parses a private key file, naming the option in errors. */
async function readKeyFile(option: string, name: string, workDir: string | undefined): Promise<Buffer> {
  const file = path.resolve(workDir ?? process.cwd(), name);
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (err) {
    throw new BuildFailedError(`Error reading ${option} ${file}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) throw new BuildFailedError(`${option} is invalid: ${file}: ${parsed.message}`, { cause: parsed });
  return key;
}

/** An error of the hop in front of the guest (bastion or proxy), so the final message names the right options. */
interface HopError extends Error {
  level?: string;
  hop?: "bastion" | "proxy";
}

/** The guest (or the hop to it) is not reachable yet: retried until ssh_timeout, not counted as a handshake. */
function isConnectError(err: HopError): boolean {
  if (err.level === "client-socket" || err.level === "proxy") return true;
  return /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ECONNRESET|Channel open failure/i.test(err.message);
}

function isAuthFailure(err: Error): boolean {
  return (err as { level?: string }).level === "client-authentication";
}

/**
 * How long to wait before the next attempt. A refused port answers at once and costs nothing to probe again, and the
 * sooner the attempt after the guest's sshd starts listening, the sooner the build goes on: 25-50 ms (jittered so
 * that concurrent builds do not probe in lockstep). The same for a connection closed before the server said
 * anything (QEMU's user network accepts on the host while nothing listens in the guest). A server that failed the
 * handshake or the authentication gets Packer-like patience, 200-300 ms, not a hammering.
 */
function retryDelay(err: Error): number {
  const notUpYet = isConnectError(err) || /Connection lost before handshake/i.test(err.message);
  return notUpYet ? 25 + Math.floor(Math.random() * 25) : 200 + Math.floor(Math.random() * 100);
}

/** A TCP connection to host:port with Nagle off (SSH's small request/reply packets would wait for delayed ACKs). */
function tcpConnect(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const sock = net.connect({ host, port, noDelay: true });
    const finish = (err?: Error): void => {
      signal.removeEventListener("abort", onAbort);
      sock.setTimeout(0);
      sock.removeAllListeners("connect");
      sock.removeAllListeners("timeout");
      sock.removeAllListeners("error");
      if (err === undefined) return resolve(sock);
      sock.destroy();
      (err as HopError).level ??= "client-socket";
      reject(err);
    };
    const onAbort = (): void => finish(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    sock.setTimeout(timeoutMs);
    sock.once("connect", () => finish());
    sock.once("timeout", () => finish(Object.assign(new Error(`connect ETIMEDOUT ${host}:${port}`), { code: "ETIMEDOUT" })));
    sock.once("error", (err) => finish(err));
  });
}

/** ssh2's packet writer, reached through its internals for {@link nudgeAcks}; undefined when they changed shape. */
const sendPacket: ((proto: unknown, packet: Buffer) => void) | undefined = (() => {
  try {
    const utils = createRequire(import.meta.url)("ssh2/lib/protocol/utils.js") as { sendPacket?: unknown };
    return typeof utils.sendPacket === "function" ? (utils.sendPacket as (proto: unknown, packet: Buffer) => void) : undefined;
  } catch {
    return undefined;
  }
})();

interface Ssh2Internals {
  _sock?: { on(event: "data", listener: (d: Buffer) => void): void; readonly bytesWritten?: number };
  _protocol?: { _kexinit?: unknown; _packetRW?: { write?: { allocStart: number; alloc(n: number): Buffer; finalize(p: Buffer): Buffer } } };
}

/**
 * Answers each small packet from the server at once with an SSH_MSG_IGNORE, which carries the TCP ACK back.
 *
 * OpenSSH's sshd leaves Nagle on for sessions without a pty, so after a small packet (the DEBUG and hostkeys messages
 * that follow authentication, a command's first output line) its next one (the channel confirmation, the exit status)
 * waits until that packet is ACKed, and Linux delays ACKs by 40 ms when the client has nothing to send. Native
 * clients would set TCP_QUICKACK, which Node does not expose; measured on the first command after connecting, this
 * saves one or two of those 40 ms stalls. Bulk transfers arrive in large chunks, and a packet kiln answered anyway
 * carried its ACK with the answer: both are left alone. Without the ssh2 internals it needs (another ssh2
 * version), it does nothing.
 */
/**
 * Whether a connected client has the ssh2 internals {@link nudgeAcks} writes through; a test pins this so an ssh2
 * upgrade that changes them fails loudly instead of silently costing the 40 ms stalls again.
 */
export function canNudgeAcks(client: Client): boolean {
  const internals = client as unknown as Ssh2Internals;
  return (
    sendPacket !== undefined &&
    typeof internals._sock?.on === "function" &&
    typeof internals._protocol?._packetRW?.write?.alloc === "function" &&
    typeof internals._protocol._packetRW.write.finalize === "function"
  );
}

function nudgeAcks(client: Client): void {
  const internals = client as unknown as Ssh2Internals;
  const sock = internals._sock;
  if (!canNudgeAcks(client) || sendPacket === undefined || sock === undefined) return;
  let pending = false;
  sock.on("data", (d: Buffer) => {
    if (pending || d.length > 1024) return;
    pending = true;
    const written = sock.bytesWritten;
    setImmediate(() => {
      pending = false;
      // Whatever kiln sent in reply (an ack of scp, the next SFTP request) carried the ACK already.
      if (sock.bytesWritten !== written) return;
      const proto = internals._protocol;
      const w = proto?._packetRW?.write;
      // Never during a key exchange (strict KEX forbids other messages; ssh2 would queue it anyway).
      if (proto === undefined || w === undefined || proto._kexinit !== undefined) return;
      try {
        const packet = w.alloc(5);
        packet.set([2, 0, 0, 0, 0], w.allocStart); // SSH_MSG_IGNORE with an empty string
        sendPacket(proto, w.finalize(packet));
      } catch {
        // The connection is closing: nothing to nudge.
      }
    });
  });
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}

export class SshCommunicator {
  private client: Client | undefined;
  private hostKey: Buffer | undefined;
  private sftpSession: Promise<SFTPWrapper> | undefined;
  private closed = false;
  /** Closes the bastion connection or proxy socket under a guest connection. */
  private readonly hops = new Map<Client, () => void>();
  private log: ((text: string) => void) | undefined;

  private constructor(
    readonly options: SshOptions,
    private readonly privateKey: Buffer | undefined,
    private readonly hostKeyPolicy: HostKeyPolicy | undefined,
    private readonly bastionKey: Buffer | undefined,
  ) {}

  /**
   * Connects, retrying fast until `ssh_timeout` (connection errors) or `ssh_handshake_attempts` (handshake and
   * authentication failures). @throws BuildFailedError naming the option to fix
   */
  static async connect(options: SshOptions, copts: SshConnectOptions): Promise<SshCommunicator> {
    let privateKey: Buffer | undefined = options.ssh_private_key;
    if ((options.ssh_private_key_file ?? "") !== "") privateKey = await readKeyFile("ssh_private_key_file", options.ssh_private_key_file ?? "", copts.workDir);
    const bastionKey =
      (options.ssh_bastion_host ?? "") !== "" && (options.ssh_bastion_private_key_file ?? "") !== ""
        ? await readKeyFile("ssh_bastion_private_key_file", options.ssh_bastion_private_key_file ?? "", copts.workDir)
        : undefined;
    let policy: HostKeyPolicy | undefined;
    const address = `${options.ssh_host}:${options.ssh_port ?? 22}`;
    if ((options.ssh_host_key_fingerprint ?? "") !== "") policy = fingerprintPolicy(address, options.ssh_host_key_fingerprint ?? "");
    if ((options.ssh_known_hosts_file ?? "") !== "") {
      const file = path.resolve(copts.workDir ?? process.cwd(), options.ssh_known_hosts_file ?? "");
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        throw new BuildFailedError(`Error reading ssh_known_hosts_file ${file}: ${(err as Error).message}`, { cause: err });
      }
      policy = knownHostsPolicy(file, text, options.ssh_host, options.ssh_port ?? 22);
    }
    const comm = new SshCommunicator(options, privateKey, policy, bastionKey);
    comm.log = copts.log;
    await comm.reconnect(copts);
    return comm;
  }

  /** Where the communicator connects: `host:port`. */
  get address(): string {
    return `${this.options.ssh_host}:${this.options.ssh_port ?? 22}`;
  }

  /** (Re)connects after a disconnect, with the same retry policy as `connect`; the host key must not change. */
  async reconnect(copts: SshConnectOptions): Promise<void> {
    this.closeClient();
    const o = this.options;
    const timeout = (o.ssh_timeout ?? 0) > 0 ? (o.ssh_timeout ?? 0) : 5 * 60_000;
    const maxHandshakes = (o.ssh_handshake_attempts ?? 0) > 0 ? (o.ssh_handshake_attempts ?? 10) : 10;
    if ((o.pause_before_connecting ?? 0) > 0) await sleep(o.pause_before_connecting ?? 0, copts.signal);
    const deadline = Date.now() + timeout;
    let handshakeFailures = 0;
    let attempt = 0;
    let lastError: Error | undefined;
    for (;;) {
      if (copts.signal.aborted) throw abortError(copts.signal);
      attempt++;
      const remaining = deadline - Date.now();
      try {
        const client = await this.attempt(Math.max(1000, Math.min(remaining, 20_000)), copts.signal);
        // A dropped connection is re-established on the next use (a guest that rebooted).
        client.on("close", () => {
          this.closeHop(client);
          if (this.client === client) {
            this.client = undefined;
            this.sftpSession = undefined;
          }
        });
        client.on("error", () => undefined);
        this.client = client;
        copts.log?.(`Connected to SSH at ${this.address} (attempt ${attempt})`);
        return;
      } catch (err) {
        if (copts.signal.aborted) throw abortError(copts.signal);
        lastError = err as Error;
        const handshake = !isConnectError(lastError);
        if (lastError instanceof KilnError) throw lastError;
        if (handshake) handshakeFailures++;
        copts.log?.(`SSH attempt ${attempt} to ${this.address} failed: ${lastError.message}`);
        if (handshake && handshakeFailures >= maxHandshakes) {
          const hop = (lastError as HopError).hop;
          if (hop === "bastion" && isAuthFailure(lastError)) {
            throw new BuildFailedError(
              `ssh: authentication as "${o.ssh_bastion_username ?? ""}" to the bastion host ${this.bastionAddress} failed after ` +
                `${handshakeFailures} attempts (ssh_handshake_attempts): ${lastError.message}; check ssh_bastion_username and ` +
                `${this.bastionKey !== undefined ? "ssh_bastion_private_key_file" : o.ssh_bastion_agent_auth === true ? "ssh_bastion_agent_auth" : "ssh_bastion_password"}`,
              { cause: lastError },
            );
          }
          if (hop !== undefined) {
            throw new BuildFailedError(`ssh: ${lastError.message} (failed ${handshakeFailures} times, ssh_handshake_attempts)`, { cause: lastError });
          }
          if (isAuthFailure(lastError)) {
            const keyName = o.ssh_private_key !== undefined ? "the temporary key pair (did the builder inject SSHPublicKey?)" : "ssh_private_key_file";
            const what = this.privateKey !== undefined ? (o.ssh_password !== undefined ? `ssh_password or ${keyName}` : keyName) : "ssh_password";
            throw new BuildFailedError(
              `ssh: authentication as "${o.ssh_username}" at ${this.address} failed after ${handshakeFailures} attempts ` +
                `(ssh_handshake_attempts): ${lastError.message}; check ssh_username and ${what}`,
              { cause: lastError },
            );
          }
          throw new BuildFailedError(
            `ssh: handshake with ${this.address} failed ${handshakeFailures} times (ssh_handshake_attempts): ${lastError.message}`,
            { cause: lastError },
          );
        }
      }
      const wait = retryDelay(lastError);
      if (Date.now() + wait >= deadline) {
        throw new BuildFailedError(
          `Timeout waiting for SSH: no connection to ${this.address} within ${formatMs(timeout)} (ssh_timeout) after ` +
            `${attempt} attempts; last error: ${lastError.message}`,
          { cause: lastError },
        );
      }
      await sleep(wait, copts.signal);
    }
  }

  private get bastionAddress(): string {
    return `${this.options.ssh_bastion_host ?? ""}:${this.options.ssh_bastion_port ?? 22}`;
  }

  /** One connection attempt: through the bastion or the proxy when configured, then the guest's handshake. */
  private async attempt(readyTimeout: number, signal: AbortSignal): Promise<Client> {
    const o = this.options;
    // Without a hop, kiln opens the TCP connection itself: a closed port costs a SYN, not an ssh2 client, and the
    // socket has Nagle off from its first packet.
    let hop = await this.openHop(readyTimeout, signal);
    if (hop === undefined) {
      const sock = await tcpConnect(o.ssh_host, o.ssh_port ?? 22, readyTimeout, signal);
      hop = { sock, close: () => void sock.destroy() };
    }
    try {
      const client = await this.handshake(readyTimeout, signal, hop.sock);
      this.hops.set(client, hop.close);
      return client;
    } catch (err) {
      hop.close();
      throw err;
    }
  }

  /** Opens the stream to the guest's SSH port through the bastion (`direct-tcpip`) or the SOCKS5 proxy. */
  private async openHop(readyTimeout: number, signal: AbortSignal): Promise<{ sock: Duplex; close(): void } | undefined> {
    const o = this.options;
    const port = o.ssh_port ?? 22;
    if ((o.ssh_proxy_host ?? "") !== "") {
      const sock = await socks5Connect({
        proxyHost: o.ssh_proxy_host ?? "",
        proxyPort: o.ssh_proxy_port ?? 1080,
        username: o.ssh_proxy_username,
        password: o.ssh_proxy_password,
        host: o.ssh_host,
        port,
        timeoutMs: readyTimeout,
        signal,
      }).catch((err: HopError) => {
        err.hop = "proxy";
        throw err;
      });
      return { sock, close: () => sock.destroy() };
    }
    if ((o.ssh_bastion_host ?? "") === "") return undefined;
    const bastion = await this.connectBastion(readyTimeout, signal);
    const close = (): void => {
      bastion.removeAllListeners();
      bastion.on("error", () => undefined);
      bastion.end();
      bastion.destroy();
    };
    try {
      const sock = await new Promise<ClientChannel>((resolve, reject) =>
        bastion.forwardOut("127.0.0.1", 0, o.ssh_host, port, (err, stream) => (err ? reject(err) : resolve(stream))),
      );
      // The guest went away (EOF from the bastion): close the channel too, so the guest connection sees "close".
      sock.once("end", () => sock.close());
      return { sock, close };
    } catch (err) {
      close();
      const e = new Error(`the bastion host ${this.bastionAddress} could not reach ${this.address}: ${(err as Error).message}`) as HopError;
      e.level = "client-socket";
      e.hop = "bastion";
      throw e;
    }
  }

  private connectBastion(readyTimeout: number, signal: AbortSignal): Promise<Client> {
    const o = this.options;
    return new Promise<Client>((resolve, reject) => {
      const bastion = new Client();
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        if (!err) return resolve(bastion);
        bastion.removeAllListeners();
        bastion.on("error", () => undefined);
        bastion.destroy();
        const e = err as HopError;
        if (!signal.aborted) {
          e.message = `bastion host ${this.bastionAddress}: ${e.message}`;
          e.hop = "bastion";
        }
        reject(e);
      };
      const onAbort = (): void => finish(abortError(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      bastion.once("ready", () => {
        bastion.setNoDelay(true);
        finish();
      });
      bastion.on("error", (err) => finish(err));
      bastion.once("close", () => finish(new Error("connection closed during handshake")));
      const password = o.ssh_bastion_password;
      const config: ConnectConfig = {
        host: o.ssh_bastion_host ?? "",
        port: o.ssh_bastion_port ?? 22,
        username: o.ssh_bastion_username ?? "",
        readyTimeout,
        keepaliveInterval: (o.ssh_keep_alive_interval ?? 5000) > 0 ? (o.ssh_keep_alive_interval ?? 5000) : 0,
        // Packer does not check the bastion's host key either.
        hostVerifier: () => true,
      };
      if (password !== undefined && password !== "") config.password = password;
      if (this.bastionKey !== undefined) config.privateKey = this.bastionKey;
      if (o.ssh_bastion_interactive === true) {
        config.tryKeyboard = true;
        bastion.on("keyboard-interactive", (_name, _instructions, _lang, prompts, answer) => answer(prompts.map(() => password ?? "")));
      }
      if (o.ssh_bastion_agent_auth === true) {
        const sock = process.env["SSH_AUTH_SOCK"];
        if (sock === undefined || sock === "") {
          finish(new BuildFailedError("ssh_bastion_agent_auth is set but SSH_AUTH_SOCK is not: start an ssh-agent for the kiln agent"));
          return;
        }
        config.agent = sock;
      }
      try {
        bastion.connect(config);
        bastion.setNoDelay(true);
      } catch (err) {
        finish(err as Error);
      }
    });
  }

  private handshake(readyTimeout: number, signal: AbortSignal, sock: Duplex | undefined): Promise<Client> {
    const o = this.options;
    return new Promise<Client>((resolve, reject) => {
      const client = new Client();
      let settled = false;
      let mismatch: HostKeyMismatchError | undefined;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        if (err) {
          client.removeAllListeners();
          client.on("error", () => undefined);
          client.end();
          client.destroy();
          reject(mismatch ?? err);
        } else {
          resolve(client);
        }
      };
      const onAbort = (): void => finish(abortError(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      client.once("ready", () => {
        // scp's many small request/ack exchanges stall on Nagle + delayed ACKs (~40 ms each) otherwise.
        client.setNoDelay(true);
        nudgeAcks(client);
        finish();
      });
      client.on("error", (err) => finish(err));
      client.once("close", () => finish(new Error("connection closed during handshake")));
      const keepAlive = o.ssh_keep_alive_interval ?? 5000;
      const config: ConnectConfig = {
        host: o.ssh_host,
        port: o.ssh_port ?? 22,
        username: o.ssh_username,
        readyTimeout,
        keepaliveInterval: keepAlive > 0 ? keepAlive : 0,
        keepaliveCountMax: 3,
        // A pin (fingerprint, known_hosts) decides first; then accept-new: the first key is accepted, later
        // reconnects of this communicator must present the same one.
        hostVerifier: (key: Buffer) => {
          mismatch = this.hostKeyPolicy?.check(key);
          if (mismatch !== undefined) return false;
          if (this.hostKey === undefined) {
            this.hostKey = Buffer.from(key);
            return true;
          }
          if (this.hostKey.equals(key)) return true;
          mismatch = new HostKeyMismatchError(
            `ssh: the host key of ${this.address} changed since the first connection (was ${sha256Fingerprint(this.hostKey)}, ` +
              `now ${sha256Fingerprint(key)}): refusing to reconnect to what may be another machine`,
          );
          return false;
        },
      };
      if (sock !== undefined) config.sock = sock as ConnectConfig["sock"];
      // The method that will succeed first, without ssh2's opening "none" round trip: a configured key (what VM
      // builders use, and cheap for the server to check), the agent's keys, then the password (the server hashes it,
      // which takes a yescrypt-hashing Debian sshd about 100 ms).
      const methods: ("publickey" | "agent" | "password")[] = [];
      if (this.privateKey !== undefined) {
        config.privateKey = this.privateKey;
        methods.push("publickey");
      }
      if (o.ssh_agent_auth === true) {
        const sock = process.env["SSH_AUTH_SOCK"];
        if (sock === undefined || sock === "") {
          finish(new BuildFailedError("ssh_agent_auth is set but SSH_AUTH_SOCK is not: start an ssh-agent for the kiln agent"));
          return;
        }
        config.agent = sock;
        methods.push("agent");
      }
      if (o.ssh_password !== undefined) {
        config.password = o.ssh_password;
        methods.push("password");
      }
      if (methods.length > 0) config.authHandler = methods;
      try {
        client.connect(config);
      } catch (err) {
        finish(err as Error);
      }
    });
  }

  /** The open connection; reconnects (same policy as `connect`) when the previous one dropped. */
  private async requireClient(signal: AbortSignal): Promise<Client> {
    if (this.closed) throw new BuildFailedError("ssh: the communicator is closed");
    if (this.client === undefined) await this.reconnect({ signal, workDir: undefined, log: this.log });
    if (this.client === undefined) throw new BuildFailedError("ssh: the communicator is not connected");
    return this.client;
  }

  /**
   * Runs a command and resolves to its exit status (2300218 when the connection dropped before it reported one).
   * Aborting the signal closes the channel and rejects.
   */
  async start(command: string, opts: StartOptions): Promise<number> {
    return this.exec(command, opts, undefined);
  }

  /**
   * Writes `content` to `remotePath` (mode 0755) and runs `command` after it, in one session: the file comes through
   * the command's stdin (`cat`), sparing the upload's and the chmod's sessions and round trips. The user's shell
   * runs `command` as `start` would, with stdin at end of file, as Packer's commands have it. Resolves to the
   * command's exit status; rejects when the file could not be written (the reason is what the remote side said).
   * With `ssh_pty` (a terminal has no end of file), it is the upload, chmod and start in turn.
   */
  async uploadAndStart(content: Buffer, remotePath: string, command: string, opts: StartOptions): Promise<number> {
    if (this.options.ssh_pty === true) {
      await this.upload(content, remotePath, opts.signal);
      const chmod = await this.start(`chmod 0755 ${quote(remotePath)}`, { signal: opts.signal });
      if (chmod !== 0) throw new BuildFailedError(`chmod 0755 ${remotePath} failed: exit status ${chmod}`);
      return this.start(command, opts);
    }
    // The file is written by /bin/sh (the login shell may be any), which reports success on stderr with a line
    // nobody else prints; what stderr says before it is the reason of a failure, and is passed on after a success.
    // The command follows on a line of its own, parsed as if it came alone, and never runs after a failed write.
    const marker = `kiln-written-${randomBytes(8).toString("hex")}`;
    const held: string[] = [];
    let written = false;
    const code = await this.exec(
      `/bin/sh -c 'cat > "$1" && chmod 0755 "$1" && echo ${marker} >&2' kiln ${quote(remotePath)} || exit 1\n${command}`,
      {
        signal: opts.signal,
        onStdout: opts.onStdout,
        onStderr: (line) => {
          if (written) return opts.onStderr?.(line);
          if (line !== marker) return void held.push(line);
          written = true;
          for (const l of held.splice(0)) opts.onStderr?.(l);
        },
      },
      content,
    );
    if (!written) {
      const reason = code === CMD_DISCONNECT ? "the connection dropped" : held.join("\n").trim() || `exit status ${code}`;
      throw new BuildFailedError(`writing ${remotePath} failed: ${reason}`);
    }
    return code;
  }

  /** Runs a command, with `stdin` written to it and then closed when given (else it stays open, as before). */
  private async exec(command: string, opts: StartOptions, stdin: Buffer | undefined): Promise<number> {
    const client = await this.requireClient(opts.signal);
    return new Promise<number>((resolve, reject) => {
      if (opts.signal.aborted) return reject(abortError(opts.signal));
      const out = lineSplitter(opts.onStdout);
      const err = lineSplitter(opts.onStderr);
      let settled = false;
      let channel: ClientChannel | undefined;
      const done = (code: number | Error): void => {
        if (settled) return;
        settled = true;
        out.flush();
        err.flush();
        opts.signal.removeEventListener("abort", onAbort);
        client.removeListener("close", onClientClose);
        if (code instanceof Error) reject(code);
        else resolve(code);
      };
      const onAbort = (): void => {
        channel?.close();
        done(abortError(opts.signal));
      };
      const onClientClose = (): void => done(CMD_DISCONNECT);
      opts.signal.addEventListener("abort", onAbort, { once: true });
      client.once("close", onClientClose);
      try {
        client.exec(command, { pty: this.options.ssh_pty === true }, (e, stream) => {
          if (e) {
            // A channel that cannot be opened on a dying connection is a disconnect too.
            done(/not connected|No response|closed/i.test(e.message) ? CMD_DISCONNECT : e);
            return;
          }
          channel = stream;
          if (stdin !== undefined) stream.end(stdin);
          let exitCode: number | undefined;
          stream.on("exit", (code: number | null) => {
            if (typeof code === "number") exitCode = code;
          });
          stream.on("data", (d: Buffer) => out.push(d));
          stream.stderr.on("data", (d: Buffer) => err.push(d));
          stream.on("close", (code: unknown) => {
            if (typeof code === "number") exitCode = code;
            done(exitCode ?? CMD_DISCONNECT);
          });
        });
      } catch (e) {
        done(CMD_DISCONNECT);
        void e;
      }
    });
  }

  private async sftp(signal: AbortSignal): Promise<SFTPWrapper> {
    const client = await this.requireClient(signal);
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) => {
      client.sftp((err, sftp) => {
        if (err) {
          this.sftpSession = undefined;
          reject(new BuildFailedError(`ssh: cannot open an SFTP session on ${this.address}: ${err.message}`, { cause: err }));
        } else {
          sftp.on("close", () => (this.sftpSession = undefined));
          resolve(sftp);
        }
      });
    });
    return this.sftpSession;
  }

  private get useSftp(): boolean {
    return this.options.ssh_file_transfer_method === "sftp";
  }

  /** Uploads a local file (path) or a buffer to `remotePath` (a file path on the guest). */
  async upload(source: string | Buffer, remotePath: string, signal: AbortSignal, mode?: number): Promise<void> {
    const transfer = this.useSftp
      ? this.sftp(signal).then((sftp) =>
          withAbort(signal, (cb) => {
            if (typeof source === "string") sftp.fastPut(source, remotePath, mode !== undefined ? { mode } : {}, cb);
            else sftp.writeFile(remotePath, source, mode !== undefined ? { mode } : {}, cb);
          }),
        )
      : this.requireClient(signal).then((client) => scpUpload(client, source, remotePath, mode ?? 0o644, signal));
    await transfer.catch((err: Error) => {
      if (signal.aborted) throw err;
      throw new BuildFailedError(`Upload of ${typeof source === "string" ? source : "content"} to ${remotePath} failed: ${err.message}`, { cause: err });
    });
  }

  /**
   * Uploads a tree into the existing directory `remoteDir`: over one recursive scp session (`scp -rt`, `D`/`C`/`E`
   * records), or with sftp (directories made in one command, then each file).
   */
  async uploadTree(remoteDir: string, entries: readonly TreeEntry[], signal: AbortSignal): Promise<void> {
    if (!this.useSftp) {
      const client = await this.requireClient(signal);
      await scpUploadTree(client, remoteDir, entries, signal).catch((err: Error) => {
        if (signal.aborted) throw err;
        throw new BuildFailedError(`Upload of a directory tree to ${remoteDir} failed: ${err.message}`, { cause: err });
      });
      return;
    }
    const dirs: string[] = [];
    const files: { local: string; remote: string; mode: number }[] = [];
    const walk = (list: readonly TreeEntry[], at: string): void => {
      for (const e of list) {
        const r = path.posix.join(at, e.name);
        if (e.kind === "dir") {
          dirs.push(r);
          walk(e.entries, r);
        } else files.push({ local: e.local, remote: r, mode: e.mode });
      }
    };
    walk(entries, remoteDir);
    if (dirs.length > 0) {
      const code = await this.start(`mkdir -p ${dirs.map(quote).join(" ")}`, { signal });
      if (code !== 0) throw new BuildFailedError(`Error creating directories under ${remoteDir}: exit status ${code}`);
    }
    const sftp = await this.sftp(signal);
    for (const f of files) {
      await withAbort(signal, (cb) => sftp.fastPut(f.local, f.remote, { mode: f.mode }, cb)).catch((err: Error) => {
        if (signal.aborted) throw err;
        throw new BuildFailedError(`Upload of ${f.local} to ${f.remote} failed: ${err.message}`, { cause: err });
      });
    }
  }

  /** Downloads the directory `remoteDir` into `localDir` (which is created): `localDir/<basename>/...`, as `scp -r`. */
  async downloadDir(remoteDir: string, localDir: string, signal: AbortSignal): Promise<void> {
    await mkdir(localDir, { recursive: true });
    const transfer = this.useSftp
      ? this.sftp(signal).then((sftp) => sftpDownloadTree(sftp, remoteDir.replace(/\/+$/, "") || "/", path.join(localDir, path.posix.basename(remoteDir.replace(/\/+$/, ""))), signal))
      : this.requireClient(signal).then((client) => scpDownloadTree(client, remoteDir, localDir, signal));
    await transfer.catch((err: Error) => {
      if (signal.aborted) throw err;
      throw new BuildFailedError(`Download of the directory ${remoteDir} to ${localDir} failed: ${err.message}`, { cause: err });
    });
  }

  /** Downloads `remotePath` to a local file path. */
  async download(remotePath: string, localPath: string, signal: AbortSignal): Promise<void> {
    const transfer = this.useSftp
      ? this.sftp(signal).then((sftp) => withAbort(signal, (cb) => sftp.fastGet(remotePath, localPath, cb)))
      : this.requireClient(signal).then((client) => scpDownload(client, remotePath, localPath, signal));
    await transfer.catch((err: Error) => {
      if (signal.aborted) throw err;
      throw new BuildFailedError(`Download of ${remotePath} to ${localPath} failed: ${err.message}`, { cause: err });
    });
  }

  private closeClient(): void {
    const c = this.client;
    this.client = undefined;
    this.sftpSession = undefined;
    if (c) {
      c.removeAllListeners();
      c.on("error", () => undefined);
      c.end();
      c.destroy();
      this.closeHop(c);
    }
  }

  private closeHop(client: Client): void {
    this.hops.get(client)?.();
    this.hops.delete(client);
  }

  /** Closes the connection (idempotent). */
  close(): void {
    this.closed = true;
    this.closeClient();
  }
}

function withAbort(signal: AbortSignal, op: (cb: (err?: Error | null) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    op((err) => {
      signal.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Single-quotes a word for the remote shell. */
function quote(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

/** Reads the scp protocol's replies from a channel: acks (`\0`), errors (`\1`/`\2` + text) and header lines. */
class ScpReader {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended = false;
  private stderr = "";
  onData?: (d: Buffer) => void;

  constructor(channel: ClientChannel) {
    channel.on("data", (d: Buffer) => {
      if (this.onData) return this.onData(d);
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    channel.stderr.on("data", (d: Buffer) => (this.stderr += d.toString()));
    channel.on("close", () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private async need(test: () => boolean): Promise<void> {
    while (!test()) {
      if (this.ended) throw new Error(`scp: the remote side ended the transfer${this.stderr !== "" ? `: ${this.stderr.trim()}` : ""}`);
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  /** One line (without the newline). */
  async line(): Promise<string> {
    await this.need(() => this.buf.includes(0x0a));
    const nl = this.buf.indexOf(0x0a);
    const line = this.buf.subarray(0, nl).toString();
    this.buf = this.buf.subarray(nl + 1);
    return line;
  }

  /** Waits for an ack; throws the remote's message on an error reply. */
  async ack(): Promise<void> {
    await this.need(() => this.buf.length > 0);
    const code = this.buf[0];
    if (code === 0) {
      this.buf = this.buf.subarray(1);
      return;
    }
    const text = await this.line();
    throw new Error(`scp: ${text.slice(1) || `error code ${String(code)}`}`);
  }

  /** Up to `max` bytes of file data (waits for some). */
  async chunk(max: number): Promise<Buffer> {
    await this.need(() => this.buf.length > 0);
    const b = this.buf.subarray(0, max);
    this.buf = this.buf.subarray(b.length);
    return b;
  }

  /** Takes what is buffered (after the header), for the data phase. */
  take(): Buffer {
    const b = this.buf;
    this.buf = Buffer.alloc(0);
    return b;
  }
}

/** Ends our side and waits for the channel to close (servers may refuse a new session while one is open). */
function endAndWait(channel: ClientChannel): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 5000);
    channel.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    channel.end();
  });
}

function openExec(client: Client, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => client.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))));
}

function write(channel: ClientChannel, data: Buffer | string): Promise<void> {
  return new Promise((resolve) => {
    if (channel.write(data)) resolve();
    else channel.once("drain", () => resolve());
  });
}

/**
 * Packer's scp upload, one `C<mode> <size> <name>` record, but to `scp -t <file>` rather than Packer's
 * `scp -t <dir>`: with a missing directory, scp would otherwise create a file named like the directory.
 */
async function scpUpload(client: Client, source: string | Buffer, remotePath: string, mode: number, signal: AbortSignal): Promise<void> {
  const channel = await openExec(client, `scp -t ${quote(remotePath)}`);
  const onAbort = (): void => void channel.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const reader = new ScpReader(channel);
    await reader.ack();
    const size = typeof source === "string" ? (await stat(source)).size : source.length;
    await write(channel, `C${(mode & 0o7777).toString(8).padStart(4, "0")} ${size} ${path.posix.basename(remotePath)}\n`);
    await reader.ack();
    if (typeof source === "string") {
      for await (const chunk of createReadStream(source)) await write(channel, chunk as Buffer);
    } else {
      await write(channel, source);
    }
    await write(channel, Buffer.from([0]));
    await reader.ack();
    await endAndWait(channel);
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (signal.aborted) throw abortError(signal);
  }
}

/** One entry of a tree upload: a directory or a file. */
export type TreeEntry =
  | { readonly kind: "dir"; readonly name: string; readonly mode: number; readonly entries: readonly TreeEntry[] }
  | { readonly kind: "file"; readonly name: string; readonly mode: number; readonly local: string; readonly size: number };

/** Packer's scp download: `scp -f <path>`, one `C` record streamed into the local file. */
async function scpDownload(client: Client, remotePath: string, localPath: string, signal: AbortSignal): Promise<void> {
  const channel = await openExec(client, `scp -f ${quote(remotePath)}`);
  const onAbort = (): void => void channel.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const reader = new ScpReader(channel);
    await write(channel, Buffer.from([0]));
    let header = await reader.line();
    while (header.startsWith("T")) {
      await write(channel, Buffer.from([0]));
      header = await reader.line();
    }
    if (header.startsWith("\x01") || header.startsWith("\x02")) throw new Error(`scp: ${header.slice(1)}`);
    const m = /^C[0-7]+ (\d+) /.exec(header);
    if (!m) throw new Error(`scp: unexpected reply ${JSON.stringify(header)}`);
    const size = Number(m[1]);
    const out = createWriteStream(localPath);
    let received = 0;
    let tail = Buffer.alloc(0);
    const done = new Promise<void>((resolve, reject) => {
      const feed = (d: Buffer): void => {
        const want = size - received;
        const body = d.subarray(0, Math.max(0, want));
        received += body.length;
        if (body.length > 0 && !out.write(body)) {
          channel.pause();
          out.once("drain", () => channel.resume());
        }
        if (d.length > body.length) tail = Buffer.concat([tail, d.subarray(body.length)]);
        if (received >= size && tail.length > 0) {
          reader.onData = undefined;
          if (tail[0] !== 0) reject(new Error(`scp: ${tail.subarray(1).toString().trim()}`));
          else out.end(() => resolve());
        }
      };
      reader.onData = feed;
      channel.once("close", () => reject(new Error(`scp: the connection closed after ${received} of ${size} bytes`)));
      out.once("error", reject);
      const early = reader.take();
      void write(channel, Buffer.from([0])).then(() => {
        if (early.length > 0) feed(early);
      });
    });
    await done;
    await write(channel, Buffer.from([0]));
    await endAndWait(channel);
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (signal.aborted) throw abortError(signal);
  }
}

/** Reads exactly `size` bytes of a file record into `localPath`, then the sender's status byte. */
async function scpReceiveFile(reader: ScpReader, channel: ClientChannel, size: number, localPath: string): Promise<void> {
  const out = createWriteStream(localPath);
  const closed = new Promise<void>((resolve, reject) => {
    out.once("close", resolve);
    out.once("error", reject);
  });
  await write(channel, Buffer.from([0]));
  let left = size;
  while (left > 0) {
    const chunk = await reader.chunk(left);
    left -= chunk.length;
    if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  out.end();
  await closed;
  await reader.ack();
}

/** `scp -rf <remote>`: `D` records become directories under `localDir`, `C` records files, `E` ends a directory. */
async function scpDownloadTree(client: Client, remote: string, localDir: string, signal: AbortSignal): Promise<void> {
  const channel = await openExec(client, `scp -rf ${quote(remote.replace(/\/+$/, "") || "/")}`);
  const onAbort = (): void => void channel.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const reader = new ScpReader(channel);
    const stack = [localDir];
    await write(channel, Buffer.from([0]));
    for (;;) {
      const header = await reader.line();
      const kind = header[0];
      if (kind === "\x01" || kind === "\x02") throw new Error(`scp: ${header.slice(1)}`);
      if (kind === "T") {
        await write(channel, Buffer.from([0]));
        continue;
      }
      if (kind === "E") {
        stack.pop();
        await write(channel, Buffer.from([0]));
        if (stack.length <= 1) break;
        continue;
      }
      const m = /^([CD])([0-7]+) (\d+) (.+)$/.exec(header);
      if (!m) throw new Error(`scp: unexpected reply ${JSON.stringify(header)}`);
      const name = m[4] ?? "";
      if (name === "." || name === ".." || name.includes("/")) throw new Error(`scp: refusing the entry name ${JSON.stringify(name)}`);
      const target = path.join(...stack, name);
      const mode = parseInt(m[2] ?? "644", 8) & 0o777;
      if (m[1] === "D") {
        await mkdir(target, { recursive: true, mode: mode | 0o700 });
        stack.push(name);
        await write(channel, Buffer.from([0]));
      } else {
        await scpReceiveFile(reader, channel, Number(m[3]), target);
        await chmod(target, mode);
        await write(channel, Buffer.from([0]));
        // A single file (the source was not a directory) ends the transfer.
        if (stack.length === 1) break;
      }
    }
    await endAndWait(channel);
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (signal.aborted) throw abortError(signal);
  }
}

/** `scp -rt <remoteDir>` with the tree as `D`/`C`/`E` records: one session for any number of files. */
async function scpUploadTree(client: Client, remoteDir: string, entries: readonly TreeEntry[], signal: AbortSignal): Promise<void> {
  const channel = await openExec(client, `scp -rt ${quote(remoteDir)}`);
  const onAbort = (): void => void channel.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const reader = new ScpReader(channel);
    await reader.ack();
    const send = async (list: readonly TreeEntry[]): Promise<void> => {
      for (const e of list) {
        const mode = (e.mode & 0o7777).toString(8).padStart(4, "0");
        if (e.kind === "dir") {
          await write(channel, `D${mode} 0 ${e.name}\n`);
          await reader.ack();
          await send(e.entries);
          await write(channel, "E\n");
          await reader.ack();
        } else {
          const size = (await stat(e.local)).size;
          await write(channel, `C${mode} ${size} ${e.name}\n`);
          await reader.ack();
          for await (const chunk of createReadStream(e.local)) await write(channel, chunk as Buffer);
          await write(channel, Buffer.from([0]));
          await reader.ack();
        }
      }
    };
    await send(entries);
    await endAndWait(channel);
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (signal.aborted) throw abortError(signal);
  }
}

/** Walks `remote` over SFTP into `local` (created), keeping file modes. */
async function sftpDownloadTree(sftp: SFTPWrapper, remote: string, local: string, signal: AbortSignal): Promise<void> {
  const list = await new Promise<ssh2.FileEntryWithStats[]>((resolve, reject) => sftp.readdir(remote, (err, l) => (err ? reject(err) : resolve(l))));
  await mkdir(local, { recursive: true });
  for (const e of list) {
    if (signal.aborted) throw abortError(signal);
    const r = path.posix.join(remote, e.filename);
    const l = path.join(local, e.filename);
    if (e.attrs.isDirectory()) await sftpDownloadTree(sftp, r, l, signal);
    else if (e.attrs.isFile()) {
      await withAbort(signal, (cb) => sftp.fastGet(r, l, cb));
      await chmod(l, e.attrs.mode & 0o777);
    }
  }
}
