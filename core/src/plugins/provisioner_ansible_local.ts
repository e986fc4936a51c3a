/**
 * The `ansible-local` provisioner (Packer 1.6.6's provisioner/ansible-local): uploads the playbooks to a staging
 * directory on the machine and runs `ansible-playbook -c local` there. Options for roles, vars directories and galaxy
 * are refused, not ignored.
 */
import { definePluginSchema, type CheckResult, type CompiledConfig, type FieldSpecs } from "./schema.js";

export const ANSIBLE_LOCAL_DEFAULT_COMMAND = "ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook";

export const ANSIBLE_LOCAL_FIELDS = {
  playbook_file: { type: "string" },
  playbook_files: { type: "array" },
  command: { type: "string", default: ANSIBLE_LOCAL_DEFAULT_COMMAND },
  extra_arguments: { type: "array" },
  inventory_groups: { type: "array" },
  staging_directory: { type: "string" },
  clean_staging_directory: { type: "bool" },
  // Packer options kiln does not run (refused when set).
  playbook_dir: { type: "string" },
  playbook_paths: { type: "array" },
  inventory_file: { type: "string" },
  group_vars: { type: "string" },
  host_vars: { type: "string" },
  role_paths: { type: "array" },
  galaxy_file: { type: "string" },
  galaxy_command: { type: "string" },
} as const satisfies FieldSpecs;

export type AnsibleLocalConfig = CompiledConfig<typeof ANSIBLE_LOCAL_FIELDS>;

const NOT_RUN = ["playbook_dir", "playbook_paths", "inventory_file", "group_vars", "host_vars", "role_paths", "galaxy_file", "galaxy_command"] as const;

function checkAnsibleLocal(c: AnsibleLocalConfig): CheckResult {
  const problems: string[] = [];
  const single = (c.playbook_file ?? "") !== "";
  const many = (c.playbook_files ?? []).length > 0;
  if (single && many) problems.push("Either playbook_file or playbook_files can be specified, not both");
  if (!single && !many) problems.push("Either playbook_file or playbook_files must be specified");
  for (const key of NOT_RUN) {
    const v = c[key];
    if (v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0)) {
      problems.push(`${key} is not supported by kiln's ansible-local provisioner yet: remove it or build with Packer`);
    }
  }
  return { problems };
}

export const ansibleLocalProvisionerSchema = definePluginSchema({
  kind: "provisioner",
  type: "ansible-local",
  fields: ANSIBLE_LOCAL_FIELDS,
  check: checkAnsibleLocal,
  decodeErrorsOnly: true,
});
