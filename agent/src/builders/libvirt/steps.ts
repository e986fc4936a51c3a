/**
 * The libvirt builder's steps (packer-plugin-libvirt's pipeline, reordered so a crash never orphans anything):
 *
 *   mark domain → create volumes → start domain → [boot_command] → connect → provision → shut down → keep artifact
 *
 * The domain is defined first, carrying kiln metadata that lists the volumes it is about to create; the volumes are
 * created next; the domain is redefined with its disks and started. Cleanups run in reverse: destroy the domain,
 * delete the volumes kiln created (the artifact volume only when the build did not succeed), undefine the domain.
 * `reapLeftovers` uses the same metadata after a crash.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { BuildFailedError, UnavailableError, ensureKilnError, type LibvirtBuilderConfig } from "../../../../core/src/mod.js";
import { SshCommunicator, sshOptionsFromConfig } from "../../communicators/ssh.js";
import { reservePort, type PortReservation } from "../../vm/ports.js";

/** Where the SSH forward of a user-net interface listens: Packer's host_port_min..max defaults. */
const FORWARD_PORT_MIN = 2222;
const FORWARD_PORT_MAX = 4444;
import type { Step, StepContext } from "../../pipeline/mod.js";
import type { PipelineState } from "../../pipeline/mod.js";
import { cancellationOf, sleep, throwIfCancelled } from "../../util/abort.js";
import { ownerToken } from "../../util/owner.js";
import { linuxKeycode, parseBootCommand, renderBootCommand } from "../../vm/boot_command.js";
import { sharedSourceCache } from "../../vm/source_cache.js";
import { domainXml, volumeXml, type BuildPlan, type KilnMark, type VolumePlan } from "./domain_xml.js";
import { DomainState, LibvirtConnection, type LibvirtDomain } from "./libvirt.js";

const execFileAsync = promisify(execFile);

export interface LibvirtBuildState extends PipelineState {
  conn?: LibvirtConnection;
  domain?: LibvirtDomain;
  /** Volumes this build created (`pool/name`), in creation order. */
  created: VolumePlan[];
  /** Disk formats by `pool/name`. */
  formats: Map<string, string>;
  /** The 127.0.0.1 port forwarded to the guest's SSH, held for the build so concurrent builds never share it. */
  forwardReservation?: PortReservation;
  forwardPort?: number;
  sshHost?: string;
  sshPort?: number;
  communicator?: SshCommunicator;
  /** Set once the build succeeded: the artifact volume is kept. */
  artifactKept: boolean;
}

export interface StepSetup {
  readonly config: LibvirtBuilderConfig;
  readonly plan: BuildPlan;
  readonly domainType: "kvm" | "qemu";
  readonly jobId: string;
  readonly buildName: string;
  readonly workDir: string;
  /** The owner recorded in the domain's mark. @default this agent process (util/owner.ts) */
  readonly owner?: string;
}

function mark(setup: StepSetup, artifactKept: boolean): KilnMark {
  return {
    jobId: setup.jobId,
    buildName: setup.buildName,
    owner: setup.owner ?? ownerToken(),
    volumes: setup.plan.volumes.filter((v) => v.source !== undefined).map((v) => ({ pool: v.pool, name: v.name, kept: v.artifact && artifactKept })),
  };
}

function xmlFor(setup: StepSetup, state: LibvirtBuildState, withDevices: boolean): string {
  return domainXml({
    config: setup.config,
    plan: setup.plan,
    domainType: setup.domainType,
    mark: mark(setup, state.artifactKept),
    diskFormats: withDevices ? state.formats : undefined,
    forwardPort: state.forwardPort,
    guestPort: setup.config.ssh_port,
  });
}

/** Destroys (if running) and undefines the build's domain; tolerant of a domain that is already gone. */
async function removeDomain(state: LibvirtBuildState, name: string): Promise<void> {
  const conn = state.conn;
  if (conn === undefined) return;
  const domain = state.domain ?? (await conn.lookup(name));
  if (domain === undefined) return;
  const info = await domain.getInfo().catch(() => undefined);
  if (info !== undefined && info.state !== DomainState.Shutoff) await domain.destroy().catch(() => undefined);
  await domain.undefine().catch(() => undefined);
  state.domain = undefined;
}

/** Connects to libvirtd and defines the domain with kiln's mark (no devices yet). Cleanup: undefine it. */
export function defineDomainStep(setup: StepSetup): Step<LibvirtBuildState> {
  return {
    name: "define-domain",
    async run(ctx, state) {
      state.conn = await LibvirtConnection.open(setup.config.libvirt_uri);
      if ((await state.conn.lookup(setup.plan.domainName)) !== undefined) {
        throw new BuildFailedError(`a libvirt domain named ${setup.plan.domainName} already exists: choose another domain_name or remove it`);
      }
      ctx.log("say", `Defining domain ${setup.plan.domainName} (type ${setup.domainType})`);
      state.domain = await state.conn.define(xmlFor(setup, state, false));
      return "continue";
    },
    async cleanup(state, _outcome, ctx) {
      ctx.log("say", `Undefining domain ${setup.plan.domainName}`);
      await removeDomain(state, setup.plan.domainName);
      await state.conn?.close();
      state.conn = undefined;
    },
  };
}

async function volumeFormat(conn: LibvirtConnection, pool: string, name: string, signal: AbortSignal): Promise<string> {
  const xml = await conn.virsh(["vol-dumpxml", "--pool", pool, name], signal);
  const format = /<format type=['"]([\w-]+)['"]/.exec(xml)?.[1] ?? "raw";
  // A dir pool reports ISO images as "iso": QEMU reads them as raw.
  return format === "iso" ? "raw" : format;
}

async function volumeCapacityBytes(conn: LibvirtConnection, pool: string, name: string, signal: AbortSignal): Promise<string> {
  const xml = await conn.virsh(["vol-dumpxml", "--pool", pool, name], signal);
  return `${/<capacity unit=['"]bytes['"]>(\d+)</.exec(xml)?.[1] ?? "0"}`;
}

/** The image format `qemu-img info` sees in a file. */
async function imageFormat(file: string, signal: AbortSignal): Promise<string> {
  const { stdout } = await execFileAsync("qemu-img", ["info", "--output=json", file], { signal }).catch((err: unknown) => {
    if (signal.aborted) throw cancellationOf(signal);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UnavailableError("qemu-img is not installed on this agent: apt-get install qemu-utils", { cause: err });
    throw new BuildFailedError(`qemu-img info ${file}: ${(err as { stderr?: string }).stderr?.trim() ?? String(err)}`, { cause: err });
  });
  return (JSON.parse(stdout) as { format?: string }).format ?? "raw";
}

/** Downloads (through the agent's checksum-verified source cache) and uploads an external source into the pool. */
async function createExternalVolume(conn: LibvirtConnection, v: VolumePlan, ctx: StepContext, workDir: string): Promise<void> {
  const src = v.source;
  if (src === undefined) return;
  const checksum = src.checksum !== "" ? src.checksum : "none";
  if (src.checksum === "") ctx.log("message", `Warning: volume ${v.pool}/${v.name}: no source checksum, the download is not verified`);
  const fetched = await sharedSourceCache().fetch({
    urls: src.urls,
    checksum,
    workDir,
    signal: ctx.signal,
    log: (text) => ctx.log("message", text),
    extension: "img",
  });
  const format = await imageFormat(fetched.path, ctx.signal);
  const { size } = await stat(fetched.path);
  ctx.log("say", `Uploading ${path.basename(fetched.path)} (${format}, ${size} bytes) into ${v.pool}/${v.name}`);
  await conn.virsh(["vol-create-as", v.pool, v.name, String(size), "--format", format], ctx.signal);
  await conn.virsh(["vol-upload", "--pool", v.pool, v.name, fetched.path], ctx.signal);
  if (v.capacity !== undefined) await conn.virsh(["vol-resize", "--pool", v.pool, v.name, v.capacity], ctx.signal);
}

/** Creates one volume from its source. */
async function createVolume(conn: LibvirtConnection, v: VolumePlan, ctx: StepContext, tmp: string, workDir: string): Promise<void> {
  const src = v.source;
  if (src === undefined) return;
  const signal = ctx.signal;
  if (src.type === "external") return createExternalVolume(conn, v, ctx, workDir);
  const srcFormat = await volumeFormat(conn, src.pool, src.volume, signal);
  const format = v.format ?? "qcow2";
  if (src.type === "backing-store") {
    const backingPath = (await conn.virsh(["vol-path", "--pool", src.pool, src.volume], signal)).trim();
    await conn.virsh(
      ["vol-create-as", v.pool, v.name, v.capacity ?? "0", "--format", format, "--backing-vol", backingPath, "--backing-vol-format", srcFormat],
      signal,
    );
    return;
  }
  // cloning: a full copy (converted to the volume's format), grown to the configured capacity.
  const capacity = v.capacity ?? (await volumeCapacityBytes(conn, src.pool, src.volume, signal));
  const file = path.join(tmp, `${v.name}.xml`);
  await writeFile(file, volumeXml(v, capacity, format));
  await conn.virsh(["vol-create-from", v.pool, file, src.volume, "--inputpool", src.pool], signal);
}

/** Creates the volumes that have a source; checks the others exist. Cleanup deletes what it created. */
export function createVolumesStep(setup: StepSetup): Step<LibvirtBuildState> {
  return {
    name: "create-volumes",
    async run(ctx, state) {
      const conn = state.conn;
      if (conn === undefined) throw new BuildFailedError("internal: no libvirt connection");
      const tmp = await mkdtemp(path.join(tmpdir(), "kiln-libvirt-"));
      try {
        for (const v of setup.plan.volumes) {
          throwIfCancelled(ctx.signal);
          if (v.source === undefined) {
            ctx.log("say", `Using existing volume ${v.pool}/${v.name}`);
            try {
              state.formats.set(`${v.pool}/${v.name}`, await volumeFormat(conn, v.pool, v.name, ctx.signal));
            } catch (err) {
              throw new BuildFailedError(
                `Error while looking up volume ${v.pool}/${v.name}: ${ensureKilnError(err).message} (a volume without a source must exist before the build)`,
                { cause: err },
              );
            }
            continue;
          }
          ctx.log("say", `Preparing volume ${v.pool}/${v.name} (${v.source.type} of ${v.source.pool}/${v.source.volume})`);
          state.created.push(v); // before creating: a cancel half-way still deletes it
          await createVolume(conn, v, ctx, tmp, setup.workDir);
          state.formats.set(`${v.pool}/${v.name}`, await volumeFormat(conn, v.pool, v.name, ctx.signal));
        }
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      return "continue";
    },
    async cleanup(state, _outcome, ctx) {
      const conn = state.conn;
      if (conn === undefined) return;
      // The domain must not hold the disks while they are deleted.
      await removeDomainRuntime(state);
      for (const v of state.created.splice(0).reverse()) {
        if (v.artifact && state.artifactKept) continue;
        ctx.log("say", `Deleting volume ${v.pool}/${v.name}`);
        await conn.virsh(["vol-delete", "--pool", v.pool, v.name]).catch((err: unknown) => {
          if (!/not found|no storage vol/i.test(ensureKilnError(err).message)) ctx.log("error", ensureKilnError(err).message);
        });
      }
    },
  };
}

/** Stops a running domain (keeps its definition). */
async function removeDomainRuntime(state: LibvirtBuildState): Promise<void> {
  const domain = state.domain;
  if (domain === undefined) return;
  const info = await domain.getInfo().catch(() => undefined);
  if (info !== undefined && info.state !== DomainState.Shutoff) await domain.destroy().catch(() => undefined);
}


/** Redefines the domain with its disks and interfaces, and starts it. Cleanup: destroy it if it still runs. */
export function startDomainStep(setup: StepSetup): Step<LibvirtBuildState> {
  return {
    name: "start-domain",
    async run(ctx, state) {
      const conn = state.conn;
      if (conn === undefined) throw new BuildFailedError("internal: no libvirt connection");
      if (setup.plan.interfaces.some((n) => n.type === "user" && n.communicator) && setup.config.communicator === "ssh") {
        state.forwardReservation ??= await reservePort(FORWARD_PORT_MIN, FORWARD_PORT_MAX, "127.0.0.1", "SSH forward port");
        state.forwardPort = state.forwardReservation.port;
      }
      state.domain = await conn.define(xmlFor(setup, state, true));
      ctx.log("say", `Starting domain ${setup.plan.domainName}`);
      try {
        await state.domain.create();
      } catch (err) {
        throw new BuildFailedError(`Error starting domain ${setup.plan.domainName}: ${(err as Error).message}`, { cause: err });
      }
      return "continue";
    },
    async cleanup(state) {
      await removeDomainRuntime(state);
      state.forwardReservation?.release();
    },
  };
}

/** Finds the guest's address: the SSH forward of a user-net interface, ssh_host, or libvirt's interface addresses. */
async function guestAddress(setup: StepSetup, state: LibvirtBuildState, signal: AbortSignal, deadline: number): Promise<{ host: string; port: number }> {
  const c = setup.config;
  if ((c.ssh_host ?? "") !== "") return { host: c.ssh_host ?? "", port: c.ssh_port };
  if (state.forwardPort !== undefined) return { host: "127.0.0.1", port: state.forwardPort };
  const nic = setup.plan.interfaces.find((n) => n.communicator);
  const conn = state.conn;
  if (nic === undefined || conn === undefined) throw new BuildFailedError("no network interface to reach the domain through: add a network_interface or set ssh_host");
  const source = c.network_address_source ?? "agent";
  for (;;) {
    throwIfCancelled(signal);
    const out = await conn.virsh(["domifaddr", setup.plan.domainName, "--source", source], signal).catch(() => "");
    for (const line of out.split("\n")) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.toLowerCase() === nic.mac && cols[2] === "ipv4" && cols[3] !== undefined) return { host: cols[3].split("/")[0] ?? "", port: c.ssh_port };
    }
    if (Date.now() > deadline) {
      throw new BuildFailedError(`Timeout waiting for an address of interface ${nic.mac} (network_address_source ${source}); set ssh_host or change network_address_source`);
    }
    await sleep(1000, signal);
  }
}

/** Finds the guest and opens the SSH communicator. Cleanup closes it. */
export function connectStep(setup: StepSetup): Step<LibvirtBuildState> {
  return {
    name: "connect",
    async run(ctx, state) {
      const c = setup.config;
      if (c.communicator !== "ssh") return "continue";
      const timeout = c.ssh_timeout ?? c.ssh_wait_timeout ?? 5 * 60_000;
      const address = await guestAddress(setup, state, ctx.signal, Date.now() + timeout);
      state.sshHost = address.host;
      state.sshPort = address.port;
      ctx.log("say", `Using ssh communicator to connect: ${address.host}:${address.port}`);
      ctx.log("say", "Waiting for SSH to become available...");
      const seen = new Set<string>();
      state.communicator = await SshCommunicator.connect(
        {
          // Every communicator option (host-key pinning, bastion, proxy, ...), at the address found for the guest.
          ...sshOptionsFromConfig(c, address.host),
          ssh_port: address.port,
          ssh_timeout: timeout,
          // QEMU's user network accepts TCP before the guest's sshd runs, so early attempts fail in the handshake:
          // only ssh_timeout bounds them unless the template sets ssh_handshake_attempts.
          ssh_handshake_attempts: c.ssh_handshake_attempts ?? (state.forwardPort !== undefined ? 1_000_000 : undefined),
        },
        {
          signal: ctx.signal,
          workDir: setup.workDir,
          log: (text) => {
            const reason = text.replace(/^SSH attempt \d+ /, "SSH attempt ");
            if (!seen.has(reason)) ctx.log("message", text);
            seen.add(reason);
          },
        },
      );
      ctx.log("say", "Connected to SSH!");
      return "continue";
    },
    async cleanup(state) {
      state.communicator?.close();
      state.communicator = undefined;
    },
  };
}

/** Waits until the domain is shut off; false when `timeoutMs` passed first. */
async function waitShutoff(domain: LibvirtDomain, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await domain.getInfo();
    if (info.state === DomainState.Shutoff) return true;
    if (Date.now() > deadline) return false;
    await sleep(250, signal);
  }
}

/**
 * Shuts the domain down: `shutdown_command` in the guest when set, else libvirt's shutdown with `shutdown_mode`;
 * after `shutdown_timeout` the domain is destroyed, with a warning (the plugin's behaviour).
 */
export function shutdownStep(setup: StepSetup): Step<LibvirtBuildState> {
  return {
    name: "shutdown",
    async run(ctx, state) {
      const domain = state.domain;
      const conn = state.conn;
      if (domain === undefined || conn === undefined) throw new BuildFailedError("internal: no domain to shut down");
      const c = setup.config;
      if ((c.shutdown_command ?? "") !== "" && state.communicator !== undefined) {
        ctx.log("say", "Gracefully halting virtual machine...");
        // The guest goes away under the command: its exit status (or the dropped connection) does not matter.
        void state.communicator.start(c.shutdown_command ?? "", { signal: ctx.signal }).catch(() => undefined);
      } else {
        ctx.log("say", `Shutting down domain ${setup.plan.domainName} (mode ${c.shutdown_mode})`);
        if (c.shutdown_mode === "auto") await domain.shutdown();
        else await conn.virsh(["shutdown", setup.plan.domainName, "--mode", c.shutdown_mode], ctx.signal);
      }
      if (!(await waitShutoff(domain, c.shutdown_timeout, ctx.signal))) {
        ctx.log("error", `Domain did not stop within shutdown_timeout (${c.shutdown_timeout / 1000}s): destroying it`);
        await domain.destroy().catch(() => undefined);
      }
      state.communicator?.close();
      state.communicator = undefined;
      ctx.log("say", "Domain stopped");
      return "continue";
    },
  };
}

/** Marks the artifact volume as kept (in the domain's metadata too, so the reaper spares it), optionally exports it. */
export function keepArtifactStep(setup: StepSetup): Step<LibvirtBuildState> {
  return {
    name: "artifact",
    async run(ctx, state) {
      const conn = state.conn;
      if (conn === undefined) throw new BuildFailedError("internal: no libvirt connection");
      const artifact = setup.plan.volumes.find((v) => v.artifact);
      const exportPath = setup.config.export_path ?? "";
      if (artifact !== undefined && exportPath !== "") {
        const target = path.resolve(setup.workDir, exportPath);
        ctx.log("say", `Exporting volume ${artifact.pool}/${artifact.name} to ${exportPath}`);
        await conn.virsh(["vol-download", "--pool", artifact.pool, artifact.name, target], ctx.signal);
      }
      state.artifactKept = true;
      state.domain = await conn.define(xmlFor(setup, state, true));
      return "continue";
    },
  };
}

/**
 * Types `boot_command` after `boot_wait` through libvirt's send-key (Linux keycodes). send-key presses a chord and
 * releases it after the hold time, so `<xOn>`/`<xOff>` are emulated: a held key joins every chord typed until it is
 * released (`<leftAltOn><f2><leftAltOff>` sends alt+f2).
 */
export function bootCommandStep(setup: StepSetup, render: (text: string, data: Readonly<Record<string, unknown>>) => string): Step<LibvirtBuildState> {
  return {
    name: "boot-command",
    async run(ctx, state) {
      const c = setup.config;
      const command = c.boot_command ?? [];
      if (command.length === 0) return "continue";
      const conn = state.conn;
      if (conn === undefined) throw new BuildFailedError("internal: no libvirt connection");
      const text = renderBootCommand(command, { HTTPIP: "", HTTPPort: "", Name: setup.plan.domainName }, render);
      const actions = parseBootCommand(text);
      const wait = c.boot_wait ?? 10_000;
      if (wait > 0) {
        ctx.log("say", `Waiting ${wait / 1000}s for boot...`);
        await sleep(wait, ctx.signal);
      }
      ctx.log("say", "Typing the boot command...");
      const hold = Math.max(c.key_hold_time ?? 0, 5);
      const interval = c.boot_keygroup_interval ?? 0;
      const held: string[] = [];
      for (const action of actions) {
        throwIfCancelled(ctx.signal);
        if (action.type === "wait") {
          await sleep(action.ms, ctx.signal);
          continue;
        }
        if (action.type === "down") {
          if (!held.includes(action.key)) held.push(action.key);
          continue;
        }
        if (action.type === "up") {
          const at = held.indexOf(action.key);
          if (at >= 0) held.splice(at, 1);
          continue;
        }
        const keys = [...held, ...action.keys.filter((k) => !held.includes(k))].map((k) => String(linuxKeycode(k)));
        await conn.virsh(["send-key", setup.plan.domainName, "--codeset", "linux", "--holdtime", String(hold), ...keys], ctx.signal);
        if (interval > 0) await sleep(interval, ctx.signal);
      }
      return "continue";
    },
  };
}
