/**
 * The `shell` provisioner (Packer 1.6.6's provisioner/shell): inline lines become a script with `inline_shebang`;
 * each script is uploaded to `remote_path`, made executable and run through `execute_command` (`{{.Vars}}`,
 * `{{.Path}}`) on the machine; its output is streamed line by line; the remote file is removed unless `skip_clean`.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BuildFailedError, ErrorCode, ensureKilnError, hasErrorCode, shellProvisionerSchema, type ShellConfig } from "../../../core/src/mod.js";
import { CMD_DISCONNECT } from "../communicators/ssh.js";
import type { Communicator } from "../communicators/communicator.js";
import { prepareWithSchema, type PluginContext, type PrepareContext, type ProvisionerDefinition } from "../plugin_api.js";
import { goList, goPathError } from "../util/go_text.js";
import { checkScriptsExist } from "./shell_local.js";

/** How long removing an uploaded script may take, even after the job was cancelled. */
const REMOTE_CLEANUP_TIMEOUT_MS = 10_000;

const HTTP_ADDR_NOT_IMPLEMENTED = "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER";

/** A tiny `fmt.Sprintf` for `env_var_format`: `%s` takes the next argument, `%%` is a percent sign. */
function sprintf(format: string, ...args: string[]): string {
  let i = 0;
  return format.replace(/%[s%]/g, (m) => (m === "%%" ? "%" : (args[i++] ?? "%!s(MISSING)")));
}

/** Packer's `createFlattenedEnvVars`: sorted `KEY='value' ` pairs, single quotes escaped for the shell. */
export function shellEnvVars(config: ShellConfig, ctx: PluginContext): string {
  const vars = new Map<string, string>([
    ["PACKER_BUILD_NAME", ctx.build.name],
    ["PACKER_BUILDER_TYPE", ctx.build.builderType],
  ]);
  const httpAddr = ctx.generatedData?.PackerHTTPAddr;
  if (httpAddr !== undefined && httpAddr !== "" && httpAddr !== HTTP_ADDR_NOT_IMPLEMENTED) vars.set("PACKER_HTTP_ADDR", httpAddr);
  const quote = (v: string): string => v.replaceAll("'", `'"'"'`);
  for (const raw of config.environment_vars ?? []) {
    const kv = ctx.render(raw, ctx.generatedData);
    const eq = kv.indexOf("=");
    vars.set(kv.slice(0, eq), quote(kv.slice(eq + 1)));
  }
  for (const [k, v] of Object.entries(config.env ?? {})) vars.set(k, quote(ctx.render(v, ctx.generatedData)));
  const keys = [...vars.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return keys.map((k) => sprintf(config.env_var_format ?? "%s='%s' ", k, vars.get(k) ?? "")).join("");
}

/** Packer's retry delay for starting a script grows from fast polling to this. */
const START_RETRY_MAX_DELAY_MS = 2000;

function formatDuration(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}

/**
 * Packer's `retry.Config{StartTimeout: start_retry_timeout}`: runs `op` again while it throws (the connection is not
 * usable yet: an upload or a command that cannot be started), until the timeout. Cancellation and a host-key
 * mismatch are not retried.
 */
async function retryStart<T>(ctx: PluginContext, timeoutMs: number, op: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (ctx.signal.aborted || hasErrorCode(err, ErrorCode.HostKeyMismatch)) throw err;
      const e = ensureKilnError(err);
      if (Date.now() + delay >= deadline) {
        throw new BuildFailedError(`${e.message} (still failing after ${attempt} attempts within start_retry_timeout ${formatDuration(timeoutMs)})`, {
          cause: err,
        });
      }
      ctx.log("message", `Retrying to start the script (attempt ${attempt} failed: ${e.message})`);
      await sleep(delay + Math.floor(Math.random() * 100), undefined, { signal: ctx.signal });
      delay = Math.min(delay * 2, START_RETRY_MAX_DELAY_MS);
    }
  }
}

function requireCommunicator(ctx: PluginContext): Communicator {
  if (ctx.communicator === undefined) {
    throw new BuildFailedError(`the shell provisioner needs a communicator; the builder has "communicator": "none" (use shell-local to run on the agent)`);
  }
  return ctx.communicator;
}

/** Single-quotes a path for the remote shell when it needs it. */
function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'"'"'`)}'`;
}

export async function runShell(config: ShellConfig, ctx: PluginContext): Promise<void> {
  const comm = requireCommunicator(ctx);
  const remotePath = config.remote_path ?? "/tmp/script.sh";
  const vars = shellEnvVars(config, ctx);
  const validCodes = (config.valid_exit_codes ?? []).length > 0 ? (config.valid_exit_codes ?? []) : [0];
  const scripts: { name: string; body: () => Promise<Buffer> }[] = [];
  if ((config.scripts ?? []).length === 0) {
    const shebang = config.inline_shebang !== "" ? `#!${config.inline_shebang}\n` : "";
    const body = shebang + (config.inline ?? []).map((l) => `${ctx.render(l, ctx.generatedData)}\n`).join("");
    scripts.push({ name: "inline script", body: async () => Buffer.from(body) });
  } else {
    for (const s of config.scripts ?? []) {
      const abs = path.resolve(ctx.workDir, s);
      scripts.push({
        name: s,
        body: () =>
          readFile(abs).catch((err: unknown) => {
            throw new BuildFailedError(`Error opening shell script: ${goPathError("open", s, err)}`, { cause: err });
          }),
      });
    }
  }
  const retryFor = (config.start_retry_timeout ?? 0) > 0 ? (config.start_retry_timeout ?? 0) : 5 * 60_000;
  const removeRemote = async (file: string): Promise<number> =>
    comm.start(`rm -f ${shellQuote(file)}`, { signal: AbortSignal.timeout(REMOTE_CLEANUP_TIMEOUT_MS) }).catch(() => -1);
  // Packer's use_env_var_file: the variables go to an uploaded file the command sources ({{.EnvVarFile}}).
  let envVarFile = "";
  if (config.use_env_var_file ?? false) {
    const file = `${config.remote_folder}/varfile_${Math.floor(Math.random() * 9999)}.sh`;
    await retryStart(ctx, retryFor, async () => {
      await comm.upload(Buffer.from(vars), file, ctx.signal, 0o600).catch((err: unknown) => {
        if (ctx.signal.aborted) throw err;
        throw new BuildFailedError(`Error uploading the environment variable file: ${ensureKilnError(err).message}`, { cause: err });
      });
      envVarFile = file;
      const chmod = await comm.start(`chmod 0600 ${shellQuote(file)}`, { signal: ctx.signal });
      if (chmod !== 0) throw new BuildFailedError(`Error chmodding script file to 0600 in remote machine: exit status ${chmod}`);
    });
  }
  try {
    for (const script of scripts) await runScript(config, ctx, comm, script, { vars, envVarFile, remotePath, validCodes, retryFor, removeRemote });
  } finally {
    if (envVarFile !== "" && !(config.skip_clean ?? false)) await removeRemote(envVarFile);
  }
}

interface ScriptRun {
  readonly vars: string;
  readonly envVarFile: string;
  readonly remotePath: string;
  readonly validCodes: readonly number[];
  readonly retryFor: number;
  readonly removeRemote: (file: string) => Promise<number>;
}

async function runScript(
  config: ShellConfig,
  ctx: PluginContext,
  comm: Communicator,
  script: { name: string; body: () => Promise<Buffer> },
  run: ScriptRun,
): Promise<void> {
  const { remotePath, validCodes } = run;
  ctx.log("say", `Provisioning with shell script: ${script.name}`);
  const body = await script.body();
  let command: string;
  try {
    command = ctx.render(config.execute_command ?? "", { ...ctx.generatedData, Vars: run.vars, Path: remotePath, EnvVarFile: run.envVarFile });
  } catch (err) {
    throw new BuildFailedError(`Error processing command: ${ensureKilnError(err).message}`, { cause: err });
  }
  let uploaded = false;
  let failed = true;
  try {
    // Upload, chmod and start are retried while the machine is not usable yet (start_retry_timeout); once the
    // command started, its exit status counts.
    const code = await retryStart(ctx, run.retryFor, async () => {
      const output = { signal: ctx.signal, onStdout: (line: string) => ctx.log("message", line), onStderr: (line: string) => ctx.log("error", line) };
      if (comm.uploadAndStart !== undefined) {
        // One session writes the script to remote_path, makes it executable and runs execute_command.
        const started = await comm.uploadAndStart(body, remotePath, command, output).catch((err: unknown) => {
          // Cancelled while the script ran (or was being written): it is on the machine; `rm -f` is harmless if not.
          if (ctx.signal.aborted) uploaded = true;
          if (ctx.signal.aborted || hasErrorCode(err, ErrorCode.HostKeyMismatch)) throw err;
          throw new BuildFailedError(`Error uploading script: ${ensureKilnError(err).message}`, { cause: err });
        });
        uploaded = true;
        return started;
      }
      try {
        await comm.upload(body, remotePath, ctx.signal);
        uploaded = true;
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        throw new BuildFailedError(`Error uploading script: ${ensureKilnError(err).message}`, { cause: err });
      }
      const chmod = await comm.start(`chmod 0755 ${shellQuote(remotePath)}`, { signal: ctx.signal });
      if (chmod !== 0) throw new BuildFailedError(`Error chmodding script file to 0755 in remote machine: exit status ${chmod}`);
      return comm.start(command, output);
    });
    ctx.heartbeat();
    if (code === CMD_DISCONNECT) {
      if (!(config.expect_disconnect ?? false) && !validCodes.includes(code)) {
        throw new BuildFailedError(
          "Script disconnected unexpectedly. If you expected your script to disconnect, i.e. from a restart, you can " +
            'try adding `"expect_disconnect": true` or `"valid_exit_codes": [0, 2300218]` to the shell provisioner parameters.',
        );
      }
      // The connection is gone (a reboot): the communicator reconnects for the cleanup and the next script.
    } else if (!validCodes.includes(code)) {
      throw new BuildFailedError(`Script exited with non-zero exit status: ${code}.Allowed exit codes are: ${goList(validCodes)}`);
    }
    failed = false;
  } finally {
    // Packer leaves the script behind when it fails; kiln removes it either way (a host reused for builds, and
    // tests, must not collect them), with its own short deadline since the job's signal may be aborted.
    if (uploaded && !(config.skip_clean ?? false)) {
      const rm = await run.removeRemote(remotePath);
      if (rm !== 0 && !failed) throw new BuildFailedError(`Error removing temporary script at ${remotePath}: exit status ${rm}`);
    }
  }
}

async function checkShellScripts(config: ShellConfig, ctx: PrepareContext): Promise<string[]> {
  return checkScriptsExist(config, ctx);
}

export const shellProvisioner: ProvisionerDefinition = {
  kind: "provisioner",
  type: "shell",
  schema: shellProvisionerSchema,
  prepare: (config, ctx) =>
    prepareWithSchema(shellProvisionerSchema, config, async (compiled) => ({
      problems: await checkShellScripts(compiled, ctx),
      instance: { provision: (pctx) => runShell(compiled, pctx) },
    })),
};
