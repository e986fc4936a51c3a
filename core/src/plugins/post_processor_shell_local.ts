/** The `shell-local` post-processor: runs like the provisioner, then passes its input artifact through. */
import { definePluginSchema, type CompiledConfig } from "./schema.js";
import { SHELL_LOCAL_FIELDS, checkShellLocal, normalizeShellLocal, type ShellLocalConfig } from "./shell_local.js";

export const shellLocalPostProcessorSchema = definePluginSchema({
  kind: "post-processor",
  type: "shell-local",
  fields: SHELL_LOCAL_FIELDS,
  lateRenderedKeys: ["execute_command"],
  check: checkShellLocal,
  normalize(c: ShellLocalConfig): ShellLocalConfig {
    const n = normalizeShellLocal(c);
    // Before the post-processor and the provisioner were merged, its execute_command was a single string run with
    // `sh -c`; Packer keeps that meaning for a one-element list.
    const ec = n.execute_command;
    return ec.length === 1 ? { ...n, execute_command: ["sh", "-c", ...ec] } : n;
  },
});

export type ShellLocalPostProcessorConfig = CompiledConfig<typeof shellLocalPostProcessorSchema.fields>;
