/**
 * Which plugin type names exist, for `validate`'s "init" stage: a name Packer 1.6.6 does not know gets Packer's
 * `Unknown builder amazon-ebss`; a name Packer knows but kiln does not run gets kiln's own message naming it.
 */
import { shippedPluginTypes, type PluginKind } from "../plugins/mod.js";

/**
 * The components compiled into upstream Packer 1.6.6 (`command/plugin.go` at v1.6.6), checked name by name against
 * the `packer` 1.6.6 binary. The Debian build used for kiln's corpus oracle lacks a few of them (builders
 * hyperone, linode, osc-*, ucloud-uhost, yandex; post-processors ucloud-import, yandex-*): kiln follows upstream.
 */
export const PACKER_1_6_6_PLUGIN_TYPES: Readonly<Record<PluginKind, readonly string[]>> = Object.freeze({
  builder: Object.freeze([
    "alicloud-ecs", "amazon-chroot", "amazon-ebs", "amazon-ebssurrogate", "amazon-ebsvolume", "amazon-instance",
    "azure-arm", "azure-chroot", "azure-dtl", "cloudstack", "digitalocean", "docker", "file", "googlecompute",
    "hcloud", "hyperone", "hyperv-iso", "hyperv-vmcx", "jdcloud", "linode", "lxc", "lxd", "ncloud", "null",
    "oneandone", "openstack", "oracle-classic", "oracle-oci", "osc-bsu", "osc-bsusurrogate", "osc-bsuvolume",
    "osc-chroot", "parallels-iso", "parallels-pvm", "profitbricks", "proxmox", "proxmox-clone", "proxmox-iso",
    "qemu", "scaleway", "tencentcloud-cvm", "triton", "ucloud-uhost", "vagrant", "virtualbox-iso",
    "virtualbox-ovf", "virtualbox-vm", "vmware-iso", "vmware-vmx", "vsphere-clone", "vsphere-iso", "yandex",
  ]),
  provisioner: Object.freeze([
    "ansible", "ansible-local", "azure-dtlartifact", "breakpoint", "chef-client", "chef-solo", "converge", "file",
    "inspec", "powershell", "puppet-masterless", "puppet-server", "salt-masterless", "shell", "shell-local", "sleep",
    "windows-restart", "windows-shell",
  ]),
  "post-processor": Object.freeze([
    "alicloud-import", "amazon-import", "artifice", "checksum", "compress", "digitalocean-import", "docker-import",
    "docker-push", "docker-save", "docker-tag", "exoscale-import", "googlecompute-export", "googlecompute-import",
    "manifest", "shell-local", "ucloud-import", "vagrant", "vagrant-cloud", "vsphere", "vsphere-template",
    "yandex-export", "yandex-import",
  ]),
});

/** How kiln stands with a plugin type. */
export type PluginTypeStatus = "runs" | "packer-only" | "unknown";

/** Whether kiln runs a plugin type, Packer 1.6.6 knows it but kiln does not run it, or nobody knows it. */
export function pluginTypeStatus(kind: PluginKind, type: string): PluginTypeStatus {
  if (shippedPluginTypes()[kind].includes(type)) return "runs";
  return PACKER_1_6_6_PLUGIN_TYPES[kind].includes(type) ? "packer-only" : "unknown";
}
