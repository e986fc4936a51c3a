/**
 * The VirtualBox driver: every interaction with VirtualBox is a `VBoxManage` command line run through the job's
 * {@link HostRunner} (the real binary on an agent, a recorded transcript in tests). Method names follow Packer's
 * VirtualBox `Driver` interface.
 */
import { BuildFailedError } from "../../../../core/src/mod.js";
import type { StepContext } from "../../pipeline/mod.js";
import { formatCommand, type HostRunner } from "../desktop/host_runner.js";

export const VBOXMANAGE = "VBoxManage";
const INSTALL = "install VirtualBox (its VBoxManage must be on PATH)";

export class VBoxManageDriver {
  constructor(private readonly host: HostRunner) {}

  /** Runs `VBoxManage args...`; a non-zero exit is a BuildFailedError with VBoxManage's stderr (Packer's wording). */
  async vboxmanage(ctx: Pick<StepContext, "signal" | "log">, ...args: string[]): Promise<string> {
    ctx.log("message", `Executing VBoxManage: ${formatCommand(VBOXMANAGE, args).slice(VBOXMANAGE.length + 1)}`);
    const r = await this.host.run(VBOXMANAGE, args, { signal: ctx.signal, install: INSTALL });
    if (r.exitCode !== 0) throw new BuildFailedError(`VBoxManage error: ${(r.stderr.trim() || r.stdout.trim()) || `exit status ${r.exitCode}`}`);
    return r.stdout;
  }

  /** `VBoxManage --version` without the build suffix ("7.0.12r159484" → "7.0.12"). */
  async version(ctx: Pick<StepContext, "signal" | "log">): Promise<string> {
    const out = (await this.vboxmanage(ctx, "--version")).trim();
    const m = /^(\d+\.\d+(?:\.\d+)?)/.exec(out);
    if (m?.[1] === undefined) throw new BuildFailedError(`VBoxManage --version printed ${JSON.stringify(out)}: not a VirtualBox version`);
    return m[1];
  }

  /** `showvminfo --machinereadable`: the VM is running unless its VMState is poweroff, aborted or saved. */
  async isRunning(ctx: Pick<StepContext, "signal" | "log">, vm: string): Promise<boolean> {
    const out = await this.vboxmanage(ctx, "showvminfo", vm, "--machinereadable");
    const state = /^VMState="([^"]*)"/m.exec(out)?.[1];
    if (state === undefined) throw new BuildFailedError(`VBoxManage showvminfo ${vm} printed no VMState`);
    return !["poweroff", "aborted", "saved"].includes(state);
  }

  /** `controlvm poweroff`. */
  async stop(ctx: Pick<StepContext, "signal" | "log">, vm: string): Promise<void> {
    await this.vboxmanage(ctx, "controlvm", vm, "poweroff");
  }

  /** `unregistervm --delete`: the VM and every disk attached to it. */
  async delete(ctx: Pick<StepContext, "signal" | "log">, vm: string): Promise<void> {
    await this.vboxmanage(ctx, "unregistervm", vm, "--delete");
  }

  /** The guest additions ISO VirtualBox installed (`list systemproperties`, "Default Guest Additions ISO"). */
  async guestAdditionsIso(ctx: Pick<StepContext, "signal" | "log">): Promise<string> {
    const out = await this.vboxmanage(ctx, "list", "systemproperties");
    const iso = /^Default Guest Additions ISO:\s*(.+)$/m.exec(out)?.[1]?.trim();
    if (iso === undefined || iso === "") {
      throw new BuildFailedError("VirtualBox reports no guest additions ISO on this agent: install the VirtualBox guest additions ISO, or set guest_additions_mode to disable");
    }
    return iso;
  }
}
