/**
 * `.vmx` files as Packer's VMware plugin reads and writes them: keys are case-insensitive and kept lower-case,
 * values quoted, the file written sorted by key. {@link defaultVmx} is the plugin's default template for a new VM
 * (packer-plugin-vmware `DefaultVMXTemplate`), as key/value pairs.
 */
import { readFile, writeFile } from "node:fs/promises";

export type VmxData = Map<string, string>;

/** Parses a .vmx (Packer's ParseVMX: `key = "value"` lines, keys lower-cased, other lines ignored). */
export function parseVmx(text: string): VmxData {
  const out: VmxData = new Map();
  for (const line of text.split("\n")) {
    const m = /^(.+?)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (m === null || (m[1] ?? "").startsWith("//") || (m[1] ?? "").startsWith("#")) continue;
    out.set((m[1] as string).trim().toLowerCase(), m[2] as string);
  }
  return out;
}

/** Writes the data the way Packer's EncodeVMX does: sorted by key, every value quoted. */
export function encodeVmx(data: VmxData): string {
  return [...data.keys()].sort().map((k) => `${k} = "${data.get(k) ?? ""}"\n`).join("");
}

export async function readVmx(file: string): Promise<VmxData> {
  return parseVmx(await readFile(file, "utf8"));
}

export async function writeVmx(file: string, data: VmxData): Promise<void> {
  await writeFile(file, encodeVmx(data));
}

/** Where the disk and the install CD-ROM go for a `disk_adapter_type` / `cdrom_adapter_type` (the plugin's rules). */
export interface DiskLayout {
  readonly diskType: string;
  readonly scsiPresent: boolean;
  readonly scsiAdapter: string;
  readonly sataPresent: boolean;
  readonly nvmePresent: boolean;
  readonly cdromType: string;
  /** The CD-ROM's unit on its bus ("0" or "1"). */
  readonly cdromUnit: string;
}

export function diskLayout(diskAdapterType: string, cdromAdapterType: string | undefined): DiskLayout {
  const adapter = diskAdapterType.toLowerCase();
  let diskType = "scsi";
  let cdromType = "ide";
  let cdromUnit = "0";
  if (adapter === "ide") {
    diskType = "ide";
    cdromUnit = "1";
  } else if (adapter === "sata") {
    diskType = "sata";
    cdromType = "sata";
    cdromUnit = "1";
  } else if (adapter === "nvme") {
    diskType = "nvme";
    cdromType = "sata";
  }
  const cd = (cdromAdapterType ?? "").toLowerCase();
  if (cd !== "") {
    cdromType = cd;
    cdromUnit = cd === diskType ? "1" : "0";
  }
  return {
    diskType,
    scsiPresent: diskType === "scsi",
    scsiAdapter: adapter === "scsi" || diskType !== "scsi" ? "lsilogic" : adapter,
    sataPresent: diskType === "sata" || cdromType === "sata",
    nvmePresent: diskType === "nvme",
    cdromType,
    cdromUnit,
  };
}

/** What a new VM's .vmx is made of. */
export interface VmxTemplateData {
  readonly name: string;
  readonly guestOs: string;
  readonly version: number;
  readonly cpus: number;
  readonly cores: number;
  readonly memoryMb: number;
  readonly diskName: string;
  readonly layout: DiskLayout;
  readonly isoPath: string;
  readonly network: string;
  readonly networkAdapter: string;
  readonly sound: boolean;
  readonly usb: boolean;
}

const BOOL = (b: boolean): string => (b ? "TRUE" : "FALSE");

/** Network names Workstation maps to a connection type; anything else is a custom vmnet device. */
const NETWORK_TYPES = new Set(["nat", "bridged", "hostonly"]);

/** The plugin's default .vmx for a new VM (packer-plugin-vmware iso/step_create_vmx.go), as data. */
export function defaultVmx(d: VmxTemplateData): VmxData {
  const custom = !NETWORK_TYPES.has(d.network);
  const cd = `${d.layout.cdromType}0:${d.layout.cdromUnit}`;
  const entries: [string, string][] = [
    [".encoding", "UTF-8"],
    ["displayname", d.name],
    ["memsize", String(d.memoryMb)],
    ["config.version", "8"],
    ["virtualhw.productcompatibility", "hosted"],
    ["virtualhw.version", String(d.version)],
    ["vhv.enable", "FALSE"],
    ["nvram", `${d.name}.nvram`],
    ["floppy0.present", "FALSE"],
    ["bios.bootorder", "hdd,cdrom"],
    ["extendedconfigfile", `${d.name}.vmxf`],
    ["gui.fullscreenatpoweron", "FALSE"],
    ["gui.viewmodeatpoweron", "windowed"],
    ["hgfs.linkrootshare", "TRUE"],
    ["hgfs.maprootshare", "TRUE"],
    ["isolation.tools.hgfs.disable", "FALSE"],
    ["proxyapps.publishtohost", "FALSE"],
    ["replay.filename", ""],
    ["replay.supported", "FALSE"],
    ["checkpoint.vmstate", ""],
    ["vmotion.checkpointfbsize", "65536000"],
    ["cleanshutdown", "TRUE"],
    ["powertype.poweroff", "soft"],
    ["powertype.poweron", "soft"],
    ["powertype.reset", "soft"],
    ["powertype.suspend", "soft"],
    ["guestos", d.guestOs],
    ["tools.synctime", "TRUE"],
    ["tools.upgrade.policy", "upgradeAtPowerCycle"],
    ["pcibridge0.pcislotnumber", "17"],
    ["pcibridge0.present", "TRUE"],
    ...[4, 5, 6, 7].flatMap((n): [string, string][] => [
      [`pcibridge${n}.functions`, "8"],
      [`pcibridge${n}.pcislotnumber`, String(17 + n)],
      [`pcibridge${n}.present`, "TRUE"],
      [`pcibridge${n}.virtualdev`, "pcieRootPort"],
    ]),
    ["ehci.present", "TRUE"],
    ["ehci.pcislotnumber", "34"],
    ["vmci0.present", "TRUE"],
    ["vmci0.id", "1861462627"],
    ["vmci0.pcislotnumber", "35"],
    ["hpet0.present", "TRUE"],
    ["ethernet0.addresstype", "generated"],
    ["ethernet0.bsdname", "en0"],
    ["ethernet0.connectiontype", custom ? "custom" : d.network],
    ["ethernet0.vnet", custom ? d.network : ""],
    ["ethernet0.displayname", "Ethernet"],
    ["ethernet0.linkstatepropagation.enable", "FALSE"],
    ["ethernet0.pcislotnumber", "33"],
    ["ethernet0.present", "TRUE"],
    ["ethernet0.virtualdev", d.networkAdapter],
    ["ethernet0.wakeonpcktrcv", "FALSE"],
    ["scsi0.present", BOOL(d.layout.scsiPresent)],
    ["scsi0.virtualdev", d.layout.scsiAdapter],
    ["scsi0.pcislotnumber", "16"],
    ["scsi0:0.redo", ""],
    ["sata0.present", BOOL(d.layout.sataPresent)],
    ["nvme0.present", BOOL(d.layout.nvmePresent)],
    [`${d.layout.diskType}0:0.present`, "TRUE"],
    [`${d.layout.diskType}0:0.filename`, `${d.diskName}.vmdk`],
    [`${cd}.present`, "TRUE"],
    [`${cd}.filename`, d.isoPath],
    [`${cd}.devicetype`, "cdrom-image"],
    ["sound.startconnected", BOOL(d.sound)],
    ["sound.present", BOOL(d.sound)],
    ["sound.filename", "-1"],
    ["sound.autodetect", "TRUE"],
    ["usb.pcislotnumber", "32"],
    ["usb.present", BOOL(d.usb)],
    ["serial0.present", "FALSE"],
    ["parallel0.present", "FALSE"],
  ];
  const data: VmxData = new Map(entries);
  if (d.cpus > 0) data.set("numvcpus", String(d.cpus));
  if (d.cores > 0) data.set("cpuid.corespersocket", String(d.cores));
  return data;
}

/** The CD-ROM device the build attached (Packer's `temporaryDevices`), e.g. "ide0:0". */
export function installCdrom(layout: DiskLayout): string {
  return `${layout.cdromType}0:${layout.cdromUnit}`;
}
