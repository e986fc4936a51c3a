/**
 * The VMware Workstation driver: `vmrun -T ws`, `vmware-vdiskmanager`, `vmware -v` and the host's vmnet address,
 * all through the job's {@link HostRunner} (the real binaries on an agent, a recorded transcript in tests). Method
 * names follow Packer's VMware `Driver` interface.
 */
import { BuildFailedError } from "../../../../core/src/mod.js";
import type { StepContext } from "../../pipeline/mod.js";
import { formatCommand, type HostRunner } from "../desktop/host_runner.js";

export const VMRUN = "vmrun";
export const VDISKMANAGER = "vmware-vdiskmanager";
const INSTALL = "install VMware Workstation 17.6 or later (vmrun and vmware-vdiskmanager must be on PATH)";

type Ctx = Pick<StepContext, "signal" | "log">;

export class WorkstationDriver {
  constructor(private readonly host: HostRunner) {}

  private async run(ctx: Ctx, file: string, args: string[], what: string): Promise<string> {
    ctx.log("message", `Executing: ${formatCommand(file, args)}`);
    const r = await this.host.run(file, args, { signal: ctx.signal, install: file === "ip" ? "install iproute2 (apt-get install iproute2)" : INSTALL });
    if (r.exitCode !== 0) throw new BuildFailedError(`${what}: ${(r.stderr.trim() || r.stdout.trim()) || `exit status ${r.exitCode}`}`);
    return r.stdout;
  }

  vmrun(ctx: Ctx, ...args: string[]): Promise<string> {
    return this.run(ctx, VMRUN, ["-T", "ws", ...args], `vmrun ${args[0] ?? ""} failed`);
  }

  /** `vmware -v`: "VMware Workstation 17.6.1 build-24319023"; kiln needs 17.6 or later, as the plugin does. */
  async verify(ctx: Ctx): Promise<string> {
    const out = (await this.run(ctx, "vmware", ["-v"], "vmware -v failed")).trim();
    const m = /VMware Workstation (\d+)\.(\d+)(?:\.(\d+))?/.exec(out);
    if (m === null) throw new BuildFailedError(`vmware -v printed ${JSON.stringify(out)}: not VMware Workstation`);
    const [major, minor] = [Number(m[1]), Number(m[2])];
    if (major < 17 || (major === 17 && minor < 6)) throw new BuildFailedError(`VMware Workstation ${m[1]}.${m[2]} is not supported: kiln needs 17.6 or later`);
    return `${m[1]}.${m[2]}${m[3] !== undefined ? `.${m[3]}` : ""}`;
  }

  /** `vmware-vdiskmanager -c`: a new disk of `sizeMb`. */
  async createDisk(ctx: Ctx, file: string, sizeMb: number, adapter: string, typeId: string): Promise<void> {
    await this.run(ctx, VDISKMANAGER, ["-c", "-s", `${sizeMb}M`, "-a", adapter, "-t", typeId, file], "Error creating disk");
  }

  /** Packer's CompactDisk: defragment, then shrink. */
  async compactDisk(ctx: Ctx, file: string): Promise<void> {
    await this.run(ctx, VDISKMANAGER, ["-d", file], "Error defragmenting disk");
    await this.run(ctx, VDISKMANAGER, ["-k", file], "Error shrinking disk");
  }

  async start(ctx: Ctx, vmx: string, headless: boolean): Promise<void> {
    await this.vmrun(ctx, "start", vmx, headless ? "nogui" : "gui");
  }

  async stop(ctx: Ctx, vmx: string): Promise<void> {
    await this.vmrun(ctx, "stop", vmx, "hard");
  }

  /** `vmrun list`: is this .vmx among the running VMs? */
  async isRunning(ctx: Ctx, vmx: string): Promise<boolean> {
    const out = await this.vmrun(ctx, "list");
    return out.split("\n").some((l) => l.trim() === vmx);
  }

  async deleteVm(ctx: Ctx, vmx: string): Promise<void> {
    await this.vmrun(ctx, "deleteVM", vmx);
  }

  /** `vmrun clone` (vmware-vmx): a full clone of `source` at `target`. */
  async clone(ctx: Ctx, source: string, target: string, name: string): Promise<void> {
    await this.vmrun(ctx, "clone", source, target, "full", `-cloneName=${name}`);
  }

  /** The guest's IP address from VMware Tools (`getGuestIPAddress -wait`). */
  async guestIp(ctx: Ctx, vmx: string): Promise<string> {
    const ip = (await this.vmrun(ctx, "getGuestIPAddress", vmx, "-wait")).trim();
    if (!/^[0-9a-fA-F.:]+$/.test(ip)) throw new BuildFailedError(`vmrun getGuestIPAddress printed ${JSON.stringify(ip)}: not an IP address`);
    return ip;
  }

  /** The host's address on the NAT network (`vmnet8`), which the guest reaches the HTTP server at. */
  async hostIp(ctx: Ctx, device = "vmnet8"): Promise<string> {
    const out = await this.run(ctx, "ip", ["-4", "-o", "addr", "show", "dev", device], `cannot read the address of ${device}`);
    const ip = /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
    if (ip === undefined) throw new BuildFailedError(`${device} has no IPv4 address: is VMware's NAT network up (vmware-networks --start)?`);
    return ip;
  }
}
