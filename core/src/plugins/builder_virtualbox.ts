/**
 * The `virtualbox-iso` and `virtualbox-ovf` builders (builder id `mitchellh.virtualbox`): Packer's VirtualBox
 * configuration. The agent drives `VBoxManage` (agent/src/builders/virtualbox). Options kiln does not run are refused
 * with a message naming them ({@link VIRTUALBOX_NOT_RUN}).
 */
import { COMMUNICATOR_FIELDS } from "./communicator.js";
import {
  BOOT_FIELDS,
  DESKTOP_NOT_RUN,
  FLOPPY_FIELDS,
  HTTP_FIELDS,
  ISO_FIELDS,
  RUN_FIELDS,
  checkCommunicator,
  checkHttp,
  checkIso,
  refuseNotRun,
} from "./desktop_common.js";
import { definePluginSchema, type CompiledConfig, type FieldSpecs } from "./schema.js";

export const VIRTUALBOX_BUILDER_ID = "mitchellh.virtualbox";

/** Packer's defaults (builder/virtualbox, common and iso). */
export const VIRTUALBOX_DEFAULTS = {
  diskSizeMb: 40_000,
  guestOsType: "Other",
  hardDriveInterface: "ide",
  isoInterface: "ide",
  format: "ovf",
  guestAdditionsMode: "upload",
  guestAdditionsPath: "VBoxGuestAdditions.iso",
  virtualboxVersionFile: ".vbox_version",
  hostPortMin: 2222,
  hostPortMax: 4444,
  sshListenAddress: "127.0.0.1",
  cpus: 1,
  memoryMb: 512,
} as const;

const HARD_DRIVE_INTERFACES = ["ide", "sata", "scsi", "pcie", "virtio"] as const;
const ISO_INTERFACES = ["ide", "sata", "virtio"] as const;
const GUEST_ADDITIONS_MODES = ["upload", "attach", "disable"] as const;

/** Options Packer has that kiln refuses, with the reason. */
export const VIRTUALBOX_NOT_RUN: Readonly<Record<string, string>> = {
  ...DESKTOP_NOT_RUN,
  guest_additions_sha256: "kiln uses the guest additions ISO VirtualBox installs on the agent",
  skip_nat_mapping: "the communicator reaches the guest through the NAT port forward kiln creates",
  ssh_skip_nat_mapping: "the communicator reaches the guest through the NAT port forward kiln creates",
  vrdp_bind_address: "kiln does not configure VRDP",
  vrdp_port_min: "kiln does not configure VRDP",
  vrdp_port_max: "kiln does not configure VRDP",
  bundle_iso: "bundling the ISO into the output is not implemented",
  disable_shutdown: "kiln always shuts the VM down",
  acpi_shutdown: "ACPI shutdown is not implemented: use shutdown_command",
  import_flags: "import_flags was removed: use import_opts",
  nvme_port_count: "NVMe (hard_drive_interface pcie) is not implemented",
  gfx_efi_resolution: "EFI graphics resolution is not implemented",
  nested_virt: "nested_virt is not implemented",
  rtc_time_base: "rtc_time_base is not implemented",
  chipset: "chipset is not implemented (VirtualBox's default piix3 is used)",
  firmware: "firmware is not implemented (VirtualBox's default bios is used)",
  nic_type: "nic_type is not implemented (use vboxmanage modifyvm --nictype1)",
  audio_controller: "audio_controller is not implemented",
  gfx_controller: "gfx_controller is not implemented (use vboxmanage modifyvm --graphicscontroller)",
  gfx_vram_size: "gfx_vram_size is not implemented (use vboxmanage modifyvm --vram)",
  gfx_accelerate_3d: "gfx_accelerate_3d is not implemented",
  hard_drive_discard: "hard_drive_discard is not implemented",
  hard_drive_nonrotational: "hard_drive_nonrotational is not implemented",
  disk_additional_size: "additional disks are not implemented",
};

const VIRTUALBOX_COMMON_FIELDS = {
  ...COMMUNICATOR_FIELDS,
  ...HTTP_FIELDS,
  ...FLOPPY_FIELDS,
  ...BOOT_FIELDS,
  ...RUN_FIELDS,
  post_shutdown_delay: { type: "duration" },
  disable_shutdown: { type: "bool" },
  acpi_shutdown: { type: "bool" },
  cpus: { type: "int", default: VIRTUALBOX_DEFAULTS.cpus },
  memory: { type: "int", default: VIRTUALBOX_DEFAULTS.memoryMb },
  sound: { type: "string", default: "none" },
  usb: { type: "bool" },
  format: { type: "string", default: VIRTUALBOX_DEFAULTS.format, description: "ovf or ova" },
  export_opts: { type: "array" },
  output_filename: { type: "string" },
  skip_export: { type: "bool" },
  keep_registered: { type: "bool" },
  guest_additions_mode: { type: "string", default: VIRTUALBOX_DEFAULTS.guestAdditionsMode },
  guest_additions_path: { type: "string", default: VIRTUALBOX_DEFAULTS.guestAdditionsPath },
  guest_additions_url: { type: "string" },
  guest_additions_sha256: { type: "string" },
  guest_additions_interface: { type: "string" },
  virtualbox_version_file: { type: "string", default: VIRTUALBOX_DEFAULTS.virtualboxVersionFile },
  vboxmanage: { type: "array", items: "string-list" },
  vboxmanage_post: { type: "array", items: "string-list" },
  host_port_min: { type: "int", default: VIRTUALBOX_DEFAULTS.hostPortMin },
  host_port_max: { type: "int", default: VIRTUALBOX_DEFAULTS.hostPortMax },
  ssh_host_port_min: { type: "int", deprecated: "use host_port_min" },
  ssh_host_port_max: { type: "int", deprecated: "use host_port_max" },
  skip_nat_mapping: { type: "bool" },
  ssh_skip_nat_mapping: { type: "bool", deprecated: "use skip_nat_mapping" },
  ssh_listen_address: { type: "string", default: VIRTUALBOX_DEFAULTS.sshListenAddress },
  vrdp_bind_address: { type: "string" },
  vrdp_port_min: { type: "int" },
  vrdp_port_max: { type: "int" },
  bundle_iso: { type: "bool" },
  gfx_controller: { type: "string" },
  gfx_vram_size: { type: "int" },
  gfx_accelerate_3d: { type: "bool" },
  gfx_efi_resolution: { type: "string" },
  nested_virt: { type: "bool" },
  rtc_time_base: { type: "string" },
} as const satisfies FieldSpecs;

export const virtualboxIsoBuilderSchema = definePluginSchema({
  kind: "builder",
  type: "virtualbox-iso",
  fields: {
    ...VIRTUALBOX_COMMON_FIELDS,
    ...ISO_FIELDS,
    guest_os_type: { type: "string", default: VIRTUALBOX_DEFAULTS.guestOsType },
    disk_size: { type: "int", default: VIRTUALBOX_DEFAULTS.diskSizeMb, description: "MiB" },
    disk_additional_size: { type: "array", items: "int" },
    hard_drive_interface: { type: "string", default: VIRTUALBOX_DEFAULTS.hardDriveInterface },
    hard_drive_discard: { type: "bool" },
    hard_drive_nonrotational: { type: "bool" },
    iso_interface: { type: "string", default: VIRTUALBOX_DEFAULTS.isoInterface },
    sata_port_count: { type: "int", default: 1 },
    nvme_port_count: { type: "int" },
    chipset: { type: "string" },
    firmware: { type: "string" },
    nic_type: { type: "string" },
    audio_controller: { type: "string" },
  },
  lateRenderedKeys: ["boot_command", "guest_additions_path", "guest_additions_url", "vboxmanage", "vboxmanage_post"],
  check(c) {
    const problems: string[] = [];
    checkIso(problems, c);
    if (c.disk_size < 1) problems.push("disk_size must be a positive number of MiB");
    oneOf(problems, "hard_drive_interface", c.hard_drive_interface, HARD_DRIVE_INTERFACES, "hard_drive_interface can only be ide, sata, pcie, scsi or virtio");
    oneOf(problems, "iso_interface", c.iso_interface, ISO_INTERFACES, "iso_interface can only be ide, sata or virtio");
    if (c.hard_drive_interface === "pcie") problems.push("hard_drive_interface pcie is not supported by kiln: NVMe controllers are not implemented; use sata, scsi, ide or virtio");
    if (c.sata_port_count > 30) problems.push("sata_port_count cannot be greater than 30");
    return common(c, problems, "virtualbox-iso");
  },
});

export const virtualboxOvfBuilderSchema = definePluginSchema({
  kind: "builder",
  type: "virtualbox-ovf",
  fields: {
    ...VIRTUALBOX_COMMON_FIELDS,
    source_path: { type: "string", required: "source_path is required" },
    checksum: { type: "string", description: "of source_path; none to skip" },
    import_opts: { type: "string" },
    import_flags: { type: "array" },
    target_path: { type: "string" },
  },
  lateRenderedKeys: ["boot_command", "guest_additions_path", "guest_additions_url", "vboxmanage", "vboxmanage_post"],
  check(c) {
    const problems: string[] = [];
    if ((c.target_path ?? "") !== "") problems.push("target_path is not supported by kiln: kiln keeps sources in the agent's shared cache");
    return common(c, problems, "virtualbox-ovf");
  },
});

type CommonConfig = CompiledConfig<typeof VIRTUALBOX_COMMON_FIELDS>;

function common(c: CommonConfig, problems: string[], type: string): { problems: string[]; warnings: string[] } {
  const warnings: string[] = [];
  checkHttp(problems, c);
  if (c.format !== "ovf" && c.format !== "ova") problems.push("invalid format, only 'ovf' or 'ova' are allowed");
  oneOf(problems, "guest_additions_mode", c.guest_additions_mode, GUEST_ADDITIONS_MODES, `guest_additions_mode is invalid. Must be one of: ${GUEST_ADDITIONS_MODES.join(", ")}`);
  if ((c.guest_additions_interface ?? "") !== "") oneOf(problems, "guest_additions_interface", c.guest_additions_interface, ISO_INTERFACES, "guest_additions_interface can only be ide, sata or virtio");
  const min = c.ssh_host_port_min ?? c.host_port_min;
  const max = c.ssh_host_port_max ?? c.host_port_max;
  if (min > max) problems.push("host_port_min must be less than host_port_max");
  if (min < 1 || max > 65535) problems.push("host_port_min and host_port_max must be TCP ports (1-65535)");
  if (c.cpus < 1) problems.push("An invalid number of cpus was specified (cpus < 1): 0");
  if (c.memory < 1) problems.push("An invalid amount of memory was specified (memory < 1): 0");
  checkCommunicator(problems, type, c);
  refuseNotRun(problems, c, VIRTUALBOX_NOT_RUN);
  if ((c.shutdown_command ?? "") === "") {
    warnings.push("A shutdown_command was not specified. Without a shutdown command, Packer\nwill forcibly halt the virtual machine, which may result in data loss.");
  }
  return { problems, warnings };
}

function oneOf(problems: string[], _key: string, value: string | undefined, allowed: readonly string[], message: string): void {
  if (value !== undefined && !allowed.includes(value)) problems.push(message);
}

export type VirtualboxIsoBuilderConfig = CompiledConfig<typeof virtualboxIsoBuilderSchema.fields>;
export type VirtualboxOvfBuilderConfig = CompiledConfig<typeof virtualboxOvfBuilderSchema.fields>;
/** What both VirtualBox builders share. */
export type VirtualboxCommonConfig = CommonConfig;
