/**
 * VMware's vCenter simulator (vcsim, from govmomi) for the vSphere builder tests: a ~30-line Go `main` around
 * `simulator.VPX()` built from Debian's govmomi source with Debian's Go in GOPATH mode, cached under
 * `$KILN_TEST_CACHE` (default `<tmpdir>/kiln-test-cache`) keyed by the govmomi and Go versions, and started per test
 * on an ephemeral 127.0.0.1 port with TLS (its own self-signed certificate).
 *
 * The inventory is vcsim's default vCenter model: datacenter `DC0`, cluster `DC0_C0` with hosts `DC0_C0_H0..2`,
 * a standalone host `DC0_H0`, datastore `LocalDS_0` (a temp dir on this host), network `VM Network`, and a few
 * powered-on VMs (`DC0_H0_VM0`, `DC0_C0_RP0_VM0`, ...).
 *
 * kiln adds methods vcsim 0.24 lacks (./vcsim_overlay/) to a copy of the simulator package at build time.
 *
 * Go is a test-only dependency: when `go` or the govmomi source is missing, {@link Vcsim.start} throws naming the
 * Debian package to install.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { isProcessAlive } from "../../core/src/mod.js";

const run = promisify(execFile);

/** Where Debian's golang-github-vmware-govmomi-dev puts the source (a GOPATH root). */
const GOCODE = "/usr/share/gocode";
const SIMULATOR_DIR = path.join(GOCODE, "src/github.com/vmware/govmomi/simulator");
/** Bump when MAIN_GO changes, so cached binaries are rebuilt. */
const VCSIM_MAIN_VERSION = 2;
/**
 * kiln's additions to the simulator package (methods vcsim 0.24 lacks, see kiln_overlay.go there): built into a copy
 * of the package; their content is part of the cache key.
 */
const OVERLAY_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), "vcsim_overlay");

async function overlayFiles(): Promise<{ name: string; text: string }[]> {
  const names = (await readdir(OVERLAY_DIR)).filter((n) => n.endsWith(".go")).sort();
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(path.join(OVERLAY_DIR, name), "utf8") })));
}

/**
 * The simulator's `main`: the VPX model on 127.0.0.1:0 with TLS; login restricted to VCSIM_USERNAME/VCSIM_PASSWORD
 * when set (vcsim otherwise accepts any non-empty pair); prints `URL <url>` once serving; exits on SIGTERM or when
 * stdin closes (so it never outlives the test process), removing its datastore directories first.
 */
const MAIN_GO = `package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	model.Service.Listen = &url.URL{Host: "127.0.0.1:0"}
	if u := os.Getenv("VCSIM_USERNAME"); u != "" {
		model.Service.Listen.User = url.UserPassword(u, os.Getenv("VCSIM_PASSWORD"))
	}
	model.Service.TLS = new(tls.Config)
	s := model.Service.NewServer()
	fmt.Printf("URL %s\\n", s.URL.String())
	done := make(chan os.Signal, 2)
	signal.Notify(done, syscall.SIGINT, syscall.SIGTERM)
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); done <- syscall.SIGTERM }()
	<-done
	// Remove the datastore directories and exit without s.Close(), which would wait for clients' open long polls.
	model.Remove()
}
`;

/**
 * Go's and govmomi's versions (the cache key). `env` is the environment `go` is looked up in.
 * @throws Error naming the Debian packages to install when Go or the govmomi source is missing
 */
export async function vcsimToolchain(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const missing: string[] = [];
  let goVersion = "";
  try {
    goVersion = (await run("go", ["version"], { env })).stdout.trim();
  } catch {
    missing.push("golang-go");
  }
  if (!existsSync(SIMULATOR_DIR)) missing.push("golang-github-vmware-govmomi-dev");
  if (missing.length > 0) {
    throw new Error(
      `the vSphere builder tests build VMware's vCenter simulator (vcsim) from source: apt-get install ${missing.join(" ")} ` +
        "(deploy/install.sh installs them; Go is a test-only dependency)",
    );
  }
  const govmomi = await run("dpkg-query", ["-W", "-f=${Version}", "golang-github-vmware-govmomi-dev"]).then(
    (r) => r.stdout.trim(),
    () => "unknown",
  );
  const overlay = createHash("sha256");
  for (const file of await overlayFiles()) overlay.update(`${file.name}\0${file.text}\0`);
  return `${goVersion} govmomi ${govmomi} main v${VCSIM_MAIN_VERSION} overlay ${overlay.digest("hex").slice(0, 12)}`;
}

let building: Promise<string> | undefined;

/** The cached vcsim binary, built on first use; one build at a time across test processes (a lock directory). */
export function vcsimBinary(): Promise<string> {
  building ??= buildCached().catch((err: unknown) => {
    building = undefined;
    throw err;
  });
  return building;
}

async function buildCached(): Promise<string> {
  const key = (await vcsimToolchain()).replace(/[^a-zA-Z0-9.]+/g, "-");
  const root = process.env.KILN_TEST_CACHE ?? path.join(tmpdir(), "kiln-test-cache");
  const binary = path.join(root, `vcsim-${key}`);
  if (existsSync(binary)) return binary;
  await mkdir(root, { recursive: true });
  const lock = `${binary}.lock`;
  // mkdir is atomic: the process that creates the lock builds, the others wait for the binary (or a stale lock).
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(path.join(lock, "pid"), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (existsSync(binary)) return binary;
      const owner = Number(await readFile(path.join(lock, "pid"), "utf8").catch(() => "0"));
      if (owner > 0 && !isProcessAlive(owner)) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for another process to build vcsim (lock ${lock})`);
      await sleep(500);
    }
  }
  const work = await mkdtemp(path.join(root, "vcsim-build-"));
  try {
    if (existsSync(binary)) return binary;
    await mkdir(path.join(work, "src/kilnvcsim"), { recursive: true });
    await writeFile(path.join(work, "src/kilnvcsim/main.go"), MAIN_GO);
    // The first GOPATH entry that has a package's directory wins, so govmomi is copied whole (9 MB; a copy of only
    // the simulator would leave its parent directory empty there and hide Debian's), then kiln's additions go in.
    const govmomi = path.join(work, "src/github.com/vmware/govmomi");
    await cp(path.dirname(SIMULATOR_DIR), govmomi, { recursive: true, filter: (src) => !src.endsWith("_test.go") });
    const simulator = path.join(govmomi, "simulator");
    for (const file of await overlayFiles()) await writeFile(path.join(simulator, file.name), file.text);
    const env = {
      ...process.env,
      GOPATH: `${work}:${GOCODE}`,
      GO111MODULE: "off",
      GOCACHE: path.join(root, "go-build-cache"),
      GOFLAGS: "",
      CGO_ENABLED: "0",
    };
    try {
      await run("go", ["build", "-o", path.join(work, "vcsim"), "kilnvcsim"], { cwd: work, env, maxBuffer: 16 << 20 });
    } catch (err) {
      throw new Error(`building vcsim failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
    }
    await rename(path.join(work, "vcsim"), binary);
    return binary;
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(path.join(lock, "pid"), { force: true });
    await rmdir(lock).catch(() => undefined);
  }
}


export interface VcsimOptions {
  /** Accept only this username/password pair (vcsim otherwise accepts any non-empty pair). */
  readonly username?: string;
  readonly password?: string;
  /** More environment for the simulator (e.g. DOCKER_HOST for its container-backed VMs). */
  readonly env?: Readonly<Record<string, string>>;
}

/** A running vcsim. `stop()` ends it and waits for it to exit (vcsim removes its datastore dirs on exit). */
export class Vcsim implements AsyncDisposable {
  /** `host:port` (vcenter_server in templates). */
  readonly server: string;
  /** The SDK endpoint, `https://127.0.0.1:<port>/sdk`. */
  readonly url: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private stderr = "";

  private constructor(child: ChildProcess, url: URL, exited: Promise<void>) {
    this.child = child;
    child.stderr?.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-16_000);
    });
    this.exited = exited;
    this.server = url.host;
    this.url = `${url.protocol}//${url.host}${url.pathname}`;
  }

  /** Builds (once, cached) and starts a simulator. @throws naming the Debian package when Go or govmomi is missing */
  static async start(options: VcsimOptions = {}): Promise<Vcsim> {
    const binary = await vcsimBinary();
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, VCSIM_USERNAME: options.username ?? "", VCSIM_PASSWORD: options.password ?? "" };
    const child = spawn(binary, [], { stdio: ["pipe", "pipe", "pipe"], env });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const url = await new Promise<URL>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`vcsim did not start within 60s: ${stderr}`)), 60_000);
      child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /^URL (\S+)$/m.exec(out);
        if (m?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(new URL(m[1]));
        }
      });
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`vcsim exited (${code}) before serving: ${stderr}`));
      });
    }).catch((err: unknown) => {
      child.kill("SIGKILL");
      throw err;
    });
    child.stdout?.resume();
    return new Vcsim(child, url, exited);
  }

  /** The simulator's recent stderr (its log, and Go panics), for test failure messages. */
  get log(): string {
    return this.stderr;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const killed = await Promise.race([this.exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!killed) this.child.kill("SIGKILL");
    }
    await this.exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
