/**
 * The VMware Workstation builders' steps (packer-plugin-vmware), in pipeline order for vmware-iso:
 *
 * ```
 *  verify ─▶ prepare-tools ─▶ download ─▶ output-dir ─▶ run-dir ─▶ floppy ─▶ create-disk ─▶ create-vmx
 *   ─▶ configure-vmx ─▶ host-ip ─▶ http-server ─▶ configure-vnc ─▶ run ─▶ boot-command ─▶ connect ─▶ upload-tools
 *   ─▶ provision ─▶ shutdown ─▶ clean-files ─▶ compact-disk ─▶ configure-vmx-post ─▶ clean-vmx ─▶ export
 * ```
 * vmware-vmx replaces create-disk/create-vmx with clone. Cleanups are idempotent: a VM still running is stopped
 * (`vmrun stop hard`); on failure or cancel the VM is deleted (`vmrun deleteVM`) and the output directory removed.
 */
import { existsSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { BuildFailedError, formatGoDuration, type VmwareCommonConfig, type VmwareIsoBuilderConfig } from "../../../../core/src/mod.js";
import type { CleanupContext, Step } from "../../pipeline/mod.js";
import { parseBootCommand, renderBootCommand } from "../../vm/boot_command.js";
import { reservePort, type PortReservation } from "../../vm/ports.js";
import type { HostRunner } from "../desktop/host_runner.js";
import { DEFAULT_KEY_INTERVAL_MS, keyEventSteps } from "../desktop/keyboard.js";
import type { DesktopState } from "../desktop/steps.js";
import { VncClient } from "../desktop/vnc.js";
import type { WorkstationDriver } from "./driver.js";
import { defaultVmx, diskLayout, installCdrom, readVmx, writeVmx } from "./vmx.js";

/** Files Packer keeps in the output directory (StepCleanFiles' KeepFileExtensions). */
export const KEEP_EXTENSIONS = [".nvram", ".vmdk", ".vmsd", ".vmx", ".vmxf"] as const;

export interface VmwareState extends DesktopState {
  version?: string;
  toolsIso?: string;
  vmxPath?: string;
  /** Set once a .vmx exists that VMware may know about: failure cleanup deletes the VM. */
  vmCreated?: boolean;
  diskPaths: string[];
  /** Devices added for the build only (Packer's `temporaryDevices`), e.g. the install CD-ROM, the floppy. */
  temporaryDevices: string[];
  hostIp?: string;
  vncPort?: PortReservation;
  guestIp?: string;
}

export interface VmwareRunInfo {
  readonly driver: WorkstationDriver;
  readonly host: HostRunner;
  readonly workDir: string;
  readonly vmName: string;
  readonly render: (text: string, data: Readonly<Record<string, unknown>>) => string;
}

const noSignal = (): AbortSignal => new AbortController().signal;
const cleanupCtx = (ctx: CleanupContext): { signal: AbortSignal; log: CleanupContext["log"] } => ({ signal: noSignal(), log: (l, t) => ctx.log(l, t) });

/** Packer's driver check: Workstation is there and new enough. */
export function verifyStep(info: VmwareRunInfo): Step<VmwareState> {
  return {
    name: "verify",
    async run(ctx, state) {
      state.version = await info.driver.verify(ctx);
      return "continue";
    },
  };
}

/** Packer's StepPrepareTools: the tools ISO Workstation ships for `tools_upload_flavor`. */
export function prepareToolsStep(c: VmwareCommonConfig): Step<VmwareState> {
  return {
    name: "prepare-tools",
    async run(_ctx, state) {
      const flavor = c.tools_upload_flavor ?? "";
      if (flavor === "") return "continue";
      const iso = (c.tools_source_path ?? "") !== "" ? (c.tools_source_path as string) : `/usr/lib/vmware/isoimages/${flavor}.iso`;
      if (!existsSync(iso)) throw new BuildFailedError(`Couldn't find VMware tools for '${flavor}'! VMware often downloads these tools on demand. However, to do this, you need to create a fake VM of the proper type then click the 'install tools' option in the VMware GUI. (looked for ${iso})`);
      state.toolsIso = iso;
      return "continue";
    },
  };
}

/** `disk_name` (1.6.6's `vmdk_name`), default "disk". */
export function diskName(c: VmwareIsoBuilderConfig): string {
  return (c.disk_name ?? "") !== "" ? (c.disk_name as string) : (c.vmdk_name ?? "") !== "" ? (c.vmdk_name as string) : "disk";
}

/** vmware-vdiskmanager takes only ide, buslogic and lsilogic; the other SCSI/SATA/NVMe adapters get lsilogic disks. */
function vdiskAdapter(adapter: string): string {
  const a = adapter.toLowerCase();
  return a === "ide" || a === "buslogic" ? a : "lsilogic";
}

/** Packer's StepCreateDisks: the main disk in the output directory. */
export function createDiskStep(c: VmwareIsoBuilderConfig, info: VmwareRunInfo): Step<VmwareState> {
  return {
    name: "create-disk",
    async run(ctx, state) {
      const disk = path.join(state.outputDir as string, `${diskName(c)}.vmdk`);
      ctx.log("say", "Creating required virtual machine disks");
      await info.driver.createDisk(ctx, disk, c.disk_size, vdiskAdapter(c.disk_adapter_type), c.disk_type_id);
      state.diskPaths.push(disk);
      return "continue";
    },
  };
}

/** Deletes the VM when the build did not succeed (the output directory's own cleanup then removes the rest). */
async function deleteVmOnFailure(info: VmwareRunInfo, state: VmwareState, outcome: string, ctx: CleanupContext): Promise<void> {
  if (outcome === "ok" || state.vmCreated !== true || state.vmxPath === undefined) return;
  state.vmCreated = false;
  ctx.log("say", "Deleting the virtual machine...");
  try {
    await info.driver.deleteVm(cleanupCtx(ctx), state.vmxPath);
  } catch (err) {
    ctx.log("error", `Error deleting VM: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Packer's stepCreateVMX: the plugin's default .vmx for the new VM. */
export function createVmxStep(c: VmwareIsoBuilderConfig, info: VmwareRunInfo): Step<VmwareState> {
  return {
    name: "create-vmx",
    async run(ctx, state) {
      ctx.log("say", "Generating the .vmx file...");
      const layout = diskLayout(c.disk_adapter_type, c.cdrom_adapter_type);
      const vmx = defaultVmx({
        name: info.vmName,
        guestOs: c.guest_os_type,
        version: c.version,
        cpus: c.cpus ?? 0,
        cores: c.cores ?? 0,
        memoryMb: (c.memory ?? 0) > 0 ? (c.memory as number) : 512,
        diskName: diskName(c),
        layout,
        isoPath: path.resolve(state.sourcePath as string),
        network: (c.network ?? "") !== "" ? (c.network as string) : "nat",
        networkAdapter: ((c.network_adapter_type ?? "") !== "" ? (c.network_adapter_type as string) : "e1000").toLowerCase(),
        sound: c.sound === true,
        usb: c.usb === true,
      });
      state.temporaryDevices.push(installCdrom(layout));
      state.vmxPath = path.join(state.outputDir as string, `${info.vmName}.vmx`);
      await writeVmx(state.vmxPath, vmx);
      state.vmCreated = true;
      return "continue";
    },
    cleanup: (state, outcome, ctx) => deleteVmOnFailure(info, state, outcome, ctx),
  };
}

/** vmware-vmx: `vmrun clone` of `source_path` into the output directory. */
export function cloneStep(c: VmwareCommonConfig & { source_path: string }, info: VmwareRunInfo): Step<VmwareState> {
  return {
    name: "clone",
    async run(ctx, state) {
      const target = path.join(state.outputDir as string, `${info.vmName}.vmx`);
      ctx.log("say", `Cloning source VM...`);
      state.vmxPath = target;
      state.vmCreated = true;
      await info.driver.clone(ctx, path.resolve(info.workDir, c.source_path), target, info.vmName);
      const vmx = await readVmx(target);
      for (const [k, v] of vmx) if (/^(ide|sata|scsi|nvme)\d+:\d+\.filename$/.test(k) && v.toLowerCase().endsWith(".vmdk")) state.diskPaths.push(path.resolve(state.outputDir as string, v));
      return "continue";
    },
    cleanup: (state, outcome, ctx) => deleteVmOnFailure(info, state, outcome, ctx),
  };
}

/**
 * Packer's StepConfigureVMX (+ StepSuppressMessages): no dialogs, a fresh UUID, generated MAC addresses dropped,
 * `vmx_data` (or, after the build, `vmx_data_post`) applied, `display_name`, and the floppy image.
 */
export function configureVmxStep(name: string, data: Readonly<Record<string, string>>, c: VmwareCommonConfig, options: { devices: boolean }): Step<VmwareState> {
  return {
    name,
    async run(ctx, state) {
      const vmx = await readVmx(state.vmxPath as string);
      if (options.devices) {
        vmx.set("msg.autoanswer", "true");
        vmx.set("uuid.action", "create");
        for (const k of [...vmx.keys()]) if (/^ethernet\d+\.generatedaddress/.test(k)) vmx.delete(k);
      }
      for (const [k, v] of Object.entries(data)) vmx.set(k.toLowerCase(), v);
      if ((c.display_name ?? "") !== "") vmx.set("displayname", c.display_name as string);
      if (options.devices && state.floppyPath !== undefined) {
        vmx.set("floppy0.present", "TRUE");
        vmx.set("floppy0.filetype", "file");
        vmx.set("floppy0.filename", state.floppyPath);
        state.temporaryDevices.push("floppy0");
      }
      await writeVmx(state.vmxPath as string, vmx);
      return "continue";
    },
  };
}

/** Packer's StepHTTPIPDiscover for Workstation: the host's address on the NAT network. */
export function hostIpStep(c: VmwareCommonConfig, info: VmwareRunInfo): Step<VmwareState> {
  return {
    name: "host-ip",
    async run(ctx, state) {
      if ((c.http_directory ?? "") === "" && Object.keys(c.http_content ?? {}).length === 0) return "continue";
      state.hostIp = (c.http_bind_address ?? "") !== "" && c.http_bind_address !== "0.0.0.0" ? (c.http_bind_address as string) : await info.driver.hostIp(ctx);
      return "continue";
    },
  };
}

/** Packer's StepConfigureVNC: a free port for the VM's built-in VNC server, written into the .vmx. */
export function configureVncStep(c: VmwareCommonConfig): Step<VmwareState> {
  return {
    name: "configure-vnc",
    async run(ctx, state) {
      if (c.disable_vnc === true) return "continue";
      state.vncPort = await reservePort(c.vnc_port_min, c.vnc_port_max, c.vnc_bind_address, "vnc_port");
      ctx.log("say", `Found available VNC port: ${state.vncPort.port} on IP: ${c.vnc_bind_address}`);
      const vmx = await readVmx(state.vmxPath as string);
      vmx.set("remotedisplay.vnc.enabled", "TRUE");
      vmx.set("remotedisplay.vnc.port", String(state.vncPort.port));
      vmx.set("remotedisplay.vnc.ip", c.vnc_bind_address);
      await writeVmx(state.vmxPath as string, vmx);
      return "continue";
    },
    async cleanup(state) {
      state.vncPort?.release();
    },
  };
}

/** Packer's StepRun: `vmrun start` (nogui: agents have no display); cleanup stops a VM that still runs. */
export function runStep(c: VmwareCommonConfig, info: VmwareRunInfo): Step<VmwareState> {
  let started = false;
  return {
    name: "run",
    async run(ctx, state) {
      ctx.log("say", "Starting virtual machine...");
      if (c.headless !== true) ctx.log("message", "kiln agents have no display: the VM starts headless (nogui) whatever `headless` says");
      started = true;
      await info.driver.start(ctx, state.vmxPath as string, true);
      return "continue";
    },
    async cleanup(state, _outcome, ctx) {
      if (!started) return;
      started = false;
      try {
        if (await info.driver.isRunning(cleanupCtx(ctx), state.vmxPath as string)) {
          ctx.log("say", "Stopping virtual machine...");
          await info.driver.stop(cleanupCtx(ctx), state.vmxPath as string);
        }
      } catch (err) {
        ctx.log("error", `Error stopping VM: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
}

/** Packer's StepVNCConnect + StepVNCBootCommand: waits `boot_wait`, then types over the VM's VNC server. */
export function bootCommandStep(c: VmwareCommonConfig, info: VmwareRunInfo): Step<VmwareState> {
  return {
    name: "boot-command",
    async run(ctx, state) {
      // Packer connects and waits boot_wait whenever VNC is on, with or without a boot command.
      const command = c.boot_command ?? [];
      if (c.disable_vnc === true) return "continue";
      ctx.log("say", "Connecting to VM via VNC");
      const vnc = await VncClient.connect(c.vnc_bind_address, (state.vncPort as PortReservation).port, ctx.signal);
      try {
        if (c.boot_wait > 0) {
          ctx.log("say", `Waiting ${formatGoDuration(c.boot_wait)} for boot...`);
          await info.host.sleep(c.boot_wait, ctx.signal);
        }
        const data = { HTTPIP: state.hostIp ?? "", HTTPPort: state.httpServer !== undefined ? String(state.httpServer.port) : "0", Name: info.vmName };
        const actions = parseBootCommand(renderBootCommand(command, data, info.render));
        ctx.log("say", "Typing the boot command over VNC...");
        const interval = (c.boot_key_interval ?? 0) > 0 ? (c.boot_key_interval as number) : DEFAULT_KEY_INTERVAL_MS;
        for (const step of keyEventSteps(actions)) {
          if (step.type === "wait") await info.host.sleep(step.ms, ctx.signal);
          else {
            await vnc.key(step.keysym, step.down);
            await info.host.pace(interval, ctx.signal);
          }
        }
      } finally {
        vnc.close();
      }
      return "continue";
    },
  };
}

/** The guest's address for the communicator: `ssh_host`, else the IP VMware Tools reports. */
export async function commAddress(c: VmwareCommonConfig, info: VmwareRunInfo, state: VmwareState, ctx: Parameters<Step<VmwareState>["run"]>[0]): Promise<{ host: string; port: number }> {
  if ((c.ssh_host ?? "") !== "") return { host: c.ssh_host as string, port: c.ssh_port };
  state.guestIp = await info.driver.guestIp(ctx, state.vmxPath as string);
  return { host: state.guestIp, port: c.ssh_port };
}

/** Packer's StepUploadTools: the tools ISO to `tools_upload_path` (rendered with `{{ .Flavor }}`). */
export function uploadToolsStep(c: VmwareCommonConfig, info: VmwareRunInfo): Step<VmwareState> {
  return {
    name: "upload-tools",
    async run(ctx, state) {
      if (state.toolsIso === undefined || state.communicator === undefined) return "continue";
      const target = info.render(c.tools_upload_path, { Flavor: c.tools_upload_flavor ?? "" });
      ctx.log("say", `Uploading the '${c.tools_upload_flavor ?? ""}' VMware Tools`);
      await state.communicator.upload(state.toolsIso, target, ctx.signal);
      return "continue";
    },
  };
}

/** Packer's StepCleanFiles: only the files a VM needs stay in the output directory. */
export function cleanFilesStep(): Step<VmwareState> {
  return {
    name: "clean-files",
    async run(ctx, state) {
      ctx.log("say", "Deleting unnecessary VMware files...");
      const dir = state.outputDir as string;
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (KEEP_EXTENSIONS.some((ext) => entry.name.endsWith(ext)) && entry.isFile()) continue;
        ctx.log("message", `Deleting: ${path.join(dir, entry.name)}`);
        await rm(path.join(dir, entry.name), { recursive: true, force: true });
      }
      return "continue";
    },
  };
}

/** Packer's StepCompactDisk, unless `skip_compaction`. */
export function compactDiskStep(c: VmwareCommonConfig, info: VmwareRunInfo): Step<VmwareState> {
  return {
    name: "compact-disk",
    async run(ctx, state) {
      if (c.skip_compaction === true) {
        ctx.log("say", "Skipping disk compaction step...");
        return "continue";
      }
      ctx.log("say", "Compacting all attached virtual disks...");
      for (const [i, disk] of state.diskPaths.entries()) {
        ctx.log("message", `Compacting virtual disk ${i + 1}`);
        await info.driver.compactDisk(ctx, disk);
      }
      return "continue";
    },
  };
}

/** Packer's StepCleanVMX: build-time devices detached, VNC off, `vmx_remove_ethernet_interfaces`. */
export function cleanVmxStep(c: VmwareCommonConfig): Step<VmwareState> {
  return {
    name: "clean-vmx",
    async run(ctx, state) {
      ctx.log("say", "Cleaning VMX prior to finishing up...");
      const vmx = await readVmx(state.vmxPath as string);
      for (const device of state.temporaryDevices) {
        if (device.startsWith("floppy")) {
          ctx.log("message", `Unmounting ${device} from VMX...`);
          for (const k of [...vmx.keys()]) if (k.startsWith(`${device}.`)) vmx.delete(k);
          vmx.set(`${device}.present`, "FALSE");
        } else if ((vmx.get(`${device}.devicetype`) ?? "").startsWith("cdrom-")) {
          ctx.log("message", `Detaching ISO from CD-ROM device ${device}...`);
          vmx.set(`${device}.devicetype`, "cdrom-raw");
          vmx.set(`${device}.filename`, "auto detect");
          vmx.set(`${device}.clientdevice`, "TRUE");
        }
      }
      if (c.disable_vnc !== true) {
        ctx.log("message", "Disabling VNC server...");
        vmx.set("remotedisplay.vnc.enabled", "FALSE");
      }
      if (c.vmx_remove_ethernet_interfaces === true) {
        ctx.log("message", "Removing Ethernet Interfaces...");
        for (const k of [...vmx.keys()]) if (k.startsWith("ethernet")) vmx.delete(k);
      }
      await writeVmx(state.vmxPath as string, vmx);
      return "continue";
    },
  };
}

/** Packer's StepExport: `ovftool` to `<output>/<name>.<format>` for format ovf or ova; vmx means no export. */
export function exportStep(c: VmwareCommonConfig, info: VmwareRunInfo): Step<VmwareState> {
  return {
    name: "export",
    async run(ctx, state) {
      const format = c.format ?? "";
      if (format === "" || format === "vmx" || c.skip_export === true) return "continue";
      const out = path.join(state.outputDir as string, `${info.vmName}.${format}`);
      ctx.log("say", "Exporting virtual machine...");
      const args = ["--acceptAllEulas", "--skipManifestCheck", ...(c.ovftool_options ?? []), state.vmxPath as string, out];
      const r = await info.host.run("ovftool", args, { signal: ctx.signal, install: "install VMware OVF Tool (ovftool on PATH) to export to ovf/ova" });
      if (r.exitCode !== 0) throw new BuildFailedError(`Error exporting virtual machine: ${(r.stderr.trim() || r.stdout.trim())}`);
      return "continue";
    },
  };
}
