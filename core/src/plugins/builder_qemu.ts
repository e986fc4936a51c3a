/**
 * The `qemu` builder (builder id `transcend.qemu`): Packer 1.6.6's qemu configuration. It boots an ISO (or a disk
 * image) in QEMU on the agent with user networking, types `boot_command`, provisions over SSH through a forwarded
 * host port, shuts down and leaves the disk image in `output_directory`.
 *
 * Options kiln does not run are refused here with a message naming them (never ignored); see {@link QEMU_NOT_RUN}.
 */
import { COMMUNICATOR_FIELDS, checkSshCommunicator } from "./communicator.js";
import { definePluginSchema, type CompiledConfig } from "./schema.js";

export const QEMU_BUILDER_ID = "transcend.qemu";

/** Packer's defaults (builder/qemu/builder.go, 1.6.6). */
export const QEMU_DEFAULTS = {
  diskSize: "40960M",
  format: "qcow2",
  diskInterface: "virtio",
  diskCache: "writeback",
  diskDiscard: "ignore",
  diskDetectZeroes: "off",
  netDevice: "virtio-net",
  machineType: "pc",
  memoryMb: 512,
  cpus: 1,
  qemuBinary: "qemu-system-x86_64",
  hostPortMin: 2222,
  hostPortMax: 4444,
  vncBindAddress: "127.0.0.1",
  vncPortMin: 5900,
  vncPortMax: 6000,
  bootWaitMs: 10_000,
  shutdownTimeoutMs: 5 * 60_000,
  httpPortMin: 8000,
  httpPortMax: 9000,
} as const;

const DISK_INTERFACES = ["ide", "sata", "scsi", "virtio", "virtio-scsi"] as const;
const DISK_CACHES = ["writethrough", "writeback", "none", "unsafe", "directsync"] as const;
const DISK_DISCARDS = ["unmap", "ignore"] as const;
const DISK_DETECT_ZEROES = ["unmap", "on", "off"] as const;
const NET_DEVICES = ["ne2k_pci", "i82551", "i82557b", "i82559er", "rtl8139", "e1000", "pcnet", "virtio", "virtio-net", "virtio-net-pci", "usb-net",
  "i82559a", "i82559b", "i82559c", "i82550", "i82562", "i82557a", "i82557c", "i82801", "vmxnet3", "i82558a", "i82558b", "i82558c", "i82558d", "i82558e",
  "i82558f", "i82558g", "i82558h"] as const;
const ACCELERATORS = ["none", "kvm", "tcg", "xen", "hax", "hvf", "whpx"] as const;

/** Options Packer has that kiln refuses, with the reason. */
export const QEMU_NOT_RUN: Readonly<Record<string, string>> = {
  net_bridge: "bridged networking needs qemu-bridge-helper and a host bridge; kiln's qemu builder uses user networking",
  floppy_files: "floppy images are not built by kiln yet: use cd_files or http_directory",
  floppy_dirs: "floppy images are not built by kiln yet: use cd_files or http_directory",
  floppy_label: "floppy images are not built by kiln yet",
  vnc_use_password: "kiln types boot_command over QMP; a VNC password is not supported yet",
  vnc_password: "kiln types boot_command over QMP; a VNC password is not supported yet",
  boot_keygroup_interval: "kiln types boot_command over QMP one key at a time: use boot_key_interval",
  iso_skip_cache: "kiln always verifies sources into the agent's cache: remove iso_skip_cache",
  iso_target_path: "kiln keeps sources in the agent's shared cache: remove iso_target_path",
  iso_target_extension: "kiln keeps sources in the agent's shared cache: remove iso_target_extension",
  qmp_enable: "kiln always drives QEMU over its own QMP socket: remove qmp_enable/qmp_socket_path",
  qmp_socket_path: "kiln always drives QEMU over its own QMP socket: remove qmp_enable/qmp_socket_path",
  ssh_bastion_host: "SSH bastions are not supported by kiln yet",
  ssh_proxy_host: "SSH proxies are not supported by kiln yet",
  ssh_certificate_file: "SSH certificates are not supported by kiln yet",
  ssh_ciphers: "custom SSH ciphers are not supported by kiln yet",
  ssh_key_exchange_algorithms: "custom SSH key exchange algorithms are not supported by kiln yet",
  ssh_local_tunnels: "SSH tunnels are not supported by kiln yet",
  ssh_remote_tunnels: "SSH tunnels are not supported by kiln yet",
  ssh_read_write_timeout: "ssh_read_write_timeout is not supported by kiln yet",
};

export const qemuBuilderSchema = definePluginSchema({
  kind: "builder",
  type: "qemu",
  fields: {
    ...COMMUNICATOR_FIELDS,
    iso_url: { type: "string", description: "the ISO (or, with disk_image, the disk) to boot" },
    iso_urls: { type: "array", description: "mirrors of iso_url, tried in order" },
    iso_checksum: { type: "string", description: "sha256:<hex>, md5:/sha1:/sha512:, file:<url>, or none" },
    iso_skip_cache: { type: "bool" },
    iso_target_path: { type: "string" },
    iso_target_extension: { type: "string" },
    disk_image: { type: "bool", description: "iso_url is a disk image to start from, not an installer ISO" },
    use_backing_file: { type: "bool", description: "with disk_image and qcow2: the output disk is an overlay on the source" },
    format: { type: "string", default: QEMU_DEFAULTS.format },
    disk_size: { type: "string", description: "size of the created disk; a number means MiB @default 40960M" },
    disk_interface: { type: "string", default: QEMU_DEFAULTS.diskInterface },
    disk_cache: { type: "string", default: QEMU_DEFAULTS.diskCache },
    disk_discard: { type: "string", default: QEMU_DEFAULTS.diskDiscard },
    disk_detect_zeroes: { type: "string", default: QEMU_DEFAULTS.diskDetectZeroes },
    disk_additional_size: { type: "array" },
    skip_compaction: { type: "bool" },
    disk_compression: { type: "bool" },
    net_device: { type: "string", default: QEMU_DEFAULTS.netDevice },
    net_bridge: { type: "string" },
    accelerator: { type: "string", description: "kvm, tcg, ...; default: kvm when it works, else tcg" },
    machine_type: { type: "string", default: QEMU_DEFAULTS.machineType },
    memory: { type: "int", default: QEMU_DEFAULTS.memoryMb },
    cpus: { type: "int", default: QEMU_DEFAULTS.cpus },
    firmware: { type: "string", description: "a BIOS/UEFI firmware file passed with -bios" },
    qemu_binary: { type: "string", default: QEMU_DEFAULTS.qemuBinary },
    qemuargs: { type: "array", items: "string-list" },
    headless: { type: "bool" },
    use_default_display: { type: "bool" },
    display: { type: "string" },
    vnc_bind_address: { type: "string", default: QEMU_DEFAULTS.vncBindAddress },
    vnc_port_min: { type: "int", default: QEMU_DEFAULTS.vncPortMin },
    vnc_port_max: { type: "int", default: QEMU_DEFAULTS.vncPortMax },
    vnc_use_password: { type: "bool" },
    vnc_password: { type: "string" },
    host_port_min: { type: "int", default: QEMU_DEFAULTS.hostPortMin },
    host_port_max: { type: "int", default: QEMU_DEFAULTS.hostPortMax },
    ssh_host_port_min: { type: "int", deprecated: "use host_port_min" },
    ssh_host_port_max: { type: "int", deprecated: "use host_port_max" },
    skip_nat_mapping: { type: "bool" },
    boot_wait: { type: "duration" },
    boot_command: { type: "array" },
    boot_key_interval: { type: "duration" },
    boot_keygroup_interval: { type: "duration" },
    http_directory: { type: "string" },
    http_content: { type: "map" },
    http_port_min: { type: "int", default: QEMU_DEFAULTS.httpPortMin },
    http_port_max: { type: "int", default: QEMU_DEFAULTS.httpPortMax },
    http_bind_address: { type: "string" },
    cd_files: { type: "array" },
    cd_label: { type: "string" },
    floppy_files: { type: "array" },
    floppy_dirs: { type: "array" },
    floppy_label: { type: "string" },
    qmp_enable: { type: "bool" },
    qmp_socket_path: { type: "string" },
    shutdown_command: { type: "string" },
    shutdown_timeout: { type: "duration", default: QEMU_DEFAULTS.shutdownTimeoutMs },
    output_directory: { type: "string" },
    vm_name: { type: "string" },
  },
  lateRenderedKeys: ["boot_command", "qemuargs"],
  check(c) {
    const problems: string[] = [];
    const warnings: string[] = [];
    const isoUrls = c.iso_urls ?? [];
    if ((c.iso_url ?? "") === "" && isoUrls.length === 0) problems.push("One of iso_url or iso_urls must be specified");
    if ((c.iso_url ?? "") !== "" && isoUrls.length > 0) problems.push("Only one of iso_url or iso_urls must be specified");
    if ((c.iso_checksum ?? "") === "") problems.push('A checksum must be specified: iso_checksum ("none" to skip the check)');
    else problems.push(...checksumProblems(c.iso_checksum ?? ""));
    if (c.format !== "qcow2" && c.format !== "raw") problems.push("invalid format, only 'qcow2' or 'raw' are allowed");
    if (c.use_backing_file === true && !(c.disk_image === true && c.format === "qcow2")) {
      problems.push("use_backing_file can only be enabled for QCOW2 images and when disk_image is true");
    }
    if (c.disk_compression === true && c.format !== "qcow2") problems.push("disk_compression is only supported for the qcow2 format");
    oneOf(problems, "disk_interface", c.disk_interface, DISK_INTERFACES);
    oneOf(problems, "disk_cache", c.disk_cache, DISK_CACHES);
    oneOf(problems, "disk_discard", c.disk_discard, DISK_DISCARDS);
    oneOf(problems, "disk_detect_zeroes", c.disk_detect_zeroes, DISK_DETECT_ZEROES);
    oneOf(problems, "net_device", c.net_device, NET_DEVICES);
    if ((c.accelerator ?? "") !== "") oneOf(problems, "accelerator", c.accelerator, ACCELERATORS);
    if ((c.disk_size ?? "") !== "" && !/^\d+[KMGT]?$/i.test(c.disk_size ?? "")) {
      problems.push(`disk_size ${JSON.stringify(c.disk_size)} is invalid: use a number of MiB or a size with a K/M/G/T suffix, e.g. "10G"`);
    }
    for (const s of c.disk_additional_size ?? []) {
      if (!/^\d+[KMGT]?$/i.test(s)) problems.push(`disk_additional_size ${JSON.stringify(s)} is invalid: use a size such as "1G"`);
    }
    if (c.memory < 1) problems.push("memory must be a positive number of MiB");
    if (c.cpus < 1) problems.push("cpus must be at least 1");
    range(problems, "host_port", c.ssh_host_port_min ?? c.host_port_min, c.ssh_host_port_max ?? c.host_port_max);
    range(problems, "vnc_port", c.vnc_port_min, c.vnc_port_max);
    range(problems, "http_port", c.http_port_min, c.http_port_max);
    if ((c.http_directory ?? "") !== "" && Object.keys(c.http_content ?? {}).length > 0) {
      problems.push("Don't set http_content and http_directory both");
    }
    for (const [i, arg] of (c.qemuargs ?? []).entries()) {
      if (arg.length === 0 || !(arg[0] ?? "").startsWith("-")) problems.push(`qemuargs[${i}] must start with a QEMU option such as "-m": got ${JSON.stringify(arg)}`);
    }
    if (c.skip_nat_mapping === true) problems.push("skip_nat_mapping is not supported by kiln: the communicator reaches the guest through the forwarded host port");
    if (c.headless !== true) {
      warnings.push("kiln agents run QEMU headless: the VM's screen is on VNC (vnc_bind_address) instead of a window");
    }
    if (c.communicator === "ssh") problems.push(...checkSshCommunicator(c));
    else if (c.communicator !== "none") {
      problems.push(`communicator "${c.communicator}" is not supported by kiln's qemu builder: use "ssh" or "none"`);
    }
    if (c.communicator === "ssh" && !(c.ssh_agent_auth ?? false) && (c.ssh_password ?? "") === "" && (c.ssh_private_key_file ?? "") === "") {
      problems.push("kiln's qemu builder needs ssh_password or ssh_private_key_file (temporary key pairs are not generated yet)");
    }
    for (const [key, why] of Object.entries(QEMU_NOT_RUN)) {
      const v = (c as Record<string, unknown>)[key];
      if (v !== undefined && v !== "" && v !== false && !(Array.isArray(v) && v.length === 0)) problems.push(`${key} is not supported by kiln: ${why}`);
    }
    return { problems, warnings };
  },
});

export type QemuBuilderConfig = CompiledConfig<typeof qemuBuilderSchema.fields>;

function oneOf(problems: string[], key: string, value: string | undefined, allowed: readonly string[]): void {
  if (value !== undefined && !allowed.includes(value)) {
    problems.push(`unrecognized ${key} type ${JSON.stringify(value)}: use one of ${allowed.join(", ")}`);
  }
}

function range(problems: string[], prefix: string, min: number, max: number): void {
  if (min < 1 || max > 65535) problems.push(`${prefix}_min and ${prefix}_max must be TCP ports (1-65535)`);
  if (min > max) problems.push(`${prefix}_min must be less than ${prefix}_max`);
}

/** The checksum forms the agent's source cache accepts (its parser is the authority; this mirrors it for validate). */
export function checksumProblems(text: string): string[] {
  const v = text.trim();
  if (v.toLowerCase() === "none" || v.startsWith("file:")) return [];
  const m = /^(?:(md5|sha1|sha256|sha512):)?([0-9a-fA-F]+)$/i.exec(v);
  const lengths: Record<string, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };
  const type = m?.[1]?.toLowerCase();
  const hexLen = m?.[2]?.length ?? 0;
  if (m !== null && (type === undefined ? Object.values(lengths).includes(hexLen) : lengths[type] === hexLen)) return [];
  return [`iso_checksum ${JSON.stringify(text)} is invalid: use "sha256:<hex>" (or md5/sha1/sha512), "file:<url of a checksum file>" or "none"`];
}
