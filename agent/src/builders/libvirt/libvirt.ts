/**
 * The libvirt connection the builder uses: `@unraid/libvirt` for domains (define, start, destroy, undefine, list,
 * XML), loaded lazily so kiln installs and runs on hosts without libvirt; `virsh` (libvirt-clients) for what that
 * binding does not expose: storage volumes, send-key, interface addresses and shutdown modes.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { BuildFailedError, UnavailableError, type KilnError } from "../../../../core/src/mod.js";
import { cancellationOf } from "../../util/abort.js";

/** The part of `@unraid/libvirt` kiln uses (kept structural so the optional dependency stays optional). */
export interface LibvirtDomain {
  create(): Promise<void>;
  shutdown(): Promise<void>;
  destroy(): Promise<void>;
  undefine(): Promise<void>;
  getXMLDesc(flags?: number): Promise<string>;
  getInfo(): Promise<{ state: number }>;
  getName(): Promise<string>;
}
interface LibvirtHypervisor {
  connectOpen(): Promise<void>;
  connectClose(): Promise<void>;
  connectListAllDomains(flags?: number): Promise<LibvirtDomain[]>;
  domainDefineXML(xml: string): Promise<LibvirtDomain>;
  domainLookupByName(name: string): Promise<LibvirtDomain>;
}
interface LibvirtModule {
  Hypervisor: new (options: { uri: string }) => LibvirtHypervisor;
}

/** virDomainState values the builder looks at. */
export const DomainState = { Running: 1, Shutoff: 5, Crashed: 6 } as const;

/** Whether `@unraid/libvirt` can be resolved on this host (no load, no daemon contact). */
export function bindingInstalled(): boolean {
  try {
    const dirs = createRequire(import.meta.url).resolve.paths("@unraid/libvirt") ?? [];
    return dirs.some((d) => existsSync(path.join(d, "@unraid", "libvirt", "package.json")));
  } catch {
    return false;
  }
}

/** Cheap, synchronous: the binding, virsh and a libvirtd socket (or an explicit default URI) are present. */
export function libvirtAvailable(): boolean {
  const socket = existsSync("/var/run/libvirt/libvirt-sock") || (process.env.LIBVIRT_DEFAULT_URI ?? "") !== "";
  return bindingInstalled() && existsSync("/usr/bin/virsh") && socket;
}

async function loadBinding(): Promise<LibvirtModule> {
  try {
    return (await import("@unraid/libvirt")) as unknown as LibvirtModule;
  } catch (err) {
    throw new UnavailableError(
      "the libvirt builder needs the @unraid/libvirt binding on this agent: apt-get install libvirt-dev libvirt-clients, " +
        "then npm install in kiln's directory (deploy/install.sh does both)",
      { cause: err },
    );
  }
}

/** libvirt's error text (`LibvirtError.message`), or the error's own. */
function libvirtMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An open connection to one libvirtd. */
export class LibvirtConnection {
  private constructor(
    readonly uri: string,
    private readonly hv: LibvirtHypervisor,
  ) {}

  static async open(uri: string): Promise<LibvirtConnection> {
    const mod = await loadBinding();
    const hv = new mod.Hypervisor({ uri });
    try {
      await hv.connectOpen();
    } catch (err) {
      throw new UnavailableError(
        `cannot connect to libvirt at ${uri}: ${libvirtMessage(err)} — is libvirtd running? ` +
          "(Debian: apt-get install libvirt-daemon libvirt-daemon-driver-qemu, then start libvirtd)",
        { cause: err },
      );
    }
    return new LibvirtConnection(uri, hv);
  }

  async close(): Promise<void> {
    await this.hv.connectClose().catch(() => undefined);
  }

  async define(xml: string): Promise<LibvirtDomain> {
    try {
      return await this.hv.domainDefineXML(xml);
    } catch (err) {
      throw new BuildFailedError(`Error defining the libvirt domain: ${libvirtMessage(err)}`, { cause: err });
    }
  }

  /** The domain, or undefined when libvirt has none by that name. */
  async lookup(name: string): Promise<LibvirtDomain | undefined> {
    try {
      return await this.hv.domainLookupByName(name);
    } catch {
      return undefined;
    }
  }

  async domains(): Promise<LibvirtDomain[]> {
    return this.hv.connectListAllDomains();
  }

  /** Runs `virsh -c <uri> args…`; throws a BuildFailedError with virsh's message (or the cancellation). */
  virsh(args: readonly string[], signal?: AbortSignal): Promise<string> {
    return runVirsh(this.uri, args, signal);
  }
}

/** Runs virsh against `uri`; its stderr becomes the error message. */
export function runVirsh(uri: string, args: readonly string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("virsh", ["-q", "-c", uri, ...args], { signal, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) return resolve(stdout);
      if (signal?.aborted === true) return reject(cancellationOf(signal));
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        return reject(new UnavailableError("virsh is not installed on this agent: apt-get install libvirt-clients", { cause: err }));
      }
      const text = stderr.trim().replace(/^error: /gm, "") || err.message;
      reject(new BuildFailedError(`virsh ${args[0] ?? ""}: ${text}`, { cause: err }) as KilnError);
    });
  });
}
