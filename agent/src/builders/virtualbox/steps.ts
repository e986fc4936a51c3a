/**
 * The VirtualBox builders' steps (Packer's builder/virtualbox), in pipeline order for virtualbox-iso:
 *
 * ```
 *  verify ─▶ guest-additions ─▶ download ─▶ output-dir ─▶ run-dir ─▶ floppy ─▶ http-server ─▶ suppress-messages
 *   ─▶ create-vm ─▶ create-disk ─▶ attach-isos ─▶ attach-floppy ─▶ port-forward ─▶ vboxmanage ─▶ run
 *   ─▶ boot-command ─▶ connect ─▶ upload-version ─▶ upload-guest-additions ─▶ provision ─▶ shutdown
 *   ─▶ remove-devices ─▶ vboxmanage-post ─▶ export
 * ```
 * virtualbox-ovf replaces create-vm/create-disk with import. Cleanups are idempotent: the VM is powered off when it
 * still runs and always unregistered with `--delete` (Packer's default, `keep_registered` keeps it on success), the
 * forwarded port released, the output directory removed on failure or cancel.
 */
import path from "node:path";
import { BuildFailedError, formatGoDuration, type VirtualboxCommonConfig, type VirtualboxIsoBuilderConfig } from "../../../../core/src/mod.js";
import type { Step, StepContext } from "../../pipeline/mod.js";
import { parseBootCommand, renderBootCommand } from "../../vm/boot_command.js";
import { reservePort, type PortReservation } from "../../vm/ports.js";
import type { HostRunner } from "../desktop/host_runner.js";
import { DEFAULT_KEY_INTERVAL_MS, scancodeSteps } from "../desktop/keyboard.js";
import type { DesktopState } from "../desktop/steps.js";
import type { VBoxManageDriver } from "./driver.js";

/** The address the guest reaches the host at on VirtualBox's NAT network. */
export const VBOX_NAT_HOST_IP = "10.0.2.2";

export interface VirtualboxState extends DesktopState {
  vmName?: string;
  /** Set once the VM is registered: cleanup unregisters and deletes it. */
  registered?: boolean;
  version?: string;
  guestAdditionsIso?: string;
  hostPort?: PortReservation;
  /** Media attached for the build, detached by remove-devices: [controller, port, device]. */
  attached: [string, number, number][];
  floppyAttached?: boolean;
  exportPath?: string;
}

export interface VirtualboxRunInfo {
  readonly driver: VBoxManageDriver;
  readonly host: HostRunner;
  readonly workDir: string;
  readonly vmName: string;
  readonly render: (text: string, data: Readonly<Record<string, unknown>>) => string;
}

/** Packer's NewDriver: `VBoxManage --version` proves VirtualBox is there and gives `{{ .Version }}`. */
export function verifyStep(info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "verify",
    async run(ctx, state) {
      state.version = await info.driver.version(ctx);
      return "continue";
    },
  };
}

/** Packer's StepDownloadGuestAdditions, from the ISO VirtualBox installed on the agent. */
export function guestAdditionsStep(c: VirtualboxCommonConfig, info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "guest-additions",
    async run(ctx, state) {
      if (c.guest_additions_mode === "disable") return "continue";
      // Late-rendered in Packer (it may use {{ .Version }}), so only refused here, once it renders to something.
      if (info.render(c.guest_additions_url ?? "", { Version: state.version ?? "" }) !== "") {
        throw new BuildFailedError("guest_additions_url is not supported by kiln: kiln uses the guest additions ISO VirtualBox installs on the agent; remove guest_additions_url (or set guest_additions_mode to disable)");
      }
      state.guestAdditionsIso = await info.driver.guestAdditionsIso(ctx);
      ctx.log("message", `Using the guest additions ISO VirtualBox installed: ${state.guestAdditionsIso}`);
      return "continue";
    },
  };
}

/** Packer's StepSuppressMessages. */
export function suppressMessagesStep(info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "suppress-messages",
    async run(ctx) {
      await info.driver.vboxmanage(ctx, "setextradata", "global", "GUI/SuppressMessages", "all");
      return "continue";
    },
  };
}

/** Unregisters and deletes the VM (Packer's stepCreateVM / StepImport cleanup); `keep_registered` keeps it on success. */
async function deleteVm(c: VirtualboxCommonConfig, info: VirtualboxRunInfo, state: VirtualboxState, outcome: string, ctx: Parameters<NonNullable<Step<VirtualboxState>["cleanup"]>>[2]): Promise<void> {
  if (state.registered !== true) return;
  if (c.keep_registered === true && outcome === "ok") {
    ctx.log("say", "Keeping virtual machine registered with VirtualBox host (keep_registered = true)");
    return;
  }
  ctx.log("say", "Deregistering and deleting VM...");
  const signal = new AbortController().signal; // cleanup outlives a cancelled job's signal
  try {
    await info.driver.delete({ signal, log: (l, t) => ctx.log(l, t) }, info.vmName);
    state.registered = false;
  } catch (err) {
    ctx.log("error", `Error deleting VM: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Packer's stepCreateVM (virtualbox-iso). */
export function createVmStep(c: VirtualboxIsoBuilderConfig, info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "create-vm",
    async run(ctx, state) {
      const name = info.vmName;
      ctx.log("say", "Creating virtual machine...");
      await info.driver.vboxmanage(ctx, "createvm", "--name", name, "--ostype", c.guest_os_type, "--register");
      state.vmName = name;
      state.registered = true;
      const commands: string[][] = [
        ["modifyvm", name, "--boot1", "disk", "--boot2", "dvd", "--boot3", "none", "--boot4", "none"],
        ["modifyvm", name, "--cpus", String(c.cpus)],
        ["modifyvm", name, "--memory", String(c.memory)],
        ["modifyvm", name, "--usb", c.usb === true ? "on" : "off"],
        ["modifyvm", name, "--audio", c.sound],
      ];
      for (const cmd of commands) await info.driver.vboxmanage(ctx, ...cmd);
      return "continue";
    },
    cleanup: (state, outcome, ctx) => deleteVm(c, info, state, outcome, ctx),
  };
}

/** Packer's StepImport (virtualbox-ovf): `VBoxManage import` of the verified OVF/OVA. */
export function importStep(c: VirtualboxCommonConfig & { import_opts?: string }, info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "import",
    async run(ctx, state) {
      ctx.log("say", `Importing VM: ${state.sourcePath ?? ""}`);
      const args = ["import", state.sourcePath as string, "--vsys", "0", "--vmname", info.vmName];
      if ((c.import_opts ?? "") !== "") args.push("--options", c.import_opts as string);
      // Registered from here on even if import fails half-way: cleanup's unregistervm is harmless then.
      state.registered = true;
      await info.driver.vboxmanage(ctx, ...args);
      state.vmName = info.vmName;
      return "continue";
    },
    cleanup: (state, outcome, ctx) => deleteVm(c, info, state, outcome, ctx),
  };
}

/** The storage controller VirtualBox names for an interface. */
function controllerName(iface: string): string {
  return iface === "sata" ? "SATA Controller" : iface === "scsi" ? "SCSI Controller" : iface === "virtio" ? "VirtIO Controller" : "IDE Controller";
}

/** Packer's stepCreateDisk: the VDI in the output directory, the controllers, the disk attached. */
export function createDiskStep(c: VirtualboxIsoBuilderConfig, info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "create-disk",
    async run(ctx, state) {
      const name = info.vmName;
      const disk = path.join(state.outputDir as string, `${name}.vdi`);
      ctx.log("say", `Creating hard drive ${disk} with size ${c.disk_size} MiB...`);
      await info.driver.vboxmanage(ctx, "createhd", "--filename", disk, "--size", String(c.disk_size), "--format", "VDI", "--variant", "Standard");
      // The IDE controller is always there: VirtualBox delivers the guest additions through it.
      await info.driver.vboxmanage(ctx, "storagectl", name, "--name", "IDE Controller", "--add", "ide");
      if (c.hard_drive_interface === "sata" || c.iso_interface === "sata") {
        await info.driver.vboxmanage(ctx, "storagectl", name, "--name", "SATA Controller", "--add", "sata", "--portcount", String(c.sata_port_count));
      }
      if (c.hard_drive_interface === "virtio" || c.iso_interface === "virtio") {
        await info.driver.vboxmanage(ctx, "storagectl", name, "--name", "VirtIO Controller", "--add", "virtio", "--controller", "VirtIO");
      }
      if (c.hard_drive_interface === "scsi") {
        await info.driver.vboxmanage(ctx, "storagectl", name, "--name", "SCSI Controller", "--add", "scsi", "--controller", "LSILogic");
      }
      await info.driver.vboxmanage(
        ctx, "storageattach", name, "--storagectl", controllerName(c.hard_drive_interface), "--port", "0", "--device", "0", "--type", "hdd", "--medium", disk,
      );
      return "continue";
    },
  };
}

/**
 * Packer's StepAttachISOs: the boot ISO (virtualbox-iso) and, with `guest_additions_mode: attach`, the guest
 * additions ISO, as DVD drives on `iso_interface` / `guest_additions_interface`.
 */
export function attachIsosStep(c: VirtualboxCommonConfig & { iso_interface?: string }, info: VirtualboxRunInfo, attachBootIso: boolean): Step<VirtualboxState> {
  const slot = (iface: string, forAdditions: boolean): [string, number, number] => {
    if (iface === "sata") return ["SATA Controller", forAdditions ? 2 : 1, 0];
    if (iface === "virtio") return ["VirtIO Controller", forAdditions ? 2 : 1, 0];
    return ["IDE Controller", forAdditions ? 1 : 0, forAdditions ? 0 : 1];
  };
  return {
    name: "attach-isos",
    async run(ctx, state) {
      const isoIface = c.iso_interface ?? "ide";
      const media: [[string, number, number], string][] = [];
      if (attachBootIso) media.push([slot(isoIface, false), state.sourcePath as string]);
      if (c.guest_additions_mode === "attach") media.push([slot(c.guest_additions_interface ?? isoIface, true), state.guestAdditionsIso as string]);
      for (const [[ctl, port, device], medium] of media) {
        ctx.log("say", `Mounting ISO ${medium} on ${ctl} port ${port} device ${device}...`);
        await info.driver.vboxmanage(ctx, "storageattach", info.vmName, "--storagectl", ctl, "--port", String(port), "--device", String(device), "--type", "dvddrive", "--medium", medium);
        state.attached.push([ctl, port, device]);
      }
      return "continue";
    },
  };
}

/** Packer's StepAttachFloppy. */
export function attachFloppyStep(info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "attach-floppy",
    async run(ctx, state) {
      if (state.floppyPath === undefined) return "continue";
      ctx.log("say", "Attaching floppy disk...");
      await info.driver.vboxmanage(ctx, "storagectl", info.vmName, "--name", "Floppy Controller", "--add", "floppy");
      await info.driver.vboxmanage(ctx, "storageattach", info.vmName, "--storagectl", "Floppy Controller", "--port", "0", "--device", "0", "--type", "fdd", "--medium", state.floppyPath);
      state.floppyAttached = true;
      return "continue";
    },
  };
}

/** Packer's StepPortForwarding: a free host port forwarded by VirtualBox's NAT to the guest's SSH port. */
export function portForwardStep(c: VirtualboxCommonConfig, info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "port-forward",
    async run(ctx, state) {
      if (c.communicator === "none") return "continue";
      state.hostPort = await reservePort(c.ssh_host_port_min ?? c.host_port_min, c.ssh_host_port_max ?? c.host_port_max, "127.0.0.1", "host_port");
      const name = info.vmName;
      await info.driver.vboxmanage(ctx, "modifyvm", name, "--nic1", "nat");
      // VirtualBox 7 no longer lets the guest reach the host's loopback unless asked (Packer does the same).
      if (Number((state.version ?? "0").split(".")[0]) >= 7) await info.driver.vboxmanage(ctx, "modifyvm", name, "--nat-localhostreachable1", "on");
      ctx.log("say", `Creating forwarded port mapping for communicator (SSH, WinRM, etc) (host port ${state.hostPort.port})`);
      await info.driver.vboxmanage(ctx, "modifyvm", name, "--natpf1", `packercomm,tcp,${c.ssh_listen_address},${state.hostPort.port},,${c.ssh_port}`);
      return "continue";
    },
    async cleanup(state) {
      state.hostPort?.release();
    },
  };
}

/** Packer's StepVBoxManage: each command's arguments rendered with `{{ .Name }}`, then run. */
export function vboxmanageStep(name: string, commands: readonly (readonly string[])[], info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name,
    async run(ctx) {
      if (commands.length > 0) ctx.log("say", "Executing custom VBoxManage commands...");
      for (const command of commands) {
        const args = command.map((a) => info.render(a, { Name: info.vmName }));
        ctx.log("message", `Executing: ${args.join(" ")}`);
        await info.driver.vboxmanage(ctx, ...args);
      }
      return "continue";
    },
  };
}

/** Packer's StepRun: `startvm --type headless|gui`; cleanup powers a running VM off. */
export function runStep(c: VirtualboxCommonConfig, info: VirtualboxRunInfo): Step<VirtualboxState> {
  let started = false;
  return {
    name: "run",
    async run(ctx) {
      ctx.log("say", "Starting the virtual machine...");
      if (c.headless !== true) ctx.log("message", "kiln agents have no display: the VM starts headless whatever `headless` says");
      started = true;
      await info.driver.vboxmanage(ctx, "startvm", info.vmName, "--type", "headless");
      return "continue";
    },
    async cleanup(_state, _outcome, ctx) {
      if (!started) return;
      started = false;
      const signal = new AbortController().signal;
      const c2 = { signal, log: (l: Parameters<typeof ctx.log>[0], t: string) => ctx.log(l, t) };
      try {
        if (await info.driver.isRunning(c2, info.vmName)) {
          ctx.log("say", "Stopping the virtual machine...");
          await info.driver.stop(c2, info.vmName);
        }
      } catch (err) {
        ctx.log("error", `Error shutting down VM: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
}

/** Packer's StepTypeBootCommand: waits `boot_wait`, then types over `keyboardputscancode`. */
export function bootCommandStep(c: VirtualboxCommonConfig, info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "boot-command",
    async run(ctx, state) {
      if (c.boot_wait > 0) {
        ctx.log("say", `Waiting ${formatGoDuration(c.boot_wait)} for boot...`);
        await info.host.sleep(c.boot_wait, ctx.signal);
      }
      const command = c.boot_command ?? [];
      if (command.length === 0) return "continue";
      const data = { HTTPIP: state.httpServer !== undefined ? VBOX_NAT_HOST_IP : "", HTTPPort: state.httpServer !== undefined ? String(state.httpServer.port) : "0", Name: info.vmName };
      const actions = parseBootCommand(renderBootCommand(command, data, info.render));
      ctx.log("say", "Typing the boot command...");
      const interval = (c.boot_keygroup_interval ?? 0) > 0 ? (c.boot_keygroup_interval as number) : DEFAULT_KEY_INTERVAL_MS;
      for (const step of scancodeSteps(actions)) {
        if (step.type === "wait") await info.host.sleep(step.ms, ctx.signal);
        else {
          await info.driver.vboxmanage(ctx, "controlvm", info.vmName, "keyboardputscancode", ...step.codes);
          await info.host.pace(interval, ctx.signal);
        }
      }
      return "continue";
    },
  };
}

/** Packer's StepUploadVersion: the VirtualBox version into `virtualbox_version_file`. */
export function uploadVersionStep(c: VirtualboxCommonConfig): Step<VirtualboxState> {
  return {
    name: "upload-version",
    async run(ctx, state) {
      if (c.virtualbox_version_file === "" || state.communicator === undefined) return "continue";
      ctx.log("say", `Uploading VirtualBox version info (${state.version ?? ""})`);
      await state.communicator.upload(Buffer.from(state.version ?? ""), c.virtualbox_version_file, ctx.signal);
      return "continue";
    },
  };
}

/** Packer's StepUploadGuestAdditions (`guest_additions_mode: upload`): the ISO to `guest_additions_path`. */
export function uploadGuestAdditionsStep(c: VirtualboxCommonConfig, info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "upload-guest-additions",
    async run(ctx, state) {
      if (c.guest_additions_mode !== "upload" || state.communicator === undefined) return "continue";
      const target = info.render(c.guest_additions_path, { Version: state.version ?? "" });
      ctx.log("say", "Uploading VirtualBox guest additions ISO...");
      await state.communicator.upload(state.guestAdditionsIso as string, target, ctx.signal);
      return "continue";
    },
  };
}

/** Packer's StepRemoveDevices: detaches the floppy and the ISOs before export. */
export function removeDevicesStep(info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "remove-devices",
    async run(ctx, state) {
      if (state.floppyAttached === true) {
        ctx.log("say", "Removing floppy drive...");
        await info.driver.vboxmanage(ctx, "storageattach", info.vmName, "--storagectl", "Floppy Controller", "--port", "0", "--device", "0", "--medium", "none");
        state.floppyAttached = false;
      }
      for (const [ctl, port, device] of state.attached.splice(0)) {
        await info.driver.vboxmanage(ctx, "storageattach", info.vmName, "--storagectl", ctl, "--port", String(port), "--device", String(device), "--medium", "none");
      }
      return "continue";
    },
  };
}

/** Packer's StepExport: removes the `packercomm` rule, then `VBoxManage export` to `<output>/<name>.<format>`. */
export function exportStep(c: VirtualboxCommonConfig, info: VirtualboxRunInfo): Step<VirtualboxState> {
  return {
    name: "export",
    async run(ctx, state) {
      if (c.skip_export === true) {
        ctx.log("say", "Skipping export of virtual machine...");
        return "continue";
      }
      ctx.log("say", "Preparing to export machine...");
      if (state.hostPort !== undefined) {
        ctx.log("message", `Deleting forwarded port mapping for the communicator (SSH, WinRM, etc) (host port ${state.hostPort.port})`);
        await info.driver.vboxmanage(ctx, "modifyvm", info.vmName, "--natpf1", "delete", "packercomm");
      }
      const file = `${(c.output_filename ?? "") !== "" ? (c.output_filename as string) : info.vmName}.${c.format}`;
      const out = path.join(state.outputDir as string, file);
      ctx.log("say", "Exporting virtual machine...");
      await info.driver.vboxmanage(ctx, "export", info.vmName, "--output", out, ...(c.export_opts ?? []));
      state.exportPath = out;
      return "continue";
    },
  };
}

/** Connect address: the forwarded port on 127.0.0.1 (or `ssh_host`/`ssh_port` when given). */
export async function commAddress(c: VirtualboxCommonConfig, state: VirtualboxState, _ctx: StepContext): Promise<{ host: string; port: number }> {
  if ((c.ssh_host ?? "") !== "") return { host: c.ssh_host as string, port: c.ssh_port };
  if (state.hostPort === undefined) throw new BuildFailedError("no forwarded port for the communicator");
  return { host: "127.0.0.1", port: state.hostPort.port };
}
