/**
 * The shell-local config, shared by the `shell-local` provisioner and post-processor (Packer's
 * `packer-plugin-sdk/shell-local` Config: Decode + Validate, as of Packer 1.6.6, for a Unix host).
 */
import type { CheckResult, CompiledConfig, FieldSpecs } from "./schema.js";

/** Go's GOOS names that `only_on` accepts. */
export const SHELL_LOCAL_SUPPORTED_OS = ["darwin", "freebsd", "linux", "openbsd", "solaris", "windows"] as const;

export const SHELL_LOCAL_FIELDS = {
  command: { type: "string", deprecated: "use inline" },
  inline: { type: "array" },
  script: { type: "string" },
  scripts: { type: "array" },
  environment_vars: { type: "array", description: "KEY=value pairs put in front of the command ({{.Vars}})" },
  /** A kiln extension (newer Packer shell provisioners accept it): wins over environment_vars. */
  env: { type: "map" },
  env_var_format: { type: "string", default: "%s='%s' " },
  execute_command: { type: "array", default: ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"] },
  inline_shebang: { type: "string", default: "/bin/sh -e" },
  only_on: { type: "array" },
  tempfile_extension: { type: "string" },
  use_linux_pathing: { type: "bool" },
  valid_exit_codes: { type: "array", items: "int" },
} as const satisfies FieldSpecs;

export type ShellLocalConfig = CompiledConfig<typeof SHELL_LOCAL_FIELDS>;

const TOO_MANY =
  "You may only specify one of the following options: Command, Inline, Script or Scripts. Please consolidate these " +
  "options in your config.";

/** Packer's `Validate`, without the file system part (`Bad script` is checked on the agent). */
export function checkShellLocal(c: ShellLocalConfig): CheckResult {
  const problems: string[] = [];
  const command = c.command ?? "";
  const script = c.script ?? "";
  const inline = c.inline;
  const scripts = c.scripts ?? [];
  if (command === "" && (inline ?? []).length === 0 && scripts.length === 0 && script === "") {
    problems.push("Command, Inline, Script and Scripts options cannot all be empty.");
  }
  // The same three checks as Packer, in order, so the same template yields the same (sometimes repeated) messages.
  let effectiveInline = inline;
  let effectiveScripts = scripts;
  if (command !== "") {
    if ((inline ?? []).length !== 0 || scripts.length !== 0 || script !== "") problems.push(TOO_MANY);
    else effectiveInline = [command];
  }
  if (script !== "") {
    if (scripts.length > 0 || (inline ?? []).length > 0) problems.push(TOO_MANY);
    else effectiveScripts = [script];
  }
  if (effectiveScripts.length > 0 && effectiveInline !== undefined) problems.push(TOO_MANY);
  for (const os of c.only_on ?? []) {
    if (!(SHELL_LOCAL_SUPPORTED_OS as readonly string[]).includes(os)) {
      problems.push(`Invalid OS specified in only_on: '${os}'\nSupported OS names: ${SHELL_LOCAL_SUPPORTED_OS.join(", ")}`);
      break;
    }
  }
  if (c.use_linux_pathing && (effectiveInline ?? []).length > 0) {
    problems.push(
      "Packer is unable to use the Command and Inline features with the Windows Linux Subsystem. Please use the " +
        "Script or Scripts options instead",
    );
  }
  for (const kv of c.environment_vars ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) problems.push(`Environment variable not in format 'key=value': ${kv}`);
  }
  return { problems };
}

/** Packer's normalisation: `command` becomes `inline`, `script` becomes `scripts`, no leading dot on the extension. */
export function normalizeShellLocal(c: ShellLocalConfig): ShellLocalConfig {
  const out: { -readonly [K in keyof ShellLocalConfig]: ShellLocalConfig[K] } = { ...c };
  if ((c.command ?? "") !== "") out.inline = [c.command ?? ""];
  if ((c.script ?? "") !== "") out.scripts = [c.script ?? ""];
  if ((out.execute_command ?? []).length === 0) out.execute_command = ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"];
  if (c.tempfile_extension?.startsWith(".")) out.tempfile_extension = c.tempfile_extension.slice(1);
  return out;
}
