/**
 * The `ansible` provisioner (Packer 1.6.6's provisioner/ansible): runs `ansible-playbook` on the agent against the
 * machine. kiln connects ansible straight to the communicator's SSH host, port, user and key (Packer's
 * `use_proxy: false`); Packer's local SSH proxy adapter and the galaxy/sftp options are refused, not ignored.
 */
import { definePluginSchema, type CheckResult, type CompiledConfig, type FieldSpecs } from "./schema.js";

export const ANSIBLE_FIELDS = {
  playbook_file: { type: "string" },
  command: { type: "string", default: "ansible-playbook" },
  extra_arguments: { type: "array" },
  ansible_env_vars: { type: "array" },
  groups: { type: "array" },
  empty_groups: { type: "array" },
  host_alias: { type: "string", default: "default" },
  user: { type: "string" },
  use_proxy: { type: "bool" },
  skip_version_check: { type: "bool" },
  keep_inventory_file: { type: "bool" },
  // Packer options kiln does not run (refused when set).
  local_port: { type: "int" },
  ssh_host_key_file: { type: "string" },
  ssh_authorized_key_file: { type: "string" },
  sftp_command: { type: "string" },
  use_sftp: { type: "bool" },
  inventory_directory: { type: "string" },
  inventory_file: { type: "string" },
  galaxy_file: { type: "string" },
  galaxy_command: { type: "string" },
  galaxy_force_install: { type: "bool" },
  roles_path: { type: "string" },
  collections_path: { type: "string" },
} as const satisfies FieldSpecs;

export type AnsibleConfig = CompiledConfig<typeof ANSIBLE_FIELDS>;

const NOT_RUN = [
  "local_port",
  "ssh_host_key_file",
  "ssh_authorized_key_file",
  "sftp_command",
  "use_sftp",
  "inventory_directory",
  "inventory_file",
  "galaxy_file",
  "galaxy_command",
  "galaxy_force_install",
  "roles_path",
  "collections_path",
] as const;

function checkAnsible(c: AnsibleConfig): CheckResult {
  const problems: string[] = [];
  if ((c.playbook_file ?? "") === "") problems.push("playbook_file must be specified.");
  for (const kv of c.ansible_env_vars ?? []) {
    if (kv.indexOf("=") <= 0) problems.push(`ansible_env_vars must be KEY=value: ${kv}`);
  }
  if (c.use_proxy === true) {
    problems.push("use_proxy true is not supported by kiln: ansible connects directly to the machine's SSH server; remove use_proxy or set it to false");
  }
  for (const key of NOT_RUN) {
    const v = c[key];
    if (v !== undefined && v !== "" && v !== false) problems.push(`${key} is not supported by kiln's ansible provisioner yet: remove it or build with Packer`);
  }
  return { problems };
}

export const ansibleProvisionerSchema = definePluginSchema({
  kind: "provisioner",
  type: "ansible",
  fields: ANSIBLE_FIELDS,
  check: checkAnsible,
  decodeErrorsOnly: true,
});
