/** The `shell-local` provisioner: runs a command, inline lines or scripts on the host running the build. */
import { definePluginSchema, type CompiledConfig } from "./schema.js";
import { SHELL_LOCAL_FIELDS, checkShellLocal, normalizeShellLocal } from "./shell_local.js";

export const shellLocalProvisionerSchema = definePluginSchema({
  kind: "provisioner",
  type: "shell-local",
  fields: SHELL_LOCAL_FIELDS,
  lateRenderedKeys: ["execute_command"],
  check: checkShellLocal,
  normalize: normalizeShellLocal,
});

export type ShellLocalProvisionerConfig = CompiledConfig<typeof shellLocalProvisionerSchema.fields>;
