/**
 * The `vmware-iso` and `vmware-vmx` builders (builder id `mitchellh.vmware`): Packer's VMware Workstation
 * configuration. The agent drives `vmrun` and `vmware-vdiskmanager` and writes the `.vmx` itself
 * (agent/src/builders/vmware). Options kiln does not run are refused with a message naming them
 * ({@link VMWARE_NOT_RUN}).
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

export const VMWARE_BUILDER_ID = "mitchellh.vmware";

/** Packer's defaults (packer-plugin-vmware, builder/vmware/common and iso). */
export const VMWARE_DEFAULTS = {
  diskSizeMb: 40_000,
  diskName: "disk",
  diskAdapterType: "lsilogic",
  diskTypeId: "1",
  guestOsType: "other",
  version: 21,
  network: "nat",
  networkAdapterType: "e1000",
  memoryMb: 512,
  vncBindAddress: "127.0.0.1",
  vncPortMin: 5900,
  vncPortMax: 6000,
  toolsUploadPath: "{{ .Flavor }}.iso",
  format: "vmx",
} as const;

const DISK_ADAPTERS = ["ide", "sata", "nvme", "scsi", "lsilogic", "lsisas1068", "buslogic", "pvscsi"] as const;
const CDROM_ADAPTERS = ["ide", "sata", "scsi"] as const;
const DISK_TYPE_IDS = ["0", "1", "2", "3", "4", "5"] as const;
const FORMATS = ["vmx", "ovf", "ova"] as const;

/** Options Packer has that kiln refuses, with the reason. */
export const VMWARE_NOT_RUN: Readonly<Record<string, string>> = {
  ...DESKTOP_NOT_RUN,
  remote_type: "VMware ESX is not supported by the plugin as of v2.0.0 (use vsphere-iso)",
  remote_host: "VMware ESX is not supported by the plugin as of v2.0.0 (use vsphere-iso)",
  remote_datastore: "VMware ESX is not supported by the plugin as of v2.0.0 (use vsphere-iso)",
  remote_cache_datastore: "VMware ESX is not supported by the plugin as of v2.0.0",
  remote_cache_directory: "VMware ESX is not supported by the plugin as of v2.0.0",
  remote_username: "VMware ESX is not supported by the plugin as of v2.0.0 (use vsphere-iso)",
  remote_password: "VMware ESX is not supported by the plugin as of v2.0.0 (use vsphere-iso)",
  remote_private_key_file: "VMware ESX is not supported by the plugin as of v2.0.0",
  remote_port: "VMware ESX is not supported by the plugin as of v2.0.0",
  fusion_app_path: "kiln runs VMware Workstation on Linux agents, not Fusion",
  vmx_template_path: "custom .vmx templates are not implemented: use vmx_data",
  vmx_disk_template_path: "custom disk templates are not implemented",
  additional_disk_size: "additional disks are not implemented",
  serial: "serial ports are not implemented",
  parallel: "parallel ports are not implemented",
  linked: "linked clones are not implemented",
  attach_snapshot: "attach_snapshot is not implemented",
  snapshot_name: "snapshot_name is not implemented",
  keep_registered: "registration is an ESX feature",
  skip_validate_credentials: "credentials are an ESX feature",
};

const VMWARE_COMMON_FIELDS = {
  ...COMMUNICATOR_FIELDS,
  ...HTTP_FIELDS,
  ...FLOPPY_FIELDS,
  ...BOOT_FIELDS,
  ...RUN_FIELDS,
  disable_vnc: { type: "bool" },
  boot_key_interval: { type: "duration", description: "pause between VNC key events @default 100ms" },
  vnc_bind_address: { type: "string", default: VMWARE_DEFAULTS.vncBindAddress },
  vnc_port_min: { type: "int", default: VMWARE_DEFAULTS.vncPortMin },
  vnc_port_max: { type: "int", default: VMWARE_DEFAULTS.vncPortMax },
  vnc_disable_password: { type: "bool" },
  cpus: { type: "int" },
  cores: { type: "int" },
  memory: { type: "int" },
  sound: { type: "bool" },
  usb: { type: "bool" },
  serial: { type: "string" },
  parallel: { type: "string" },
  network: { type: "string" },
  network_adapter_type: { type: "string" },
  vmx_data: { type: "map" },
  vmx_data_post: { type: "map" },
  vmx_remove_ethernet_interfaces: { type: "bool" },
  display_name: { type: "string" },
  skip_compaction: { type: "bool" },
  format: { type: "string" },
  ovftool_options: { type: "array" },
  skip_export: { type: "bool" },
  keep_registered: { type: "bool" },
  skip_validate_credentials: { type: "bool" },
  tools_upload_flavor: { type: "string" },
  tools_upload_path: { type: "string", default: VMWARE_DEFAULTS.toolsUploadPath },
  tools_source_path: { type: "string" },
  remote_type: { type: "string" },
  remote_host: { type: "string" },
  remote_datastore: { type: "string" },
  remote_cache_datastore: { type: "string" },
  remote_cache_directory: { type: "string" },
  remote_username: { type: "string" },
  remote_password: { type: "string" },
  remote_private_key_file: { type: "string" },
  remote_port: { type: "int" },
  fusion_app_path: { type: "string" },
  snapshot_name: { type: "string" },
} as const satisfies FieldSpecs;

export const vmwareIsoBuilderSchema = definePluginSchema({
  kind: "builder",
  type: "vmware-iso",
  fields: {
    ...VMWARE_COMMON_FIELDS,
    ...ISO_FIELDS,
    disk_size: { type: "int", default: VMWARE_DEFAULTS.diskSizeMb, description: "MiB" },
    additional_disk_size: { type: "array", items: "int" },
    disk_adapter_type: { type: "string", default: VMWARE_DEFAULTS.diskAdapterType },
    cdrom_adapter_type: { type: "string" },
    disk_type_id: { type: "string", default: VMWARE_DEFAULTS.diskTypeId },
    disk_name: { type: "string" },
    // Packer 1.6.6 names it vmdk_name (no warning there); later plugins renamed it disk_name. Both are accepted.
    vmdk_name: { type: "string" },
    guest_os_type: { type: "string", default: VMWARE_DEFAULTS.guestOsType },
    version: { type: "int", default: VMWARE_DEFAULTS.version },
    vmx_template_path: { type: "string" },
    vmx_disk_template_path: { type: "string" },
  },
  lateRenderedKeys: ["boot_command", "tools_upload_path"],
  check(c) {
    const problems: string[] = [];
    checkIso(problems, c);
    if (c.disk_size < 1) problems.push("disk_size must be a positive number of MiB");
    if (!(DISK_ADAPTERS as readonly string[]).includes(c.disk_adapter_type.toLowerCase())) {
      problems.push(`invalid 'disk_adapter_type' type specified: ${c.disk_adapter_type}; must be one of ${DISK_ADAPTERS.join(", ")}`);
    }
    if ((c.cdrom_adapter_type ?? "") !== "" && !(CDROM_ADAPTERS as readonly string[]).includes((c.cdrom_adapter_type ?? "").toLowerCase())) {
      problems.push(`invalid 'cdrom_adapter_type' type specified: ${c.cdrom_adapter_type ?? ""}; must be one of ${CDROM_ADAPTERS.join(", ")}`);
    }
    if (!(DISK_TYPE_IDS as readonly string[]).includes(c.disk_type_id)) problems.push(`invalid 'disk_type_id' specified: ${c.disk_type_id}; must be one of 0-5 for a local (Workstation) build`);
    if (c.version < 1) problems.push("version must be a positive virtual hardware version");
    return common(c, problems, "vmware-iso");
  },
});

export const vmwareVmxBuilderSchema = definePluginSchema({
  kind: "builder",
  type: "vmware-vmx",
  fields: {
    ...VMWARE_COMMON_FIELDS,
    source_path: { type: "string", required: "source_path is blank, but is required" },
    linked: { type: "bool" },
    attach_snapshot: { type: "string" },
  },
  lateRenderedKeys: ["boot_command", "tools_upload_path"],
  check(c) {
    const problems: string[] = [];
    if ((c.source_path ?? "") !== "" && !/\.vmx$/i.test(c.source_path ?? "")) problems.push(`source_path ${JSON.stringify(c.source_path)} must be a .vmx file`);
    return common(c, problems, "vmware-vmx");
  },
});

type CommonConfig = CompiledConfig<typeof VMWARE_COMMON_FIELDS>;

function common(c: CommonConfig, problems: string[], type: string): { problems: string[]; warnings: string[] } {
  const warnings: string[] = [];
  checkHttp(problems, c);
  const format = c.format ?? "";
  if (format !== "" && !(FORMATS as readonly string[]).includes(format)) problems.push("format must be one of ova, ovf, or vmx");
  if (c.vnc_port_min > c.vnc_port_max) problems.push("vnc_port_min must be less than vnc_port_max");
  if (c.vnc_port_min < 0) problems.push("vnc_port_min must be positive");
  if ((c.cpus ?? 0) < 0) problems.push("An invalid number of cpus was specified (cpus < 0)");
  if ((c.memory ?? 0) < 0) problems.push("An invalid amount of memory was specified (memory < 0)");
  if ((c.tools_upload_flavor ?? "") !== "" && !["linux", "windows", "darwin", "solaris", "freebsd"].includes(c.tools_upload_flavor ?? "")) {
    problems.push(`invalid 'tools_upload_flavor' specified: ${c.tools_upload_flavor ?? ""}; must be one of darwin, linux, windows, solaris or freebsd`);
  }
  checkCommunicator(problems, type, c);
  refuseNotRun(problems, c, VMWARE_NOT_RUN);
  if ((c.shutdown_command ?? "") === "") {
    warnings.push("A shutdown_command was not specified. Without a shutdown command, Packer\nwill forcibly halt the virtual machine, which may result in data loss.");
  }
  return { problems, warnings };
}

export type VmwareIsoBuilderConfig = CompiledConfig<typeof vmwareIsoBuilderSchema.fields>;
export type VmwareVmxBuilderConfig = CompiledConfig<typeof vmwareVmxBuilderSchema.fields>;
/** What both VMware builders share. */
export type VmwareCommonConfig = CommonConfig;
