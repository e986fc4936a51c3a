/**
 * A private Docker engine for tests: Debian's `dockerd` on its own unix socket, with its own data root, exec root,
 * pid file and containerd namespace in a temp dir, no bridge network and no iptables rules, so it needs no system
 * service and leaves nothing on the host. Optionally it also listens on a loopback TCP port with mutual TLS (certs
 * made with openssl), for remote-engine tests. `stop()` stops it and removes everything.
 *
 * No registry is reachable, so base images are made by `importBusyboxImage`: a tiny root file system with the
 * static busybox (Debian `busybox-static`) imported through the Engine API. `DockerRegistry` runs Debian's
 * `docker-registry` on a free loopback port for push/pull tests, optionally with htpasswd auth. Needs root.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync, readSync, closeSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { create as createTar } from "tar";
import { freePort } from "./sshd.js";

const run = promisify(execFile);

export const DOCKERD = "/usr/sbin/dockerd";
export const DOCKER_REGISTRY = "/usr/bin/docker-registry";
export const BUSYBOX = "/bin/busybox";

/** The uid/name of the unprivileged user the busybox image has (for exec_user / USER tests). */
export const IMAGE_USER = { name: "builder", uid: 1000 };

export interface DockerDaemonOptions {
  /** Also listen on 127.0.0.1:<free port> with TLS client verification. */
  readonly tls?: boolean;
}

/** Where a TLS client finds its material (the DOCKER_CERT_PATH layout: ca.pem, cert.pem, key.pem). */
export interface TlsEndpoint {
  readonly host: string;
  readonly certPath: string;
}

async function waitFor(what: string, probe: () => Promise<boolean>, proc: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited (${proc.exitCode ?? proc.signalCode}) before it was ready:\n${output()}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs} ms:\n${output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopProcess(proc: ChildProcess, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

async function makeTlsMaterial(dir: string): Promise<{ server: Record<"ca" | "cert" | "key", string>; clientDir: string }> {
  const ssl = async (...args: string[]): Promise<void> => {
    await run("openssl", args, { cwd: dir });
  };
  const clientDir = path.join(dir, "client");
  await mkdir(clientDir);
  await ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=kiln-test-ca", "-keyout", "ca-key.pem", "-out", "ca.pem");
  await ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server-key.pem", "-out", "server.csr");
  await writeFile(path.join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  await ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "1", "-extfile", "server.ext", "-out", "server.pem");
  await ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kiln-test-client", "-keyout", "client/key.pem", "-out", "client.csr");
  await writeFile(path.join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  await ssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "1", "-extfile", "client.ext", "-out", "client/cert.pem");
  await copyFile(path.join(dir, "ca.pem"), path.join(clientDir, "ca.pem"));
  return { server: { ca: path.join(dir, "ca.pem"), cert: path.join(dir, "server.pem"), key: path.join(dir, "server-key.pem") }, clientDir };
}

export class DockerDaemon implements AsyncDisposable {
  readonly docker: Docker;

  private constructor(
    readonly dir: string,
    readonly socketPath: string,
    private readonly proc: ChildProcess,
    private readonly output: () => string,
    /** Set when started with `tls: true`. */
    readonly tls: TlsEndpoint | undefined,
  ) {
    this.docker = new Docker({ socketPath });
  }

  /** `DOCKER_HOST` for this engine. */
  get host(): string {
    return `unix://${this.socketPath}`;
  }

  static async start(options: DockerDaemonOptions = {}): Promise<DockerDaemon> {
    if (!existsSync(DOCKERD)) throw new Error(`${DOCKERD} is missing: install the Debian package docker.io`);
    // Short path: containerd's sockets live under the exec root and unix socket paths are limited to 108 bytes.
    const dir = await mkdtemp(path.join(tmpdir(), "kd-"));
    try {
      const socketPath = path.join(dir, "docker.sock");
      const name = path.basename(dir);
      const args = [
        `--host=unix://${socketPath}`,
        `--data-root=${path.join(dir, "data")}`,
        `--exec-root=${path.join(dir, "exec")}`,
        `--pidfile=${path.join(dir, "docker.pid")}`,
        `--containerd-namespace=${name}`,
        `--containerd-plugins-namespace=${name}-plugins`,
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        "--userland-proxy=false",
        "--log-level=warn",
      ];
      let tls: TlsEndpoint | undefined;
      if (options.tls === true) {
        const material = await makeTlsMaterial(dir);
        const port = await freePort();
        args.push(`--host=tcp://127.0.0.1:${port}`, "--tlsverify", `--tlscacert=${material.server.ca}`, `--tlscert=${material.server.cert}`, `--tlskey=${material.server.key}`);
        tls = { host: `tcp://127.0.0.1:${port}`, certPath: material.clientDir };
      }
      let out = "";
      const proc = spawn(DOCKERD, args, { stdio: ["ignore", "pipe", "pipe"] });
      proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
      const daemon = new DockerDaemon(dir, socketPath, proc, () => out, tls);
      try {
        await waitFor("dockerd", async () => existsSync(socketPath) && (await daemon.docker.ping()) !== undefined, proc, () => out, 60_000);
      } catch (err) {
        await daemon.stop();
        throw err;
      }
      return daemon;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** What dockerd logged so far. */
  get log(): string {
    return this.output();
  }

  /**
   * Imports a busybox root file system as `ref` (through the Engine API, as `docker import` does): /bin with every
   * applet, /tmp, /etc/passwd with root and `builder` (uid 1000). Returns the image id.
   */
  async importBusyboxImage(ref: string): Promise<string> {
    if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install the Debian package busybox-static`);
    const head = Buffer.alloc(4096);
    const fd = openSync(BUSYBOX, "r");
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    if (head.includes("ld-linux")) throw new Error(`${BUSYBOX} is dynamically linked: install the Debian package busybox-static`);
    const root = await mkdtemp(path.join(this.dir, "rootfs-"));
    try {
      for (const d of ["bin", "etc", "tmp", "root", "home/builder"]) await mkdir(path.join(root, d), { recursive: true });
      await chmod(path.join(root, "tmp"), 0o1777);
      await copyFile(BUSYBOX, path.join(root, "bin", "busybox"));
      const { stdout } = await run(BUSYBOX, ["--list"]);
      for (const applet of stdout.split("\n").map((s) => s.trim())) {
        if (applet !== "" && applet !== "busybox") await symlink("busybox", path.join(root, "bin", applet));
      }
      await writeFile(path.join(root, "etc", "passwd"), `root:x:0:0:root:/root:/bin/sh\n${IMAGE_USER.name}:x:${IMAGE_USER.uid}:${IMAGE_USER.uid}::/home/builder:/bin/sh\n`);
      await writeFile(path.join(root, "etc", "group"), `root:x:0:\n${IMAGE_USER.name}:x:${IMAGE_USER.uid}:\n`);
      const [repo = ref, tag = "latest"] = ref.split(":");
      const stream = await this.docker.importImage(createTar({ cwd: root }, ["."]) as unknown as string, { repo, tag });
      const messages = await new Promise<{ status?: string; error?: string }[]>((resolve, reject) =>
        this.docker.modem.followProgress(stream, (err: Error | null, res: { status?: string; error?: string }[]) => (err ? reject(err) : resolve(res))),
      );
      const failed = messages.find((m) => m.error !== undefined);
      if (failed) throw new Error(`docker import failed: ${failed.error}`);
      return (await this.docker.getImage(ref).inspect()).Id;
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }

  /** Every container (running or not) and every dangling image the engine has: what a clean build leaves is none. */
  async leftovers(): Promise<{ containers: string[]; danglingImages: string[] }> {
    const containers = await this.docker.listContainers({ all: true });
    const dangling = await this.docker.listImages({ filters: JSON.stringify({ dangling: ["true"] }) } as unknown as Docker.ListImagesOptions);
    return { containers: containers.map((c) => `${c.Id.slice(0, 12)} ${c.Image} ${c.State}`), danglingImages: dangling.map((i) => i.Id) };
  }

  /** Stops dockerd (it stops its containers and containerd) and removes its directories. */
  async stop(): Promise<void> {
    try {
      const containers = await this.docker.listContainers({ all: true });
      await Promise.all(containers.map((c) => this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    } catch {
      // not running
    }
    await stopProcess(this.proc, 30_000);
    await rm(this.dir, { recursive: true, force: true, maxRetries: 5 });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

export const HTPASSWD = "/usr/bin/htpasswd";

export interface DockerRegistryOptions {
  /** Require this login (htpasswd basic auth; the bcrypt hash is made with Debian's apache2-utils `htpasswd`). */
  readonly auth?: { readonly username: string; readonly password: string };
}

/** Debian's docker-registry (distribution) on a free loopback port, storing in a temp dir. */
export class DockerRegistry implements AsyncDisposable {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly proc: ChildProcess,
    private readonly auth: DockerRegistryOptions["auth"],
  ) {}

  /** `127.0.0.1:<port>`, the registry part of image names (loopback registries need no TLS for dockerd). */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(options: DockerRegistryOptions = {}): Promise<DockerRegistry> {
    if (!existsSync(DOCKER_REGISTRY)) throw new Error(`${DOCKER_REGISTRY} is missing: install the Debian package docker-registry`);
    if (options.auth !== undefined && !existsSync(HTPASSWD)) throw new Error(`${HTPASSWD} is missing: install the Debian package apache2-utils`);
    const dir = await mkdtemp(path.join(tmpdir(), "kiln-registry-"));
    try {
      const port = await freePort();
      const config = path.join(dir, "config.yml");
      const authLines: string[] = [];
      if (options.auth !== undefined) {
        const { stdout } = await run(HTPASSWD, ["-nbB", options.auth.username, options.auth.password]);
        await writeFile(path.join(dir, "htpasswd"), stdout.trim() + "\n");
        authLines.push("auth:", "  htpasswd:", "    realm: kiln-test", `    path: ${path.join(dir, "htpasswd")}`);
      }
      await writeFile(
        config,
        [
          "version: 0.1",
          "log:",
          "  level: warn",
          "storage:",
          "  filesystem:",
          `    rootdirectory: ${path.join(dir, "data")}`,
          "  delete:",
          "    enabled: true",
          "http:",
          `  addr: 127.0.0.1:${port}`,
          ...authLines,
          "",
        ].join("\n"),
      );
      let out = "";
      const proc = spawn(DOCKER_REGISTRY, ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
      proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
      const registry = new DockerRegistry(port, dir, proc, options.auth);
      try {
        await waitFor("docker-registry", async () => (await fetch(`http://127.0.0.1:${port}/v2/`, { headers: registry.authHeaders() })).ok, proc, () => out, 30_000);
      } catch (err) {
        await registry.stop();
        throw err;
      }
      return registry;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Basic auth for the registry's own login, if it has one. */
  authHeaders(): Record<string, string> {
    if (this.auth === undefined) return {};
    return { authorization: `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString("base64")}` };
  }

  /** The tags the registry holds for `repository` (its HTTP API), empty when it has none. */
  async tags(repository: string): Promise<string[]> {
    const res = await fetch(`http://${this.address}/v2/${repository}/tags/list`, { headers: this.authHeaders() });
    if (!res.ok) return [];
    return ((await res.json()) as { tags?: string[] | null }).tags ?? [];
  }

  async stop(): Promise<void> {
    await stopProcess(this.proc, 10_000);
    await rm(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
