/**
 * The communicator keys every builder that talks to a guest accepts (the SDK's `communicator.Config`, as shipped in
 * Packer 1.6.6). Builders spread them into their own schema so that templates written for SSH or WinRM decode.
 */
import type { CompiledConfig, FieldSpecs } from "./schema.js";

/** The communicator types Packer knows. kiln runs `none` and `ssh`. */
export const COMMUNICATOR_TYPES = ["none", "ssh", "winrm", "docker", "dockerWindowsContainer"] as const;

export const COMMUNICATOR_FIELDS = {
  communicator: { type: "string", default: "ssh", description: "ssh, winrm or none" },
  pause_before_connecting: { type: "duration" },
  ssh_host: { type: "string" },
  ssh_port: { type: "int", default: 22 },
  ssh_username: { type: "string" },
  ssh_password: { type: "string" },
  ssh_keypair_name: { type: "string" },
  temporary_key_pair_name: { type: "string" },
  temporary_key_pair_type: { type: "string" },
  temporary_key_pair_bits: { type: "int" },
  ssh_ciphers: { type: "array" },
  ssh_clear_authorized_keys: { type: "bool" },
  ssh_key_exchange_algorithms: { type: "array" },
  ssh_private_key_file: { type: "string" },
  ssh_certificate_file: { type: "string" },
  ssh_pty: { type: "bool" },
  ssh_timeout: { type: "duration" },
  ssh_wait_timeout: { type: "duration", deprecated: "use ssh_timeout" },
  ssh_agent_auth: { type: "bool" },
  ssh_disable_agent_forwarding: { type: "bool" },
  ssh_handshake_attempts: { type: "int" },
  ssh_bastion_host: { type: "string" },
  ssh_bastion_port: { type: "int" },
  ssh_bastion_agent_auth: { type: "bool" },
  ssh_bastion_username: { type: "string" },
  ssh_bastion_password: { type: "string" },
  ssh_bastion_interactive: { type: "bool" },
  ssh_bastion_private_key_file: { type: "string" },
  ssh_bastion_certificate_file: { type: "string" },
  ssh_file_transfer_method: { type: "string" },
  ssh_proxy_host: { type: "string" },
  ssh_proxy_port: { type: "int" },
  ssh_proxy_username: { type: "string" },
  ssh_proxy_password: { type: "string" },
  ssh_keep_alive_interval: { type: "duration" },
  ssh_read_write_timeout: { type: "duration" },
  ssh_remote_tunnels: { type: "array" },
  ssh_local_tunnels: { type: "array" },
  ssh_public_key: { type: "array", items: "int" },
  ssh_private_key: { type: "array", items: "int" },
  ssh_host_key_fingerprint: { type: "string", description: "kiln: pin the host key (SHA256:... as ssh-keygen -lf prints it)" },
  ssh_known_hosts_file: { type: "string", description: "kiln: accept only the host keys this known_hosts file lists" },
  winrm_username: { type: "string" },
  winrm_password: { type: "string" },
  winrm_host: { type: "string" },
  winrm_no_proxy: { type: "bool" },
  winrm_port: { type: "int" },
  winrm_timeout: { type: "duration" },
  winrm_use_ssl: { type: "bool" },
  winrm_insecure: { type: "bool" },
  winrm_use_ntlm: { type: "bool" },
} as const satisfies FieldSpecs;

/** The temporary key pair a builder generates when no other SSH authentication is configured. */
export interface TemporaryKeyPairSpec {
  readonly type: "rsa" | "ed25519" | "ecdsa";
  /** RSA modulus or ECDSA curve size; 0 for ed25519. */
  readonly bits: number;
}

/** rsa's default size, as the SDK's StepSSHKeyGen. */
export const TEMPORARY_RSA_BITS = 4096;
/** ecdsa's default curve size (nistp521), as the SDK. */
export const TEMPORARY_ECDSA_BITS = 521;

/**
 * `temporary_key_pair_type` (rsa, the default; ed25519; ecdsa) and `temporary_key_pair_bits` (rsa >= 2048, default
 * 4096; ecdsa 256, 384 or 521, default 521; nothing for ed25519). `dsa` is refused: OpenSSH no longer accepts it.
 */
export function checkTemporaryKeyPair(c: CommunicatorConfig): string[] {
  const type = c.temporary_key_pair_type ?? "";
  const bits = c.temporary_key_pair_bits ?? 0;
  if (type === "dsa") return ["temporary_key_pair_type dsa is not supported by kiln (OpenSSH refuses DSA keys): use rsa, ed25519 or ecdsa"];
  if (type !== "" && type !== "rsa" && type !== "ed25519" && type !== "ecdsa") {
    return [`temporary_key_pair_type ('${type}') is invalid, valid types: rsa, ed25519, ecdsa`];
  }
  if (bits === 0) return [];
  if (type === "ed25519") return ["temporary_key_pair_bits does not apply to temporary_key_pair_type ed25519: remove it"];
  if (type === "ecdsa" && ![256, 384, 521].includes(bits)) return [`temporary_key_pair_bits ${bits} is invalid for ecdsa: use 256, 384 or 521`];
  if ((type === "" || type === "rsa") && (bits < 2048 || bits > 16384)) {
    return [`temporary_key_pair_bits ${bits} is invalid for rsa: use 2048 to 16384 (default ${TEMPORARY_RSA_BITS})`];
  }
  return [];
}

/** The key pair to generate, with the defaults filled in (after `checkTemporaryKeyPair` passed). */
export function temporaryKeyPairSpec(c: CommunicatorConfig): TemporaryKeyPairSpec {
  const type = c.temporary_key_pair_type === "ed25519" || c.temporary_key_pair_type === "ecdsa" ? c.temporary_key_pair_type : "rsa";
  const bits = c.temporary_key_pair_bits ?? 0;
  if (type === "ed25519") return { type, bits: 0 };
  if (type === "ecdsa") return { type, bits: bits > 0 ? bits : TEMPORARY_ECDSA_BITS };
  return { type, bits: bits > 0 ? bits : TEMPORARY_RSA_BITS };
}

/** True when the SSH config names no authentication, so a builder that can inject a key generates a temporary one. */
export function wantsTemporaryKeyPair(c: CommunicatorConfig): boolean {
  return (c.ssh_password ?? "") === "" && (c.ssh_private_key_file ?? "") === "" && !(c.ssh_agent_auth ?? false);
}

/** `ssh_host_key_fingerprint`'s form: OpenSSH's SHA256 fingerprint (base64, padding optional). */
export const SSH_FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/** The communicator part of a compiled builder config. */
export type CommunicatorConfig = CompiledConfig<typeof COMMUNICATOR_FIELDS>;

/**
 * The SDK's `prepareSSH` checks that need no disk (Packer 1.6.6 wording); `ssh_private_key_file` is read and checked
 * on the agent when it connects.
 */
export function checkSshCommunicator(c: CommunicatorConfig): string[] {
  const problems: string[] = [];
  if ((c.ssh_username ?? "") === "") {
    problems.push(`An ssh_username must be specified\n  Note: some builders used to default ssh_username to "root".`);
  }
  if ((c.ssh_bastion_host ?? "") !== "" && !(c.ssh_bastion_agent_auth ?? false)) {
    if ((c.ssh_bastion_password ?? "") === "" && (c.ssh_bastion_private_key_file ?? "") === "") {
      problems.push("ssh_bastion_password or ssh_bastion_private_key_file must be specified");
    }
  }
  const method = c.ssh_file_transfer_method ?? "";
  if (method !== "" && method !== "scp" && method !== "sftp") {
    problems.push(`ssh_file_transfer_method ('${method}') is invalid, valid methods: sftp, scp`);
  }
  const fingerprint = c.ssh_host_key_fingerprint ?? "";
  if (fingerprint !== "" && !SSH_FINGERPRINT_PATTERN.test(fingerprint)) {
    problems.push(
      `ssh_host_key_fingerprint ('${fingerprint}') is invalid: use the SHA256 form ssh-keygen -lf prints, e.g. ` +
        `SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8`,
    );
  }
  if (fingerprint !== "" && (c.ssh_known_hosts_file ?? "") !== "") {
    problems.push("please specify either ssh_host_key_fingerprint or ssh_known_hosts_file, not both");
  }
  problems.push(...checkTemporaryKeyPair(c));
  if ((c.ssh_bastion_host ?? "") !== "") {
    if ((c.ssh_bastion_username ?? "") === "") problems.push("ssh_bastion_username must be specified with ssh_bastion_host");
    if ((c.ssh_bastion_interactive ?? false) && (c.ssh_bastion_password ?? "") === "") {
      problems.push(
        "ssh_bastion_interactive needs ssh_bastion_password on kiln: builds run on agents without a terminal, so the " +
          "keyboard-interactive prompts are answered with the password",
      );
    }
  }
  if ((c.ssh_bastion_host ?? "") !== "" && (c.ssh_proxy_host ?? "") !== "") {
    problems.push("please specify either ssh_bastion_host or ssh_proxy_host, not both");
  }
  return problems;
}
