/**
 * The `shell` provisioner: uploads inline lines or scripts to the machine through the communicator and runs them
 * there (Packer 1.6.6's provisioner/shell Config: Decode + Validate, without the file system part — `Bad script` is
 * checked on the agent). `env` is a kiln extension (newer Packer versions accept it): it wins over environment_vars.
 */
import { definePluginSchema, type CheckResult, type CompiledConfig, type FieldSpecs } from "./schema.js";

export const SHELL_DEFAULT_EXECUTE_COMMAND = "chmod +x {{.Path}}; {{.Vars}} {{.Path}}";
/** Packer's default with `use_env_var_file`: the variables are sourced from the uploaded file. */
export const SHELL_ENV_VAR_FILE_EXECUTE_COMMAND = "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}";

export const SHELL_FIELDS = {
  inline: { type: "array" },
  inline_shebang: { type: "string", default: "/bin/sh -e" },
  script: { type: "string" },
  scripts: { type: "array" },
  environment_vars: { type: "array", description: "KEY=value pairs put in front of the command ({{.Vars}})" },
  env: { type: "map" },
  env_var_format: { type: "string", description: "%s='%s' (export %s='%s'\\n with use_env_var_file)" },
  execute_command: { type: "string", description: "see SHELL_DEFAULT_EXECUTE_COMMAND; another default with use_env_var_file" },
  remote_folder: { type: "string", default: "/tmp" },
  remote_file: { type: "string" },
  remote_path: { type: "string" },
  skip_clean: { type: "bool" },
  start_retry_timeout: { type: "duration" },
  expect_disconnect: { type: "bool" },
  valid_exit_codes: { type: "array", items: "int" },
  use_env_var_file: { type: "bool" },
  binary: { type: "bool" },
  pause_after: { type: "duration" },
} as const satisfies FieldSpecs;

export type ShellConfig = CompiledConfig<typeof SHELL_FIELDS>;

function checkShell(c: ShellConfig): CheckResult {
  const problems: string[] = [];
  const script = c.script ?? "";
  let scripts = c.scripts ?? [];
  if (script !== "" && scripts.length > 0) problems.push("Only one of script or scripts can be specified.");
  if (script !== "") scripts = [script];
  if (scripts.length === 0 && c.inline === undefined) problems.push("Either a script file or inline script must be specified.");
  else if (scripts.length > 0 && c.inline !== undefined) problems.push("Only a script file or an inline script can be specified, not both.");
  for (const kv of c.environment_vars ?? []) {
    if (kv.indexOf("=") <= 0) problems.push(`Environment variable not in format 'key=value': ${kv}`);
  }
  return { problems };
}

/** Packer's Prepare defaults: `script` becomes `scripts`, `remote_file` `script_<n>.sh`, `remote_path` from both. */
function normalizeShell(c: ShellConfig): ShellConfig {
  const out: { -readonly [K in keyof ShellConfig]: ShellConfig[K] } = { ...c };
  if ((c.script ?? "") !== "") out.scripts = [c.script ?? ""];
  const envFile = c.use_env_var_file ?? false;
  if ((c.execute_command ?? "") === "") out.execute_command = envFile ? SHELL_ENV_VAR_FILE_EXECUTE_COMMAND : SHELL_DEFAULT_EXECUTE_COMMAND;
  if (c.inline_shebang === "") out.inline_shebang = "/bin/sh -e";
  if (c.remote_folder === "") out.remote_folder = "/tmp";
  // Packer: fmt.Sprintf("script_%d.sh", rand.Intn(9999)).
  if ((c.remote_file ?? "") === "") out.remote_file = `script_${Math.floor(Math.random() * 9999)}.sh`;
  if ((c.remote_path ?? "") === "") out.remote_path = `${out.remote_folder}/${out.remote_file ?? ""}`;
  if ((c.start_retry_timeout ?? 0) === 0) out.start_retry_timeout = 5 * 60_000;
  if ((c.env_var_format ?? "") === "") out.env_var_format = envFile ? "export %s='%s'\n" : "%s='%s' ";
  return out;
}

export const shellProvisionerSchema = definePluginSchema({
  kind: "provisioner",
  type: "shell",
  fields: SHELL_FIELDS,
  lateRenderedKeys: ["execute_command"],
  check: checkShell,
  normalize: normalizeShell,
  decodeErrorsOnly: true,
});

export type ShellProvisionerConfig = CompiledConfig<typeof shellProvisionerSchema.fields>;
