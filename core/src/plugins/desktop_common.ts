/**
 * Config pieces the desktop-hypervisor builders (virtualbox-iso/-ovf, vmware-iso/-vmx) share: Packer's ISO, HTTP,
 * floppy, boot, shutdown and output options, with the checks Packer's `Prepare` makes on them, and the refusal of
 * options kiln does not run.
 */
import { checkSshCommunicator } from "./communicator.js";
import type { FieldSpecs } from "./schema.js";

export const ISO_FIELDS = {
  iso_url: { type: "string", description: "the installer ISO" },
  iso_urls: { type: "array", description: "mirrors of iso_url, tried in order" },
  iso_checksum: { type: "string", description: "sha256:<hex>, md5:/sha1:/sha512:, file:<url>, or none" },
  iso_checksum_type: { type: "string" },
  iso_checksum_url: { type: "string" },
  iso_target_path: { type: "string" },
  iso_target_extension: { type: "string" },
} as const satisfies FieldSpecs;

export const HTTP_FIELDS = {
  http_directory: { type: "string" },
  http_content: { type: "map" },
  http_port_min: { type: "int", default: 8000 },
  http_port_max: { type: "int", default: 9000 },
  http_bind_address: { type: "string" },
} as const satisfies FieldSpecs;

export const FLOPPY_FIELDS = {
  floppy_files: { type: "array" },
  floppy_dirs: { type: "array" },
  floppy_label: { type: "string" },
  cd_files: { type: "array" },
  cd_label: { type: "string" },
} as const satisfies FieldSpecs;

export const BOOT_FIELDS = {
  boot_wait: { type: "duration", default: 10_000 },
  boot_command: { type: "array" },
  boot_keygroup_interval: { type: "duration" },
} as const satisfies FieldSpecs;

export const RUN_FIELDS = {
  headless: { type: "bool" },
  shutdown_command: { type: "string" },
  shutdown_timeout: { type: "duration", default: 5 * 60_000 },
  output_directory: { type: "string" },
  vm_name: { type: "string" },
} as const satisfies FieldSpecs;

/** Packer's disk sizes are MiB integers (`uint`). */
export function checkPositive(problems: string[], key: string, value: number | undefined): void {
  if (value !== undefined && value < 0) problems.push(`${key} must be a positive number`);
}

/** A value is "set" the way Packer's zero-value checks see it. */
export function isSet(v: unknown): boolean {
  return v !== undefined && v !== "" && v !== false && v !== 0 && !(Array.isArray(v) && v.length === 0) && !(typeof v === "object" && v !== null && Object.keys(v).length === 0);
}

/** Refuses the options kiln does not run, naming each with the reason. */
export function refuseNotRun(problems: string[], c: object, notRun: Readonly<Record<string, string>>): void {
  for (const [key, why] of Object.entries(notRun)) {
    if (isSet((c as Record<string, unknown>)[key])) problems.push(`${key} is not supported by kiln: ${why}`);
  }
}

/** The ISO checks of the SDK's ISOConfig.Prepare. */
export function checkIso(problems: string[], c: { iso_url?: string; iso_urls?: readonly string[]; iso_checksum?: string; iso_checksum_type?: string; iso_checksum_url?: string }): void {
  const urls = c.iso_urls ?? [];
  if ((c.iso_url ?? "") === "" && urls.length === 0) problems.push("One of iso_url or iso_urls must be specified");
  if ((c.iso_url ?? "") !== "" && urls.length > 0) problems.push("Only one of iso_url or iso_urls must be specified");
  if ((c.iso_checksum_type ?? "") !== "" || (c.iso_checksum_url ?? "") !== "") {
    problems.push('iso_checksum_type and iso_checksum_url were removed in Packer 1.6.0: write the type into iso_checksum ("sha256:<hex>" or "file:<url>"); `packer fix` does it');
  }
  if ((c.iso_checksum ?? "") === "") problems.push('A checksum must be specified: iso_checksum ("none" to skip the check)');
  else if (!checksumValid(c.iso_checksum ?? "")) {
    problems.push(`iso_checksum ${JSON.stringify(c.iso_checksum)} is invalid: use "sha256:<hex>" (or md5/sha1/sha512), "file:<url of a checksum file>" or "none"`);
  }
}

function checksumValid(text: string): boolean {
  const v = text.trim();
  if (v.toLowerCase() === "none" || v.startsWith("file:")) return true;
  const m = /^(?:(md5|sha1|sha256|sha512):)?([0-9a-fA-F]+)$/i.exec(v);
  const lengths: Record<string, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };
  const type = m?.[1]?.toLowerCase();
  const hexLen = m?.[2]?.length ?? 0;
  return m !== null && (type === undefined ? Object.values(lengths).includes(hexLen) : lengths[type] === hexLen);
}

export function checkHttp(problems: string[], c: { http_directory?: string; http_content?: Readonly<Record<string, string>>; http_port_min: number; http_port_max: number }): void {
  if ((c.http_directory ?? "") !== "" && Object.keys(c.http_content ?? {}).length > 0) problems.push("Don't set http_content and http_directory both");
  if (c.http_port_min > c.http_port_max) problems.push("http_port_min must be less than http_port_max");
}

/** kiln's desktop builders connect over SSH (or not at all). */
export function checkCommunicator(problems: string[], type: string, c: Parameters<typeof checkSshCommunicator>[0] & { communicator: string }): void {
  if (c.communicator === "ssh") problems.push(...checkSshCommunicator(c));
  else if (c.communicator !== "none") {
    problems.push(`communicator "${c.communicator}" is not supported by kiln's ${type} builder: use "ssh" or "none" (WinRM is not implemented)`);
  }
}

/** Options every desktop builder refuses, with the reason. */
export const DESKTOP_NOT_RUN: Readonly<Record<string, string>> = {
  cd_files: "kiln's desktop builders do not build a CD yet: use floppy_files or http_directory",
  cd_label: "kiln's desktop builders do not build a CD yet",
  iso_target_path: "kiln keeps sources in the agent's shared cache: remove iso_target_path",
  iso_target_extension: "kiln keeps sources in the agent's shared cache: remove iso_target_extension",
  ssh_bastion_host: "SSH bastions are not supported by kiln's desktop builders yet",
  ssh_proxy_host: "SSH proxies are not supported by kiln's desktop builders yet",
  ssh_local_tunnels: "SSH tunnels are not supported by kiln yet",
  ssh_remote_tunnels: "SSH tunnels are not supported by kiln yet",
};
