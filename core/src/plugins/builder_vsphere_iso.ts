/**
 * The `vsphere-iso` builder (builder id `jetbrains.vsphere`): Packer 1.6.6's configuration names. Creates a VM
 * with CreateVM_Task (CPU, RAM, disk controllers, `storage` disks, `network_adapters`), adds CD-ROMs with the
 * datastore ISOs in `iso_paths`, powers it on, waits for the guest IP, provisions, shuts down, optionally snapshots
 * and converts to a template. See vsphere_common.ts for the shared options and what is refused.
 */
import { checksumProblems } from "./builder_qemu.js";
import { definePluginSchema, type BlockValue, type CompiledConfig, type FieldSpecs } from "./schema.js";
import { VSPHERE_COMMON_FIELDS, checkVsphereCommon } from "./vsphere_common.js";

const STORAGE_FIELDS = {
  disk_size: { type: "int", description: "MiB" },
  disk_thin_provisioned: { type: "bool" },
  disk_eagerly_scrub: { type: "bool" },
  disk_controller_index: { type: "int" },
} as const satisfies FieldSpecs;

const NIC_FIELDS = {
  network: { type: "string", description: "default: the only network the host sees" },
  network_card: { type: "string", description: "vmxnet3, e1000, e1000e, pcnet32, vmxnet2, vmxnet" },
  mac_address: { type: "string" },
  passthrough: { type: "bool" },
} as const satisfies FieldSpecs;

/** Disk controller types and their vim25 device types. */
export const VSPHERE_DISK_CONTROLLERS: Readonly<Record<string, string>> = {
  lsilogic: "VirtualLsiLogicController",
  "lsilogic-sas": "VirtualLsiLogicSASController",
  pvscsi: "ParaVirtualSCSIController",
  buslogic: "VirtualBusLogicController",
  nvme: "VirtualNVMEController",
  sata: "VirtualAHCIController",
};

/** Network card names and their vim25 device types. */
export const VSPHERE_NETWORK_CARDS: Readonly<Record<string, string>> = {
  vmxnet3: "VirtualVmxnet3",
  e1000: "VirtualE1000",
  e1000e: "VirtualE1000e",
  pcnet32: "VirtualPCNet32",
  vmxnet2: "VirtualVmxnet2",
  vmxnet: "VirtualVmxnet",
};

/** Top-level keys of old vsphere-iso templates that `packer fix` moves into `storage` / `network_adapters`. */
const FIXED_KEYS = ["disk_size", "disk_thin_provisioned", "disk_eagerly_scrub", "network", "network_card"] as const;

export const vsphereIsoBuilderSchema = definePluginSchema({
  kind: "builder",
  type: "vsphere-iso",
  lateRenderedKeys: ["boot_command"],
  fields: {
    ...VSPHERE_COMMON_FIELDS,
    // CreateConfig
    vm_version: { type: "int", description: "virtual hardware version (vmx-N)" },
    guest_os_type: { type: "string", default: "otherGuest" },
    network_adapters: { type: "blocks", fields: NIC_FIELDS },
    usb_controller: { type: "bool" },
    notes: { type: "string" },
    disk_controller_type: { type: "array", description: "default: [lsilogic]" },
    storage: { type: "blocks", fields: STORAGE_FIELDS },
    // CDRomConfig, RemoveCDRomConfig
    cdrom_type: { type: "string", default: "ide" },
    iso_paths: { type: "array", description: "datastore paths, e.g. [datastore1] ISO/ubuntu.iso" },
    remove_cdrom: { type: "bool" },
    // ISOConfig: downloaded through the agent's source cache, uploaded to the datastore's packer_cache folder
    iso_url: { type: "string" },
    iso_urls: { type: "array" },
    iso_checksum: { type: "string", description: "sha256:<hex>, md5:/sha1:/sha512:, file:<url>, or none" },
    iso_target_path: { type: "string" },
    iso_target_extension: { type: "string" },
    // FloppyConfig: refused
    floppy_img_path: { type: "string" },
    floppy_files: { type: "array" },
    floppy_dirs: { type: "array" },
    floppy_label: { type: "string" },
    // Pre-`packer fix` keys: declared so they get Packer's deprecation error rather than "unknown key".
    disk_size: { type: "int" },
    disk_thin_provisioned: { type: "bool" },
    disk_eagerly_scrub: { type: "bool" },
    network: { type: "string" },
    network_card: { type: "string" },
  },
  check(c) {
    const problems: string[] = [];
    for (const key of FIXED_KEYS) {
      if (c[key] !== undefined) {
        problems.push(
          `Deprecated configuration key: '${key}'. Please call \`packer fix\` against your template to update your template ` +
            "to be compatible with the current version of Packer. Visit https://www.packer.io/docs/commands/fix/ for more detail.",
        );
      }
    }
    if (problems.length > 0) return { problems };
    problems.push(...checkVsphereCommon(c));
    const controllers = c.disk_controller_type ?? [];
    controllers.forEach((t, i) => {
      if (t !== "" && VSPHERE_DISK_CONTROLLERS[t] === undefined) {
        problems.push(`disk_controller_type[${i}] '${t}' is not supported: use one of ${Object.keys(VSPHERE_DISK_CONTROLLERS).join(", ")}`);
      }
    });
    const controllerCount = Math.max(1, controllers.length);
    (c.storage ?? []).forEach((s, i) => {
      if ((s.disk_size ?? 0) <= 0) problems.push(`storage[${i}].'disk_size' is required`);
      if ((s.disk_controller_index ?? 0) >= controllerCount || (s.disk_controller_index ?? 0) < 0) {
        problems.push(`storage[${i}].'disk_controller_index' references an unknown disk controller`);
      }
    });
    (c.network_adapters ?? []).forEach((n, i) => {
      const card = n.network_card ?? "";
      if (card === "") problems.push(`network_adapters[${i}].'network_card' is required`);
      else if (VSPHERE_NETWORK_CARDS[card] === undefined) {
        problems.push(`network_adapters[${i}].network_card '${card}' is not supported: use one of ${Object.keys(VSPHERE_NETWORK_CARDS).join(", ")}`);
      }
      if (n.passthrough === true) problems.push(`network_adapters[${i}].passthrough is not supported by kiln's vSphere builders yet: remove it or build with Packer`);
    });
    if (c.cdrom_type !== "ide" && c.cdrom_type !== "sata") problems.push("'cdrom_type' must be 'ide' or 'sata'");
    else if (c.cdrom_type === "sata") problems.push("cdrom_type 'sata' is not supported by kiln's vSphere builders yet: use 'ide' or build with Packer");
    // Packer's ISOConfig.Prepare, run only when an ISO URL is set (vsphere-iso's ISO is optional).
    const isoUrls = c.iso_urls ?? [];
    if ((c.iso_url ?? "") !== "" || isoUrls.length > 0) {
      if ((c.iso_url ?? "") !== "" && isoUrls.length > 0) problems.push("Only one of iso_url or iso_urls must be specified");
      if ((c.iso_checksum ?? "") === "") problems.push('A checksum must be specified: iso_checksum ("none" to skip the check)');
      else problems.push(...checksumProblems(c.iso_checksum ?? ""));
    }
    for (const key of ["iso_target_path", "iso_target_extension"] as const) {
      if ((c[key] ?? "") !== "") problems.push(`${key} is not supported by kiln's vSphere builders yet: remove it or build with Packer`);
    }
    for (const key of ["floppy_img_path", "floppy_label"] as const) {
      if ((c[key] ?? "") !== "") problems.push(`${key} is not supported by kiln's vSphere builders yet: remove it or build with Packer`);
    }
    for (const key of ["floppy_files", "floppy_dirs"] as const) {
      if ((c[key] ?? []).length > 0) problems.push(`${key} is not supported by kiln's vSphere builders yet: remove it or build with Packer`);
    }
    return { problems };
  },
});

export type VsphereIsoBuilderConfig = CompiledConfig<typeof vsphereIsoBuilderSchema.fields>;
export type VsphereStorageConfig = BlockValue<typeof STORAGE_FIELDS>;
export type VsphereNicConfig = BlockValue<typeof NIC_FIELDS>;
