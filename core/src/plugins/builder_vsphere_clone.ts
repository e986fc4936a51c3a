/**
 * The `vsphere-clone` builder (builder id `jetbrains.vsphere`): Packer 1.6.6's configuration names. Clones
 * `template` (a template or a VM) with CloneVM_Task, optionally as a linked clone, reconfigures hardware, network
 * and disk size, then runs the same power-on / IP / provision / shutdown / template steps as vsphere-iso.
 */
import { definePluginSchema, type CompiledConfig } from "./schema.js";
import { VSPHERE_COMMON_FIELDS, checkVsphereCommon } from "./vsphere_common.js";

export const vsphereCloneBuilderSchema = definePluginSchema({
  kind: "builder",
  type: "vsphere-clone",
  lateRenderedKeys: ["boot_command"],
  fields: {
    ...VSPHERE_COMMON_FIELDS,
    // CloneConfig
    template: { type: "string", description: "name or path (below the datacenter's vm folder) of the VM to clone" },
    disk_size: { type: "int", description: "MiB: grow the first disk to this size" },
    linked_clone: { type: "bool", default: false },
    network: { type: "string", description: "move the first network adapter to this network" },
    mac_address: { type: "string" },
    notes: { type: "string" },
    vapp: { type: "block", fields: { properties: { type: "map" } } },
    // CDRomConfig, RemoveCDRomConfig (as vsphere-iso)
    cdrom_type: { type: "string", default: "ide" },
    iso_paths: { type: "array", description: "datastore paths, e.g. [datastore1] ISO/tools.iso" },
    remove_cdrom: { type: "bool" },
    customize: { type: "block", fields: {} },
  },
  check(c) {
    const problems = checkVsphereCommon(c);
    if ((c.template ?? "") === "") problems.push("'template' is required");
    if (c.linked_clone && (c.disk_size ?? 0) > 0) problems.push("'linked_clone' and 'disk_size' cannot be used together");
    if ((c.mac_address ?? "") !== "" && (c.network ?? "") === "") problems.push("'network' is required when 'mac_address' is specified");
    if (c.vapp !== undefined && Object.keys(c.vapp.properties ?? {}).length > 0) {
      problems.push("vapp is not supported by kiln's vSphere builders yet: remove it or build with Packer");
    }
    if (c.cdrom_type !== "ide" && c.cdrom_type !== "sata") problems.push("'cdrom_type' must be 'ide' or 'sata'");
    else if (c.cdrom_type === "sata") problems.push("cdrom_type 'sata' is not supported by kiln's vSphere builders yet: use 'ide' or build with Packer");
    if (c.customize !== undefined) problems.push("customize is not supported by kiln's vSphere builders yet: remove it or build with Packer");
    return { problems };
  },
});

export type VsphereCloneBuilderConfig = CompiledConfig<typeof vsphereCloneBuilderSchema.fields>;
