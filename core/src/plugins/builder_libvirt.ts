/**
 * The `libvirt` builder (builder id `thomasklein94.libvirt`): the configuration of the community
 * packer-plugin-libvirt, in its JSON form, so templates written for it translate directly: `volume`,
 * `network_interface` and `graphics` are lists of blocks (`"volume": [{ "pool": "default", "source": { ... } }]`).
 *
 * kiln extensions, all optional: `kernel`/`initrd`/`cmdline` (libvirt's direct kernel boot), a volume's `device`
 * (`cdrom` for installer ISOs) and `format`, `shutdown_command`
 * (Packer's usual guest command, run before libvirt's shutdown), `export_path` (also copy the artifact volume to a
 * file). What the plugin accepts but kiln does not run (cloud-init volume sources, UEFI loaders and NVRAM, SDL
 * graphics) is refused with a message, never silently ignored.
 */
import { COMMUNICATOR_FIELDS, checkSshCommunicator } from "./communicator.js";
import { definePluginSchema, type BlockValue, type CompiledConfig, type FieldSpecs } from "./schema.js";

export const LIBVIRT_BUILDER_ID = "thomasklein94.libvirt";

/** The prefix of generated domain names (the plugin uses `packer-`): the reaper also keys on the domain metadata. */
export const LIBVIRT_NAME_PREFIX = "kiln-";

const VOLUME_SOURCE_FIELDS = {
  type: { type: "string", description: "backing-store, cloning or external" },
  pool: { type: "string" },
  volume: { type: "string" },
  urls: { type: "array" },
  checksum: { type: "string" },
  user_data: { type: "string" },
  meta_data: { type: "string" },
  network_config: { type: "string" },
} as const satisfies FieldSpecs;

const VOLUME_FIELDS = {
  pool: { type: "string" },
  name: { type: "string" },
  source: { type: "block", fields: VOLUME_SOURCE_FIELDS },
  size: { type: "string" },
  capacity: { type: "string" },
  readonly: { type: "bool" },
  target_dev: { type: "string" },
  bus: { type: "string" },
  alias: { type: "string" },
  format: { type: "string", description: "kiln extension: qcow2 or raw for volumes kiln creates" },
  device: { type: "string", description: "kiln extension: disk (default) or cdrom" },
} as const satisfies FieldSpecs;

const NETWORK_INTERFACE_FIELDS = {
  type: { type: "string", description: "user, managed (network) or bridge" },
  mac: { type: "string" },
  alias: { type: "string" },
  model: { type: "string" },
  network: { type: "string" },
  bridge: { type: "string" },
  dev: { type: "string" },
} as const satisfies FieldSpecs;

const GRAPHICS_FIELDS = {
  type: { type: "string" },
  display: { type: "string" },
  port: { type: "int" },
} as const satisfies FieldSpecs;

export const LIBVIRT_SHUTDOWN_MODES = ["auto", "acpi", "guest", "initctl", "signal", "paravirt"] as const;
export const LIBVIRT_ADDRESS_SOURCES = ["agent", "lease", "arp"] as const;
const VOLUME_SOURCE_TYPES: Readonly<Record<string, string>> = {
  "backing-store": "backing-store",
  backingstore: "backing-store",
  cloning: "cloning",
  clone: "cloning",
  external: "external",
};
const NETWORK_TYPES: Readonly<Record<string, string>> = { user: "user", managed: "managed", network: "managed", bridge: "bridge" };
const ALIAS = /^[a-zA-Z0-9_-]+$/;
const SIZE = /^\d+\s*([kKMGT]i?[bB]?|[bB])?$/;

export const libvirtBuilderSchema = definePluginSchema({
  kind: "builder",
  type: "libvirt",
  // Rendered when typed, with {{ .Name }} (and empty {{ .HTTPIP }}/{{ .HTTPPort }}: the plugin serves no HTTP).
  lateRenderedKeys: ["boot_command"],
  fields: {
    ...COMMUNICATOR_FIELDS,
    libvirt_uri: { type: "string", required: "libvirt_uri must be specified (e.g. qemu:///system)" },
    domain_name: { type: "string", description: `default: ${LIBVIRT_NAME_PREFIX}<random>` },
    memory: { type: "int", default: 512, description: "MiB" },
    vcpu: { type: "int", default: 1 },
    cpu_mode: { type: "string" },
    network_interface: { type: "blocks", fields: NETWORK_INTERFACE_FIELDS },
    communicator_interface: { type: "string" },
    network_address_source: { type: "string" },
    volume: { type: "blocks", fields: VOLUME_FIELDS },
    artifact_volume_alias: { type: "string" },
    boot_devices: { type: "array" },
    graphics: { type: "blocks", fields: GRAPHICS_FIELDS },
    boot_wait: { type: "duration" },
    boot_command: { type: "array" },
    boot_keygroup_interval: { type: "duration" },
    key_hold_time: { type: "duration" },
    shutdown_mode: { type: "string", default: "auto" },
    shutdown_timeout: { type: "duration", default: 300_000 },
    shutdown_command: { type: "string", description: "kiln extension: run in the guest before libvirt's shutdown" },
    domain_type: { type: "string", description: "kvm or qemu; default: kvm when the host has a working KVM, else qemu" },
    arch: { type: "string", default: "x86_64" },
    chipset: { type: "string" },
    loader_path: { type: "string" },
    loader_type: { type: "string" },
    secure_boot: { type: "bool" },
    nvram_path: { type: "string" },
    nvram_template: { type: "string" },
    kernel: { type: "string", description: "kiln extension: direct kernel boot (libvirt <os><kernel>)" },
    initrd: { type: "string", description: "kiln extension: direct kernel boot (libvirt <os><initrd>)" },
    cmdline: { type: "string", description: "kiln extension: kernel command line for direct kernel boot" },
    export_path: { type: "string", description: "kiln extension: also copy the artifact volume to this file" },
  },
  check(c) {
    const problems: string[] = [];
    const warnings: string[] = [];
    if (c.communicator === "ssh") problems.push(...checkSshCommunicator(c));
    else if (c.communicator !== "none") {
      problems.push(`communicator "${c.communicator}" is not supported by the libvirt builder: use "ssh" or "none"`);
    }
    if (c.memory <= 0) problems.push("memory must be a positive number of MiB");
    if (c.vcpu <= 0) problems.push("vcpu must be at least 1");
    for (const bd of c.boot_devices ?? []) {
      if (!["hd", "network", "cdrom"].includes(bd)) problems.push(`unknown BootDevice: ${bd}`);
    }
    if (!(LIBVIRT_SHUTDOWN_MODES as readonly string[]).includes(c.shutdown_mode)) {
      problems.push(`unrecognized shutdown mode '${c.shutdown_mode}': use one of ${LIBVIRT_SHUTDOWN_MODES.join(", ")}`);
    }
    const source = c.network_address_source ?? "";
    if (source !== "" && !(LIBVIRT_ADDRESS_SOURCES as readonly string[]).includes(source)) {
      problems.push(`unkown NetworkAddressSource: ${source} (use agent, lease or arp)`);
    }
    if (c.domain_type !== undefined && !["kvm", "qemu"].includes(c.domain_type)) {
      problems.push(`domain_type '${c.domain_type}' is not supported by kiln: use "kvm" or "qemu"`);
    }
    for (const key of ["loader_path", "loader_type", "nvram_path", "nvram_template"] as const) {
      if ((c[key] ?? "") !== "") problems.push(`${key} is not supported by kiln's libvirt builder yet: remove it or build with Packer`);
    }
    if (c.secure_boot === true) problems.push("secure_boot is not supported by kiln's libvirt builder yet: remove it or build with Packer");
    if ((c.initrd ?? "") !== "" && (c.kernel ?? "") === "") problems.push("initrd needs kernel: set kernel too, or remove initrd");
    if ((c.cmdline ?? "") !== "" && (c.kernel ?? "") === "") problems.push("cmdline needs kernel: set kernel too, or remove cmdline");

    const volumes = c.volume ?? [];
    if (volumes.length === 0) problems.push("no volume has been specified");
    volumes.forEach((v, i) => problems.push(...checkVolume(v, i)));
    const artifactAlias = c.artifact_volume_alias ?? "";
    if (artifactAlias !== "" && !volumes.some((v) => v.alias === artifactAlias)) {
      problems.push(`no volume found with alias '${artifactAlias}'`);
    } else if (artifactAlias === "" && !volumes.some((v) => v.alias === "artifact") && volumes.length > 1) {
      problems.push("please specify an alias for a volume and set artifact_volume_alias on the builder");
    } else if (artifactAlias === "" && volumes.length === 1 && volumes[0]?.alias !== "artifact") {
      warnings.push("Using the only defined volume as an artifact");
    }

    const nics = c.network_interface ?? [];
    nics.forEach((n, i) => problems.push(...checkInterface(n, i)));
    const commAlias = c.communicator_interface ?? "";
    if (nics.length === 0) {
      if (c.communicator === "ssh" && (c.ssh_host ?? "") === "") {
        problems.push("no network_interface is defined and ssh_host is not set: the communicator cannot reach the domain");
      }
    } else if (commAlias !== "" && !nics.some((n) => n.alias === commAlias)) {
      problems.push(`no network_interface found with alias '${commAlias}'`);
    }
    (c.graphics ?? []).forEach((g, i) => {
      if (g.type === "sdl") problems.push(`graphics[${i}]: sdl graphics are not supported by kiln (agents are headless): use type "vnc"`);
      else if (g.type !== "vnc") problems.push(`unsupported domain graphics type '${g.type ?? ""}'`);
    });
    return { problems, warnings };
  },
});

export type LibvirtBuilderConfig = CompiledConfig<typeof libvirtBuilderSchema.fields>;
export type LibvirtVolumeConfig = BlockValue<typeof VOLUME_FIELDS>;
export type LibvirtInterfaceConfig = BlockValue<typeof NETWORK_INTERFACE_FIELDS>;

/** The canonical source type (`backing-store`, `cloning`, `external`), or undefined for none/unknown. */
export function volumeSourceType(v: LibvirtVolumeConfig): string | undefined {
  return v.source === undefined ? undefined : VOLUME_SOURCE_TYPES[v.source.type ?? ""];
}

/** The canonical interface type (`user`, `managed`, `bridge`). */
export function interfaceType(n: LibvirtInterfaceConfig): string | undefined {
  return NETWORK_TYPES[n.type ?? ""];
}

function checkVolume(v: LibvirtVolumeConfig, i: number): string[] {
  const problems: string[] = [];
  const where = `volume[${i}]`;
  if (v.alias !== undefined && !ALIAS.test(v.alias)) problems.push(`${where}.alias '${v.alias}' may only contain [a-zA-Z0-9_-]`);
  if (v.format !== undefined && !["qcow2", "raw"].includes(v.format)) problems.push(`${where}.format must be qcow2 or raw, not '${v.format}'`);
  if (v.device !== undefined && !["disk", "cdrom"].includes(v.device)) problems.push(`${where}.device must be disk or cdrom, not '${v.device}'`);
  for (const key of ["size", "capacity"] as const) {
    const s = v[key];
    if (s !== undefined && s !== "" && !SIZE.test(s)) problems.push(`couldn't understand volume ${key} '${s}' (${where}): use a number with an optional unit, e.g. 10G`);
  }
  const src = v.source;
  if (src === undefined) return problems;
  const type = src.type ?? "";
  switch (VOLUME_SOURCE_TYPES[type]) {
    case "backing-store":
    case "cloning":
      if ((src.pool ?? "") === "") problems.push(`${where}.source: ${type} volume source missing pool name`);
      if ((src.volume ?? "") === "") problems.push(`${where}.source: ${type} volume source missing volume name`);
      if (VOLUME_SOURCE_TYPES[type] === "backing-store" && (v.capacity ?? v.size ?? "") === "") {
        problems.push(`at least one of Volume.Size or Volume.Capacity must be set for ${where} (a backing-store volume)`);
      }
      break;
    case "external":
      if ((src.urls ?? []).length === 0) problems.push(`${where}.source: at least 1 URL must be specified for an external volume source`);
      break;
    default:
      if (type === "cloud-init" || type === "cloudinit" || type === "files") {
        problems.push(`${where}.source: the '${type}' volume source is not supported by kiln yet: use backing-store, cloning or external`);
      } else problems.push(`unsupported volume source type '${type}' (${where}.source.type)`);
  }
  return problems;
}

function checkInterface(n: LibvirtInterfaceConfig, i: number): string[] {
  const problems: string[] = [];
  const where = `network_interface[${i}]`;
  if (n.alias !== undefined && !ALIAS.test(n.alias)) problems.push(`${where}.alias '${n.alias}' may only contain [a-zA-Z0-9_-]`);
  switch (NETWORK_TYPES[n.type ?? ""]) {
    case "managed":
      break;
    case "bridge":
      if ((n.bridge ?? "") === "") problems.push(`${where}: a bridge interface needs bridge (the host bridge's name)`);
      break;
    case "user":
      break;
    default:
      problems.push(`unsupported network interface type '${n.type ?? ""}' (${where}.type: use user, managed or bridge)`);
  }
  if (n.mac !== undefined && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(n.mac)) problems.push(`${where}.mac '${n.mac}' is not a MAC address`);
  return problems;
}
