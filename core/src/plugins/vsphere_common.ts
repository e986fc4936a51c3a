/**
 * What the `vsphere-iso` and `vsphere-clone` builders share (Packer 1.6.6's builder/vsphere/common): connection,
 * location, hardware, configuration parameters, wait-for-IP, shutdown, snapshot/template, and the communicator.
 * Options Packer accepts that kiln does not run yet are declared (so templates decode) and refused by
 * {@link checkVsphereCommon} with a message naming them. `boot_command` is typed through PutUsbScanCodes
 * (agent/src/builders/vsphere/boot_command.ts).
 */
import { COMMUNICATOR_FIELDS, checkSshCommunicator, type CommunicatorConfig } from "./communicator.js";
import type { BlockValue, FieldSpecs } from "./schema.js";

/** Packer's artifact BuilderId for both vSphere builders. */
export const VSPHERE_BUILDER_ID = "jetbrains.vsphere";

/** Packer's defaults (builder/vsphere/common): IP wait 30m, settle 5s, shutdown 5m. */
export const VSPHERE_DEFAULTS = {
  ipWaitTimeoutMs: 30 * 60_000,
  ipSettleTimeoutMs: 5_000,
  shutdownTimeoutMs: 5 * 60_000,
} as const;

const EXPORT_FIELDS = {
  name: { type: "string", description: "base name of the .ovf and .mf; default vm_name" },
  force: { type: "bool", description: "overwrite an existing <name>.ovf" },
  images: { type: "bool", description: "also export the ISO and floppy images attached to the VM" },
  manifest: { type: "string", description: "none, sha1, sha256 (default) or sha512" },
  output_directory: { type: "string", description: "default output-<build name>" },
  options: { type: "array", description: "OVF export options: mac, uuid, extraconfig, nodevicesubtypes" },
} as const satisfies FieldSpecs;

/** The `export` block (Packer's ExportConfig), as decoded: defaults are applied by {@link vsphereExportSettings}. */
export type VsphereExportConfig = BlockValue<typeof EXPORT_FIELDS>;

/** Packer's manifest hashes (`export.manifest`). */
export const VSPHERE_EXPORT_MANIFESTS = ["none", "sha1", "sha256", "sha512"] as const;
export type VsphereExportManifest = (typeof VSPHERE_EXPORT_MANIFESTS)[number];

/** The export block with Packer's defaults applied. */
export interface VsphereExportSettings {
  readonly name: string;
  readonly force: boolean;
  readonly images: boolean;
  readonly manifest: VsphereExportManifest;
  /** As written (relative to the job's working directory unless absolute). */
  readonly outputDirectory: string;
  readonly options: readonly string[];
}

/** Packer's ExportConfig.Prepare defaults: name = vm_name, manifest sha256, output_directory `output-<build name>`. */
export function vsphereExportSettings(e: VsphereExportConfig, vmName: string, buildName: string): VsphereExportSettings {
  const manifest = (e.manifest ?? "") === "" ? "sha256" : (e.manifest as string);
  return {
    name: (e.name ?? "") !== "" ? (e.name as string) : vmName,
    force: e.force === true,
    images: e.images === true,
    manifest: (VSPHERE_EXPORT_MANIFESTS as readonly string[]).includes(manifest) ? (manifest as VsphereExportManifest) : "sha256",
    outputDirectory: (e.output_directory ?? "") !== "" ? (e.output_directory as string) : `output-${buildName}`,
    options: e.options ?? [],
  };
}

export const VSPHERE_COMMON_FIELDS = {
  ...COMMUNICATOR_FIELDS,
  // ConnectConfig
  vcenter_server: { type: "string", description: "host, host:port or https URL of vCenter (or ESXi)" },
  username: { type: "string" },
  password: { type: "string" },
  insecure_connection: { type: "bool", default: false, description: "accept a TLS certificate that does not verify" },
  datacenter: { type: "string", description: "default: the only datacenter" },
  // LocationConfig
  vm_name: { type: "string" },
  folder: { type: "string", description: "VM folder path below the datacenter's vm folder" },
  cluster: { type: "string" },
  host: { type: "string" },
  resource_pool: { type: "string", description: "default: the cluster's or host's root pool" },
  datastore: { type: "string", description: "default: the only datastore the host or cluster sees" },
  set_host_for_datastore_uploads: { type: "bool" },
  // HardwareConfig
  CPUs: { type: "int" },
  cpu_cores: { type: "int" },
  CPU_reservation: { type: "int" },
  CPU_limit: { type: "int" },
  CPU_hot_plug: { type: "bool" },
  RAM: { type: "int", description: "MiB" },
  RAM_reservation: { type: "int" },
  RAM_reserve_all: { type: "bool" },
  RAM_hot_plug: { type: "bool" },
  video_ram: { type: "int" },
  vgpu_profile: { type: "string" },
  NestedHV: { type: "bool" },
  firmware: { type: "string", description: "bios, efi or efi-secure" },
  force_bios_setup: { type: "bool" },
  // ConfigParamsConfig
  configuration_parameters: { type: "map", description: "VMX extraConfig key/values" },
  tools_sync_time: { type: "bool" },
  tools_upgrade_policy: { type: "bool" },
  // RunConfig, BootConfig, HTTPConfig
  boot_order: { type: "string" },
  boot_wait: { type: "duration" },
  boot_command: { type: "array" },
  boot_keygroup_interval: { type: "duration" },
  http_ip: { type: "string" },
  http_directory: { type: "string" },
  http_port_min: { type: "int" },
  http_port_max: { type: "int" },
  http_bind_address: { type: "string" },
  // WaitIpConfig
  ip_wait_timeout: { type: "duration", default: VSPHERE_DEFAULTS.ipWaitTimeoutMs },
  ip_settle_timeout: { type: "duration", default: VSPHERE_DEFAULTS.ipSettleTimeoutMs },
  ip_wait_address: { type: "string", description: "CIDR the guest IP must be in; default any IPv4 (0.0.0.0/0)" },
  // ShutdownConfig
  shutdown_command: { type: "string" },
  shutdown_timeout: { type: "duration", default: VSPHERE_DEFAULTS.shutdownTimeoutMs },
  disable_shutdown: { type: "bool" },
  // builder
  create_snapshot: { type: "bool", default: false },
  convert_to_template: { type: "bool", default: false },
  export: { type: "block", fields: EXPORT_FIELDS },
} as const satisfies FieldSpecs;

/** The common part of a compiled vSphere config (both builders' configs satisfy it). */
export interface VsphereCommonConfig extends CommunicatorConfig {
  readonly vcenter_server?: string;
  readonly username?: string;
  readonly password?: string;
  readonly insecure_connection: boolean;
  readonly datacenter?: string;
  readonly vm_name?: string;
  readonly folder?: string;
  readonly cluster?: string;
  readonly host?: string;
  readonly resource_pool?: string;
  readonly datastore?: string;
  readonly set_host_for_datastore_uploads?: boolean;
  readonly CPUs?: number;
  readonly cpu_cores?: number;
  readonly CPU_reservation?: number;
  readonly CPU_limit?: number;
  readonly CPU_hot_plug?: boolean;
  readonly RAM?: number;
  readonly RAM_reservation?: number;
  readonly RAM_reserve_all?: boolean;
  readonly RAM_hot_plug?: boolean;
  readonly video_ram?: number;
  readonly vgpu_profile?: string;
  readonly NestedHV?: boolean;
  readonly firmware?: string;
  readonly force_bios_setup?: boolean;
  readonly configuration_parameters?: Readonly<Record<string, string>>;
  readonly tools_sync_time?: boolean;
  readonly tools_upgrade_policy?: boolean;
  readonly boot_order?: string;
  readonly boot_wait?: number;
  readonly boot_command?: readonly string[];
  readonly boot_keygroup_interval?: number;
  readonly http_ip?: string;
  readonly http_directory?: string;
  readonly http_port_min?: number;
  readonly http_port_max?: number;
  readonly http_bind_address?: string;
  readonly ip_wait_timeout: number;
  readonly ip_settle_timeout: number;
  readonly ip_wait_address?: string;
  readonly shutdown_command?: string;
  readonly shutdown_timeout: number;
  readonly disable_shutdown?: boolean;
  readonly create_snapshot: boolean;
  readonly convert_to_template: boolean;
  readonly export?: VsphereExportConfig;
}

const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses an IPv4 CIDR into [network, prefix length], or undefined. */
export function parseIpv4Cidr(cidr: string): readonly [number, number] | undefined {
  const m = IPV4_CIDR.exec(cidr);
  if (m === null) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  const addr = octets.reduce((acc, o) => acc * 256 + o, 0);
  return [addr, bits];
}

/** Whether `ip` (dotted IPv4) lies in `cidr`. */
export function ipv4InCidr(ip: string, cidr: string): boolean {
  const net = parseIpv4Cidr(cidr);
  const addr = parseIpv4Cidr(`${ip}/32`);
  if (net === undefined || addr === undefined) return false;
  const size = 2 ** (32 - net[1]);
  return Math.floor(addr[0] / size) === Math.floor(net[0] / size);
}

function notRun(key: string, why = ""): string {
  return `${key} is not supported by kiln's vSphere builders yet${why}: remove it or build with Packer`;
}

/**
 * Packer 1.6.6's Prepare checks of the shared configs (wording kept), the communicator's, and kiln's refusals of
 * what it does not run. All problems at once, no side effects.
 */
export function checkVsphereCommon(c: VsphereCommonConfig): string[] {
  const problems: string[] = [];
  // ConnectConfig
  if ((c.vcenter_server ?? "") === "") problems.push("'vcenter_server' is required");
  if ((c.username ?? "") === "") problems.push("'username' is required");
  if ((c.password ?? "") === "") problems.push("'password' is required");
  // LocationConfig
  if ((c.vm_name ?? "") === "") problems.push("'vm_name' is required");
  if ((c.cluster ?? "") === "" && (c.host ?? "") === "") problems.push("'host' or 'cluster' is required");
  // HardwareConfig
  if ((c.RAM_reservation ?? 0) > 0 && c.RAM_reserve_all === true) problems.push("'RAM_reservation' and 'RAM_reserve_all' cannot be used together");
  const firmware = c.firmware ?? "";
  if (firmware !== "" && !["bios", "efi", "efi-secure"].includes(firmware)) problems.push("'firmware' must be '', 'bios', 'efi' or 'efi-secure'");
  for (const key of ["CPUs", "cpu_cores", "RAM", "CPU_reservation", "CPU_limit", "RAM_reservation"] as const) {
    const v = c[key];
    if (v !== undefined && v < 0) problems.push(`'${key}' must not be negative`);
  }
  // WaitIpConfig
  const address = c.ip_wait_address ?? "";
  if (address !== "" && parseIpv4Cidr(address) === undefined) {
    problems.push(`ip_wait_address '${address}' is not an IPv4 CIDR (e.g. 10.0.0.0/8): kiln waits for IPv4 addresses only`);
  }
  // Communicator
  if (c.communicator === "ssh") {
    problems.push(...checkSshCommunicator(c));
    if ((c.ssh_password ?? "") === "" && (c.ssh_private_key_file ?? "") === "" && c.ssh_agent_auth !== true) {
      problems.push("the vSphere builders cannot put a temporary key into the guest: set ssh_password or ssh_private_key_file");
    }
  } else if (c.communicator !== "none") {
    problems.push(`communicator "${c.communicator}" is not supported by kiln's vSphere builders: use "ssh" or "none"`);
  }
  // ExportConfig
  const manifest = c.export?.manifest ?? "";
  if (manifest !== "" && !(VSPHERE_EXPORT_MANIFESTS as readonly string[]).includes(manifest)) {
    problems.push(`unknown hash: ${manifest}. available options include available options being 'none', 'sha1', 'sha256', 'sha512'`);
  }
  // Not run yet.
  // HTTPConfig (Packer's wording).
  const portMin = c.http_port_min ?? 8000;
  const portMax = c.http_port_max ?? 9000;
  if (portMin > portMax) problems.push("http_port_min must be less than http_port_max");
  for (const key of ["boot_order", "vgpu_profile"] as const) {
    if ((c[key] ?? "") !== "") problems.push(notRun(key));
  }
  if (c.video_ram !== undefined) problems.push(notRun("video_ram"));
  if (c.set_host_for_datastore_uploads === true) problems.push(notRun("set_host_for_datastore_uploads", " (kiln uploads nothing to datastores)"));
  return problems;
}
