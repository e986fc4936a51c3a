/**
 * A private SSH server for tests: OpenSSH's sshd (or dropbear) on a free 127.0.0.1 port, with its own host key, pid
 * file and authorized_keys in a temp dir, password and key authentication for the test user `kilntest`. `stop()`
 * kills it and removes the temp dir. Needs root (sshd runs as root to switch to the test user).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const SSHD = "/usr/sbin/sshd";
export const DROPBEAR = "/usr/sbin/dropbear";
export const TEST_USER = "kilntest";
export const TEST_PASSWORD = "kiln-test-password";

export interface SshServerOptions {
  readonly kind?: "openssh" | "dropbear";
  /** Extra lines for sshd_config (OpenSSH only); they win over the harness's defaults. */
  readonly extraConfig?: readonly string[];
  /** The port to listen on (a free one by default). */
  readonly port?: number;
  /**
   * Public keys (authorized_keys lines) authorized for the test user from the moment the server listens, as a
   * guest has the builder's temporary key before its sshd starts (OpenSSH only).
   */
  readonly authorizedKeys?: readonly string[];
}

/** A free TCP port on 127.0.0.1 (bound to port 0, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Creates the test user with its password when missing (idempotent). */
async function ensureTestUser(): Promise<void> {
  try {
    await run("id", [TEST_USER]);
  } catch {
    await run("useradd", ["-m", "-s", "/bin/sh", TEST_USER]);
  }
  await new Promise<void>((resolve, reject) => {
    const p = spawn("chpasswd", [], { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("error", reject);
    p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd failed: ${err}`))));
    p.stdin.end(`${TEST_USER}:${TEST_PASSWORD}\n`);
  });
}

/** `type base64` from a public key file's text (or dropbearkey -y output). */
function publicKeyOf(text: string): string {
  const m = /^(ssh-[\w-]+|ecdsa-[\w-]+) ([A-Za-z0-9+/=]+)/m.exec(text);
  if (!m) throw new Error(`no public key in ${JSON.stringify(text)}`);
  return `${m[1] ?? ""} ${m[2] ?? ""}`;
}

/**
 * Edits the test user's ~/.ssh/authorized_keys (what dropbear reads) under a lock directory, since test files in
 * parallel workers start dropbear servers at the same time. Each line is added once and removed by its server.
 */
async function editHomeAuthorizedKeys(edit: (lines: string[]) => string[]): Promise<void> {
  const { stdout } = await run("getent", ["passwd", TEST_USER]);
  const fields = stdout.trim().split(":");
  const home = fields[5] ?? `/home/${TEST_USER}`;
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  const sshDir = path.join(home, ".ssh");
  await mkdir(sshDir, { recursive: true, mode: 0o700 });
  await chown(sshDir, uid, gid);
  const lock = path.join(sshDir, ".kiln-test-lock");
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // A lock left by a killed test process: take it over after the deadline.
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    const file = path.join(sshDir, "authorized_keys");
    const before = (await readFile(file, "utf8").catch(() => "")).split("\n").filter((l) => l.trim() !== "");
    const after = edit(before);
    await writeFile(file, after.map((l) => `${l}\n`).join(""), { mode: 0o600 });
    await chown(file, uid, gid);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function authorizeInHome(publicKey: string): Promise<void> {
  const line = publicKey.trim();
  await editHomeAuthorizedKeys((lines) => (lines.includes(line) ? lines : [...lines, line]));
}

async function unauthorizeInHome(publicKey: string): Promise<void> {
  const line = publicKey.trim();
  if (line === "") return;
  await editHomeAuthorizedKeys((lines) => lines.filter((l) => l !== line));
}

/** Resolves once the server sends its SSH banner. */
async function waitForBanner(port: number, proc: ChildProcess, output: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`ssh server exited with ${proc.exitCode}: ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      const done = (v: boolean): void => {
        s.destroy();
        resolve(v);
      };
      s.once("data", (d: Buffer) => done(d.toString().startsWith("SSH-")));
      s.once("error", () => done(false));
      s.setTimeout(1000, () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`ssh server did not listen on port ${port}: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function spawnServer(argv: readonly string[], append: (d: Buffer) => void): ChildProcess {
  const [bin = "", ...args] = argv;
  const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout?.on("data", append);
  proc.stderr?.on("data", append);
  return proc;
}

export class SshServer implements AsyncDisposable {
  readonly host = "127.0.0.1";
  readonly username = TEST_USER;
  readonly password = TEST_PASSWORD;

  private constructor(
    readonly kind: "openssh" | "dropbear",
    readonly port: number,
    readonly dir: string,
    /** A private key (OpenSSH format, ed25519) whose public key is authorized for the test user. */
    readonly clientKeyFile: string,
    private proc: ChildProcess,
    private readonly output: () => string,
    private readonly argv: readonly string[],
    private readonly append: (d: Buffer) => void,
    /** The server's public host key as `type base64` (a known_hosts line without the host names). */
    readonly hostKey: string,
  ) {}

  static async start(options: SshServerOptions = {}): Promise<SshServer> {
    const kind = options.kind ?? "openssh";
    const binary = kind === "openssh" ? SSHD : DROPBEAR;
    if (!existsSync(binary)) {
      throw new Error(`${binary} is missing: install the Debian package ${kind === "openssh" ? "openssh-server" : "dropbear-bin"}`);
    }
    await ensureTestUser();
    const dir = await mkdtemp(path.join(tmpdir(), `kiln-sshd-${kind}-`));
    // sshd reads authorized_keys as the test user.
    await chmod(dir, 0o755);
    try {
      const clientKeyFile = path.join(dir, "client_key");
      await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kiln-test-client", "-f", clientKeyFile]);
      const port = options.port ?? (await freePort());
      let out = "";
      let argv: string[];
      let hostKeyLine: string;
      if (kind === "openssh") {
        await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
        const hostKey = path.join(dir, "ssh_host_ed25519_key");
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
        hostKeyLine = publicKeyOf(await readFile(`${hostKey}.pub`, "utf8"));
        const authorizedKeys = path.join(dir, "authorized_keys");
        const extraKeys = (options.authorizedKeys ?? []).map((k) => `${k.trim()}\n`).join("");
        await writeFile(authorizedKeys, `${(await readFile(`${clientKeyFile}.pub`, "utf8")).trim()}\n${extraKeys}`, { mode: 0o644 });
        const config = path.join(dir, "sshd_config");
        await writeFile(
          config,
          [
            // First: sshd keeps the first value it reads for a keyword, so these override the defaults below.
            ...(options.extraConfig ?? []),
            `Port ${port}`,
            "ListenAddress 127.0.0.1",
            `HostKey ${hostKey}`,
            `PidFile ${path.join(dir, "sshd.pid")}`,
            `AuthorizedKeysFile ${authorizedKeys}`,
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin yes",
            "StrictModes no",
            "UsePAM no",
            "UseDNS no",
            "LogLevel VERBOSE",
            `Subsystem sftp internal-sftp`,
            "",
          ].join("\n"),
        );
        argv = [SSHD, "-D", "-e", "-f", config];
      } else {
        if ((options.authorizedKeys ?? []).length > 0) throw new Error("authorizedKeys is for OpenSSH servers only (use authorizeKey)");
        const hostKey = path.join(dir, "dropbear_ed25519_host_key");
        await run("dropbearkey", ["-t", "ed25519", "-f", hostKey]);
        hostKeyLine = publicKeyOf((await run("dropbearkey", ["-y", "-f", hostKey])).stdout);
        // dropbear has no AuthorizedKeysFile option: it reads the test user's ~/.ssh/authorized_keys.
        await authorizeInHome(await readFile(`${clientKeyFile}.pub`, "utf8"));
        argv = [DROPBEAR, "-F", "-E", "-p", `127.0.0.1:${port}`, "-r", hostKey, "-P", path.join(dir, "dropbear.pid")];
      }
      const append = (d: Buffer): void => {
        out += d.toString();
      };
      const proc = spawnServer(argv, append);
      const server = new SshServer(kind, port, dir, clientKeyFile, proc, () => out, argv, append, hostKeyLine);
      try {
        await waitForBanner(port, proc, () => out);
      } catch (err) {
        await server.stop();
        throw err;
      }
      return server;
    } catch (err) {
      if (kind === "dropbear") await unauthorizeInHome(await readFile(`${path.join(dir, "client_key")}.pub`, "utf8").catch(() => ""));
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Authorizes a public key (an authorized_keys line) for the test user on this server, as a builder injecting a
   * temporary key would; `stop()` removes it again.
   */
  async authorizeKey(publicKey: string): Promise<void> {
    const line = publicKey.trim();
    if (this.kind === "openssh") {
      await writeFile(path.join(this.dir, "authorized_keys"), `${line}\n`, { flag: "a" });
    } else {
      await authorizeInHome(line);
      this.homeKeys.push(line);
    }
  }
  private readonly homeKeys: string[] = [];

  /** What the server logged so far. */
  get log(): string {
    return this.output();
  }

  /** Simulates a crash: SIGKILLs the listener and every process it forked (the sessions). */
  async crash(): Promise<void> {
    const root = this.proc.pid;
    if (root === undefined) return;
    const { stdout } = await run("ps", ["-e", "-o", "pid=,ppid="]);
    const children = new Map<number, number[]>();
    for (const line of stdout.split("\n")) {
      const [pid, ppid] = line.trim().split(/\s+/).map(Number);
      if (pid === undefined || ppid === undefined || Number.isNaN(pid)) continue;
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    }
    const tree: number[] = [];
    const walk = (pid: number): void => {
      for (const c of children.get(pid) ?? []) {
        tree.push(c);
        walk(c);
      }
    };
    walk(root);
    this.proc.kill("SIGKILL");
    for (const pid of tree) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  /** Starts the server again after `crash()` (a reboot): same port, same host key. */
  async restart(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.proc.once("exit", () => resolve()));
      this.proc.kill("SIGKILL");
      await exited;
    }
    this.proc = spawnServer(this.argv, this.append);
    await waitForBanner(this.port, this.proc, this.output);
  }

  /** Kills the server (and the sessions it forked) and removes its temp files. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((resolve) => p.once("exit", () => resolve()));
      p.kill("SIGTERM");
      const timer = setTimeout(() => p.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    if (this.kind === "dropbear") {
      for (const k of this.homeKeys.splice(0)) await unauthorizeInHome(k);
      await unauthorizeInHome(await readFile(`${this.clientKeyFile}.pub`, "utf8").catch(() => ""));
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
