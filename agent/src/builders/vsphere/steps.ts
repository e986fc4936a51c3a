/**
 * The vSphere builders' steps (Packer 1.6.6's builder/vsphere pipelines):
 *
 *   vsphere-iso:   connect → locate → create VM → configure hardware → add CD-ROMs → power on
 *   vsphere-clone: connect → locate → clone VM  → configure hardware              → power on
 *   then, both:    [wait for IP → SSH] → provision → shut down → [remove CD-ROMs] → [snapshot] → [template]
 *                  → [export to OVF (./export.ts)]
 *
 * The VM step's cleanup powers off and destroys the VM unless the build succeeded, so a failure or a cancel at any
 * later step leaves nothing in the inventory. Cleanups get a fresh time-limited signal: the job's may have fired.
 */
import { basename } from "node:path";
import {
  BuildFailedError,
  InvalidArgumentError,
  formatGoDuration,
  TimeoutError,
  VSPHERE_DISK_CONTROLLERS,
  VSPHERE_NETWORK_CARDS,
  ipv4InCidr,
  type VsphereCloneBuilderConfig,
  type VsphereCommonConfig,
  type VsphereIsoBuilderConfig,
} from "../../../../core/src/mod.js";
import { SshCommunicator, sshOptionsFromConfig } from "../../communicators/ssh.js";
import type { Step } from "../../pipeline/mod.js";
import { sleep } from "../../util/abort.js";
import { sharedSourceCache } from "../../vm/source_cache.js";
import { VsphereClient } from "../../vsphere/client.js";
import { networkBacking, resolveLocation, type Location } from "../../vsphere/inventory.js";
import { MoRef, child, moref, text, type SoapObject, type SoapValue } from "../../vsphere/soap.js";
import { VirtualMachine } from "../../vsphere/vm.js";
import type { ExportState } from "./export.js";
import type { VsphereBootState } from "./boot_command.js";
import { markExtraConfig, reapEarlierAttempts, type VsphereMark } from "./reap.js";

/** How long a cleanup may take (power off and destroy). */
const CLEANUP_TIMEOUT_MS = 120_000;
/** Packer's snapshot name. */
export const SNAPSHOT_NAME = "Created by Packer";

export interface VsphereBuildState extends VsphereBootState {
  client?: VsphereClient;
  location?: Location;
  vm?: VirtualMachine;
  ip?: string;
  communicator?: SshCommunicator;
  /** The local ISO (`iso_url`/`iso_urls`), verified, and its datastore path once uploaded. */
  localIso?: string;
  uploadedIso?: string;
  /** The export step's output (./export.ts). */
  export?: ExportState;
}

/** Packer's StepDownload: `iso_url`/`iso_urls` through the agent's checksum-verified source cache. */
export function downloadIsoStep(setup: VsphereSetup<VsphereIsoBuilderConfig>): Step<VsphereBuildState> {
  return {
    name: "download-iso",
    async run(ctx, state) {
      const c = setup.config;
      const urls = (c.iso_urls ?? []).length > 0 ? [...(c.iso_urls ?? [])] : [c.iso_url ?? ""];
      if (urls.every((u) => u === "")) return "continue";
      ctx.log("say", "Retrieving ISO");
      const result = await sharedSourceCache().fetch({
        urls,
        checksum: c.iso_checksum ?? "none",
        workDir: setup.workDir,
        signal: ctx.signal,
        log: (text) => ctx.log("message", text),
      });
      state.localIso = result.path;
      return "continue";
    },
  };
}

/** Packer's StepRemoteUpload: the ISO to `[datastore] packer_cache/<name>` (kept there for later builds, as Packer does). */
export function uploadIsoStep(): Step<VsphereBuildState> {
  return {
    name: "upload-iso",
    async run(ctx, state) {
      const local = state.localIso;
      if (local === undefined) return "continue";
      const loc = state.location as Location;
      const remote = `packer_cache/${basename(local)}`;
      ctx.log("say", `Uploading ${basename(local)} to [${loc.datastoreName}] ${remote}`);
      const uploaded = await clientOf(state).uploadToDatastore(local, loc.dcPath, loc.datastoreName, remote, ctx.signal);
      if (!uploaded) ctx.log("say", "File already uploaded; continuing");
      state.uploadedIso = `[${loc.datastoreName}] ${remote}`;
      return "continue";
    },
  };
}

export interface VsphereSetup<C extends VsphereCommonConfig = VsphereCommonConfig> {
  readonly config: C;
  readonly vmName: string;
  readonly workDir: string;
  /** `-force`: an existing VM of the same name is destroyed first. */
  readonly force: boolean;
  /** The job's mark, put on the VM it creates; VMs of earlier attempts are reaped first (./reap.ts). */
  readonly mark?: VsphereMark;
}

/** Logs in. Cleanup: logs out. */
export function connectVcenterStep(setup: VsphereSetup): Step<VsphereBuildState> {
  return {
    name: "connect-vcenter",
    async run(ctx, state) {
      const c = setup.config;
      state.client = await VsphereClient.connect(
        { server: c.vcenter_server ?? "", username: c.username ?? "", password: c.password ?? "", insecure: c.insecure_connection },
        ctx.signal,
      );
      return "continue";
    },
    async cleanup(state) {
      await state.client?.close();
      state.client = undefined;
    },
  };
}

function clientOf(state: VsphereBuildState): VsphereClient {
  if (state.client === undefined) throw new BuildFailedError("internal: not connected to vCenter");
  return state.client;
}

/** Resolves datacenter, cluster/host, pool, datastore and folder; handles an existing VM of the same name. */
export function locateStep(setup: VsphereSetup): Step<VsphereBuildState> {
  return {
    name: "locate",
    async run(ctx, state) {
      const client = clientOf(state);
      const location = await resolveLocation(client, setup.config, ctx.signal);
      state.location = location;
      if (setup.mark !== undefined) await reapEarlierAttempts(client, location.folder, setup.mark, (t) => ctx.log("say", t), ctx.signal);
      const existing = await client.findByInventoryPath(`${location.dcPath}/vm/${folderPath(setup.config)}${setup.vmName}`, ctx.signal);
      if (existing !== undefined) {
        if (!setup.force) {
          throw new InvalidArgumentError(`${setup.vmName} already exists, you can use -force flag to destroy it (vm_name)`);
        }
        ctx.log("say", `the vm/template ${setup.vmName} already exists, but deleting it due to -force flag`);
        await new VirtualMachine(client, existing, setup.vmName).destroy(ctx.signal);
      }
      return "continue";
    },
  };
}

function folderPath(c: VsphereCommonConfig): string {
  const f = (c.folder ?? "").replace(/^\/+|\/+$/g, "");
  return f === "" ? "" : `${f}/`;
}

/**
 * Destroys the VM unless the build succeeded (Packer's StepCreateVM/StepCloneVM cleanup). When the create or clone
 * task was started but its result never arrived (a cancel mid-call), the VM is looked up by name: the locate step
 * made sure no other VM had that name.
 */
async function destroyUnlessKept(setup: VsphereSetup, state: VsphereBuildState, outcome: string, log: (text: string) => void): Promise<void> {
  if (outcome === "ok") return;
  const signal = AbortSignal.timeout(CLEANUP_TIMEOUT_MS);
  let vm = state.vm;
  if (vm === undefined && state.client !== undefined && state.location !== undefined) {
    const path = `${state.location.dcPath}/vm/${folderPath(setup.config)}${setup.vmName}`;
    const ref = await state.client.findByInventoryPath(path, signal).catch(() => undefined);
    if (ref !== undefined) vm = new VirtualMachine(state.client, ref, setup.vmName);
  }
  if (vm === undefined) return;
  log(`Destroying VM ${vm.name}...`);
  await vm.destroy(signal);
  state.vm = undefined;
}

function scsiUnit(n: number): number {
  return n >= 7 ? n + 1 : n; // unit 7 is the SCSI controller itself
}

/** vsphere-iso's CreateVM_Task: controllers, disks, NICs (and a USB controller) in one config spec. */
export function createVmStep(setup: VsphereSetup<VsphereIsoBuilderConfig>): Step<VsphereBuildState> {
  return {
    name: "create-vm",
    async run(ctx, state) {
      const client = clientOf(state);
      const loc = state.location as Location;
      const c = setup.config;
      const controllers = (c.disk_controller_type ?? []).length > 0 ? (c.disk_controller_type ?? []).map((t) => (t === "" ? "lsilogic" : t)) : ["lsilogic"];
      const deviceChange: SoapValue[] = [];
      controllers.forEach((t, i) => {
        const type = VSPHERE_DISK_CONTROLLERS[t] ?? "VirtualLsiLogicController";
        const scsi = !["VirtualNVMEController", "VirtualAHCIController"].includes(type);
        deviceChange.push({
          operation: "add",
          device: { $type: type, key: -(100 + i), busNumber: i, ...(scsi ? { sharedBus: "noSharing" } : {}) },
        });
      });
      const units = controllers.map(() => 0);
      (c.storage ?? []).forEach((s, i) => {
        const index = s.disk_controller_index ?? 0;
        const scsi = !["nvme", "sata"].includes(controllers[index] ?? "");
        const unit = units[index] ?? 0;
        units[index] = unit + 1;
        deviceChange.push({
          operation: "add",
          fileOperation: "create",
          device: {
            $type: "VirtualDisk",
            key: -(200 + i),
            backing: {
              $type: "VirtualDiskFlatVer2BackingInfo",
              fileName: "",
              diskMode: "persistent",
              thinProvisioned: s.disk_thin_provisioned ?? false,
              eagerlyScrub: s.disk_eagerly_scrub ?? false,
            },
            controllerKey: -(100 + index),
            unitNumber: scsi ? scsiUnit(unit) : unit,
            capacityInKB: (s.disk_size ?? 0) * 1024,
          },
        });
      });
      const hostOrCompute = loc.host ?? moref((await client.props(loc.pool, ["owner"], ctx.signal)).get("owner"));
      const nics = c.network_adapters ?? [];
      for (const [i, n] of nics.entries()) {
        const backing = await networkBacking(client, { ref: loc.datacenter, path: loc.dcPath }, n.network ?? "", `network_adapters[${i}].network`, hostOrCompute, ctx.signal);
        const mac = n.mac_address ?? "";
        deviceChange.push({
          operation: "add",
          device: {
            $type: VSPHERE_NETWORK_CARDS[n.network_card ?? ""] ?? "VirtualVmxnet3",
            key: -(300 + i),
            backing,
            connectable: { startConnected: true, allowGuestControl: true, connected: true },
            addressType: mac !== "" ? "manual" : "generated",
            macAddress: mac !== "" ? mac : undefined,
          },
        });
      }
      if (c.usb_controller === true) deviceChange.push({ operation: "add", device: { $type: "VirtualUSBController", key: -500 } });
      const spec: SoapObject = {
        name: setup.vmName,
        version: c.vm_version !== undefined ? `vmx-${String(c.vm_version).padStart(2, "0")}` : undefined,
        guestId: c.guest_os_type,
        annotation: c.notes,
        files: { vmPathName: `[${loc.datastoreName}]` },
        deviceChange,
        extraConfig: setup.mark !== undefined ? markExtraConfig(setup.mark) : undefined,
      };
      ctx.log("say", "Creating VM...");
      const result = await client.runTask(
        "CreateVM_Task",
        loc.folder,
        { config: spec, pool: loc.pool, host: loc.host },
        `creating VM ${setup.vmName}`,
        ctx.signal,
      );
      const ref = moref(result);
      if (ref === undefined) throw new BuildFailedError(`creating VM ${setup.vmName}: the task returned no VM`);
      state.vm = new VirtualMachine(client, ref, setup.vmName);
      return "continue";
    },
    async cleanup(state, outcome, ctx) {
      await destroyUnlessKept(setup, state, outcome, (t) => ctx.log("say", t));
    },
  };
}

/** vsphere-clone's CloneVM_Task (a linked clone from the template's current snapshot when `linked_clone`). */
export function cloneVmStep(setup: VsphereSetup<VsphereCloneBuilderConfig>): Step<VsphereBuildState> {
  return {
    name: "clone-vm",
    async run(ctx, state) {
      const client = clientOf(state);
      const loc = state.location as Location;
      const c = setup.config;
      const vmFolder = moref((await client.props(loc.datacenter, ["vmFolder"], ctx.signal)).get("vmFolder")) as MoRef;
      const template = await client.find(vmFolder, `${loc.dcPath}/vm`, "VirtualMachine", c.template ?? "", "template", ctx.signal);
      let snapshot: MoRef | undefined;
      if (c.linked_clone) {
        snapshot = moref((await client.props(template, ["snapshot.currentSnapshot"], ctx.signal)).get("snapshot.currentSnapshot"));
        if (snapshot === undefined) throw new InvalidArgumentError(`template '${c.template}' has no snapshot: linked_clone needs one (create_snapshot on the build that made it)`);
      }
      ctx.log("say", "Cloning VM...");
      const result = await client.runTask(
        "CloneVM_Task",
        template,
        {
          folder: loc.folder,
          name: setup.vmName,
          spec: {
            location: {
              datastore: loc.datastore,
              diskMoveType: c.linked_clone ? "createNewChildDiskBacking" : undefined,
              pool: loc.pool,
              host: loc.host,
            },
            template: false,
            config: setup.mark !== undefined ? { extraConfig: markExtraConfig(setup.mark) } : undefined,
            powerOn: false,
            snapshot,
          },
        },
        `cloning ${c.template} to ${setup.vmName}`,
        ctx.signal,
      );
      const ref = moref(result);
      if (ref === undefined) throw new BuildFailedError(`cloning ${c.template}: the task returned no VM`);
      state.vm = new VirtualMachine(client, ref, setup.vmName);
      return "continue";
    },
    async cleanup(state, outcome, ctx) {
      await destroyUnlessKept(setup, state, outcome, (t) => ctx.log("say", t));
    },
  };
}

function vmOf(state: VsphereBuildState): VirtualMachine {
  if (state.vm === undefined) throw new BuildFailedError("internal: no VM");
  return state.vm;
}

/** What a builder adds to the common reconfigure spec (vsphere-clone: its notes and device edits). */
export interface ConfigureExtras {
  readonly notes?: string;
  deviceChanges?(state: VsphereBuildState, signal: AbortSignal): Promise<SoapValue[] | undefined>;
}

/** Hardware (CPU, RAM, reservations, hot plug, firmware), configuration_parameters and tools settings. */
export function configureStep(setup: VsphereSetup, extras: ConfigureExtras = {}): Step<VsphereBuildState> {
  return {
    name: "configure",
    async run(ctx, state) {
      const vm = vmOf(state);
      const c = setup.config;
      const extra = Object.entries(c.configuration_parameters ?? {}).map(([key, value]) => ({
        key,
        value: { $type: "xsd:string", $text: value },
      }));
      const cpuAlloc = c.CPU_reservation !== undefined || c.CPU_limit !== undefined ? { reservation: c.CPU_reservation, limit: c.CPU_limit } : undefined;
      const memAlloc = c.RAM_reservation !== undefined ? { reservation: c.RAM_reservation } : undefined;
      const tools =
        c.tools_sync_time !== undefined || c.tools_upgrade_policy !== undefined
          ? { syncTimeWithHost: c.tools_sync_time, toolsUpgradePolicy: c.tools_upgrade_policy === true ? "upgradeAtPowerCycle" : undefined }
          : undefined;
      const bootOptions =
        c.force_bios_setup !== undefined || c.firmware === "efi-secure" ? { enterBIOSSetup: c.force_bios_setup, efiSecureBootEnabled: c.firmware === "efi-secure" ? true : undefined } : undefined;
      const spec: Record<string, SoapValue> = {
        annotation: extras.notes,
        tools,
        numCPUs: c.CPUs,
        numCoresPerSocket: c.cpu_cores,
        memoryMB: c.RAM,
        memoryHotAddEnabled: c.RAM_hot_plug,
        cpuHotAddEnabled: c.CPU_hot_plug,
        deviceChange: await extras.deviceChanges?.(state, ctx.signal),
        cpuAllocation: cpuAlloc,
        memoryAllocation: memAlloc,
        extraConfig: extra.length > 0 ? extra : undefined,
        bootOptions,
        firmware: c.firmware === "efi-secure" ? "efi" : c.firmware,
        memoryReservationLockedToMax: c.RAM_reserve_all,
        nestedHVEnabled: c.NestedHV,
      };
      if (Object.values(spec).every((v) => v === undefined)) return "continue";
      ctx.log("say", "Customizing hardware...");
      await vm.reconfigure(spec, `configuring ${vm.name}`, ctx.signal);
      return "continue";
    },
  };
}

/** vsphere-clone: grow the first disk (`disk_size`), move the first NIC to `network` (with `mac_address`). */
export async function cloneDeviceChanges(
  setup: VsphereSetup<VsphereCloneBuilderConfig>,
  state: VsphereBuildState,
  signal: AbortSignal,
): Promise<SoapValue[] | undefined> {
  const c = setup.config;
  const vm = vmOf(state);
  const changes: SoapValue[] = [];
  const devices = await vm.devices(signal);
  if ((c.disk_size ?? 0) > 0) {
    const disk = devices.find((d) => d.type === "VirtualDisk");
    if (disk === undefined) throw new InvalidArgumentError(`disk_size: the cloned VM ${vm.name} has no disk to grow`);
    const current = Number(text(child(disk.node, "capacityInKB")));
    const wanted = (c.disk_size ?? 0) * 1024;
    if (wanted < current) throw new InvalidArgumentError(`disk_size ${c.disk_size} MiB is smaller than the template's disk (${Math.round(current / 1024)} MiB): disks cannot shrink`);
    changes.push({ operation: "edit", device: { ...deviceObject(disk.node, "VirtualDisk"), capacityInKB: wanted } });
  }
  if ((c.network ?? "") !== "") {
    const nic = devices.find((d) => Object.values(VSPHERE_NETWORK_CARDS).includes(d.type));
    if (nic === undefined) throw new InvalidArgumentError(`network: the cloned VM ${vm.name} has no network adapter`);
    const loc = state.location as Location;
    const backing = await networkBacking(vm.client, { ref: loc.datacenter, path: loc.dcPath }, c.network ?? "", "network", undefined, signal);
    const mac = c.mac_address ?? "";
    changes.push({
      operation: "edit",
      device: {
        $type: nic.type,
        key: nic.key,
        deviceInfo: deviceInfoOf(nic.node),
        backing,
        controllerKey: nic.controllerKey,
        unitNumber: nic.unitNumber,
        addressType: mac !== "" ? "manual" : undefined,
        macAddress: mac !== "" ? mac : undefined,
      },
    });
  }
  return changes.length > 0 ? changes : undefined;
}

/** An existing device's label and summary (an `edit` spec carries them; vcsim requires it). */
function deviceInfoOf(node: unknown): SoapObject {
  const info = child(node, "deviceInfo");
  return { label: text(child(info, "label")), summary: text(child(info, "summary")) };
}

/** An existing device for an `edit` spec: its identity fields, in WSDL order. */
function deviceObject(node: unknown, type: string): SoapObject {
  const backingNode = child(node, "backing");
  return {
    $type: type,
    key: Number(text(child(node, "key"))),
    deviceInfo: deviceInfoOf(node),
    backing: {
      $type: "VirtualDiskFlatVer2BackingInfo",
      fileName: text(child(backingNode, "fileName")),
      diskMode: text(child(backingNode, "diskMode")) || "persistent",
    },
    controllerKey: Number(text(child(node, "controllerKey"))),
    unitNumber: Number(text(child(node, "unitNumber"))),
  };
}

/** vsphere-iso: one CD-ROM per `iso_paths` entry, on the VM's IDE controllers (two units each). */
export function addCdromsStep(setup: VsphereSetup<VsphereCommonConfig & { readonly iso_paths?: readonly string[] }>): Step<VsphereBuildState> {
  return {
    name: "add-cdrom",
    async run(ctx, state) {
      const isoPaths = [...(setup.config.iso_paths ?? []), ...(state.uploadedIso !== undefined ? [state.uploadedIso] : [])];
      if (isoPaths.length === 0) return "continue";
      const vm = vmOf(state);
      const devices = await vm.devices(ctx.signal);
      const free: { controller: number; unit: number }[] = [];
      for (const ide of devices.filter((d) => d.type === "VirtualIDEController")) {
        const used = new Set(devices.filter((d) => d.controllerKey === ide.key).map((d) => d.unitNumber));
        for (const unit of [0, 1]) if (!used.has(unit)) free.push({ controller: ide.key, unit });
      }
      if (free.length < isoPaths.length) {
        throw new InvalidArgumentError(`iso_paths: ${isoPaths.length} ISOs but the VM's IDE controllers have ${free.length} free slots`);
      }
      const deviceChange = isoPaths.map((iso, i) => {
        const slot = free[i] as { controller: number; unit: number };
        ctx.log("say", `Mounting ISO ${iso}`);
        return {
          operation: "add",
          device: {
            $type: "VirtualCdrom",
            key: -(400 + i),
            backing: { $type: "VirtualCdromIsoBackingInfo", fileName: iso },
            connectable: { startConnected: true, allowGuestControl: true, connected: true },
            controllerKey: slot.controller,
            unitNumber: slot.unit,
          },
        };
      });
      await vm.reconfigure({ deviceChange }, `adding CD-ROMs to ${vm.name}`, ctx.signal);
      return "continue";
    },
  };
}

/** Powers the VM on. */
export function powerOnStep(): Step<VsphereBuildState> {
  return {
    name: "power-on",
    async run(ctx, state) {
      ctx.log("say", "Power on VM...");
      await vmOf(state).powerOn(ctx.signal);
      return "continue";
    },
  };
}

/**
 * Packer's StepWaitForIp: polls `guest.ipAddress` until an IPv4 address in `ip_wait_address` appears and stays the
 * same for `ip_settle_timeout`. @throws TimeoutError after `ip_wait_timeout`
 */
export function waitForIpStep(setup: VsphereSetup): Step<VsphereBuildState> {
  return {
    name: "wait-for-ip",
    async run(ctx, state) {
      const vm = vmOf(state);
      const c = setup.config;
      const cidr = c.ip_wait_address ?? "0.0.0.0/0";
      ctx.log("say", "Waiting for IP...");
      const deadline = Date.now() + c.ip_wait_timeout;
      const read = async (): Promise<string | undefined> => {
        const ip = text((await vm.client.props(vm.ref, ["guest.ipAddress"], ctx.signal)).get("guest.ipAddress"));
        return ip !== "" && ipv4InCidr(ip, cidr) ? ip : undefined;
      };
      for (;;) {
        const ip = await vm.client.poll(read, Math.max(0, deadline - Date.now()), ctx.signal);
        if (ip === undefined) throw new TimeoutError(`Timeout waiting for IP. (ip_wait_timeout ${Math.round(c.ip_wait_timeout / 1000)}s)`);
        await sleep(c.ip_settle_timeout, ctx.signal);
        if ((await read()) === ip) {
          state.ip = ip;
          ctx.log("say", `IP address: ${ip}`);
          return "continue";
        }
        if (Date.now() > deadline) throw new TimeoutError(`Timeout waiting for IP. (ip_wait_timeout ${Math.round(c.ip_wait_timeout / 1000)}s)`);
      }
    },
  };
}

/** Connects the SSH communicator to the guest IP (or `ssh_host`). Cleanup: closes it. */
export function sshConnectStep(setup: VsphereSetup): Step<VsphereBuildState> {
  return {
    name: "connect",
    async run(ctx, state) {
      const c = setup.config;
      const host = (c.ssh_host ?? "") !== "" ? (c.ssh_host ?? "") : (state.ip ?? "");
      ctx.log("say", `Using ssh communicator to connect: ${host}`);
      ctx.log("say", "Waiting for SSH to become available...");
      state.communicator = await SshCommunicator.connect(
        { ...sshOptionsFromConfig(c, host), ssh_timeout: c.ssh_timeout ?? c.ssh_wait_timeout ?? 5 * 60_000 },
        { signal: ctx.signal, workDir: setup.workDir, log: (text) => ctx.log("message", text) },
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

/** Packer's StepShutdown: `shutdown_command` over the communicator, else a guest shutdown through VMware Tools. */
export function shutdownStep(setup: VsphereSetup): Step<VsphereBuildState> {
  return {
    name: "shutdown",
    async run(ctx, state) {
      const vm = vmOf(state);
      const c = setup.config;
      if (c.disable_shutdown === true) {
        ctx.log("say", "Automatic shutdown disabled. Please shutdown virtual machine.");
      } else if (c.communicator === "none") {
        // Packer 1.6.6: without a communicator nobody can run a shutdown command; someone else shuts the VM down.
        ctx.log("message", `Please shutdown virtual machine within ${formatGoDuration(c.shutdown_timeout)}.`);
      } else if ((c.shutdown_command ?? "") !== "" && state.communicator !== undefined) {
        ctx.log("say", "Executing shutdown command...");
        void state.communicator.start(c.shutdown_command ?? "", { signal: ctx.signal }).catch(() => undefined);
      } else {
        ctx.log("say", "Shutting down VM...");
        await vm.shutdownGuest(ctx.signal);
      }
      ctx.log("say", "Waiting for VM to shut down...");
      await vm.waitPoweredOff(c.shutdown_timeout, ctx.signal);
      state.communicator?.close();
      state.communicator = undefined;
      ctx.log("say", "VM stopped");
      return "continue";
    },
  };
}

/** Packer's StepRemoveCDRom without `remove_cdrom`: every CD-ROM is ejected (no ISO, not connected) after shutdown. */
export function ejectCdromsStep(): Step<VsphereBuildState> {
  return {
    name: "eject-cdrom",
    async run(ctx, state) {
      const vm = vmOf(state);
      const cdroms = (await vm.devices(ctx.signal)).filter((d) => d.type === "VirtualCdrom");
      if (cdroms.length === 0) return "continue";
      ctx.log("say", "Eject CD-ROM drives...");
      await vm.reconfigure(
        {
          deviceChange: cdroms.map((d) => ({
            operation: "edit",
            device: {
              $type: "VirtualCdrom",
              key: d.key,
              deviceInfo: deviceInfoOf(d.node),
              backing: { $type: "VirtualCdromRemotePassthroughBackingInfo", deviceName: "", exclusive: false },
              connectable: { startConnected: false, allowGuestControl: false, connected: false },
              controllerKey: d.controllerKey,
              unitNumber: d.unitNumber,
            },
          })),
        },
        `ejecting the CD-ROMs of ${vm.name}`,
        ctx.signal,
      );
      return "continue";
    },
  };
}

/** `remove_cdrom`: removes the CD-ROM devices after shutdown. */
export function removeCdromsStep(): Step<VsphereBuildState> {
  return {
    name: "remove-cdrom",
    async run(ctx, state) {
      const vm = vmOf(state);
      const cdroms = (await vm.devices(ctx.signal)).filter((d) => d.type === "VirtualCdrom");
      if (cdroms.length === 0) return "continue";
      ctx.log("say", "Deleting CD-ROM drives...");
      await vm.reconfigure(
        { deviceChange: cdroms.map((d) => ({ operation: "remove", device: { $type: "VirtualCdrom", key: d.key, controllerKey: d.controllerKey, unitNumber: d.unitNumber } })) },
        `removing CD-ROMs from ${vm.name}`,
        ctx.signal,
      );
      return "continue";
    },
  };
}

export function snapshotStep(): Step<VsphereBuildState> {
  return {
    name: "create-snapshot",
    async run(ctx, state) {
      ctx.log("say", "Creating snapshot...");
      await vmOf(state).createSnapshot(SNAPSHOT_NAME, ctx.signal);
      return "continue";
    },
  };
}

export function convertToTemplateStep(): Step<VsphereBuildState> {
  return {
    name: "convert-to-template",
    async run(ctx, state) {
      ctx.log("say", "Convert VM into template...");
      await vmOf(state).markAsTemplate(ctx.signal);
      return "continue";
    },
  };
}
