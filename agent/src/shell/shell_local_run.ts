/**
 * Packer's shell-local `Run` (shared by the provisioner and the post-processor): inline lines become a temporary
 * script, each script runs through `execute_command` with `{{.Vars}}` and `{{.Script}}`, output is streamed.
 */
import { randomInt } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { BuildFailedError, ensureKilnError, type ShellLocalConfig } from "../../../core/src/mod.js";
import type { PluginContext } from "../plugin_api.js";
import { goList } from "../util/go_text.js";
import { runLocalCommand } from "./local_exec.js";

/** Go's GOOS for this host, as `only_on` names it. */
export function goos(): string {
  switch (process.platform) {
    case "win32":
      return "windows";
    case "sunos":
      return "solaris";
    default:
      return process.platform;
  }
}

/** Packer's run-time pass over inline lines and environment variables, with the generated data as dot. */
function renderAgain(ctx: PluginContext, text: string): string {
  return ctx.render(text, ctx.generatedData);
}

/** A tiny `fmt.Sprintf` for `env_var_format`: `%s` takes the next argument, `%%` is a percent sign. */
function sprintf(format: string, ...args: string[]): string {
  let i = 0;
  return format.replace(/%[s%]/g, (m) => (m === "%%" ? "%" : (args[i++] ?? "%!s(MISSING)")));
}

/** Packer's `createFlattenedEnvVars`: sorted `KEY='value' ` pairs with single quotes escaped for the shell. */
export function flattenEnvVars(config: ShellLocalConfig, ctx: PluginContext): string {
  const vars = new Map<string, string>([
    ["PACKER_BUILD_NAME", ctx.build.name],
    ["PACKER_BUILDER_TYPE", ctx.build.builderType],
  ]);
  const quote = (v: string): string => v.replaceAll("'", `'"'"'`);
  // The values were rendered when the config was compiled; Packer renders them again with the build's data.
  for (const raw of config.environment_vars ?? []) {
    const kv = renderAgain(ctx, raw);
    const eq = kv.indexOf("=");
    vars.set(kv.slice(0, eq), quote(kv.slice(eq + 1)));
  }
  for (const [k, v] of Object.entries(config.env ?? {})) vars.set(k, quote(renderAgain(ctx, v)));
  const keys = [...vars.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return keys.map((k) => sprintf(config.env_var_format, k, vars.get(k) ?? "")).join("");
}

async function writeInlineScript(config: ShellLocalConfig, ctx: PluginContext): Promise<string> {
  // Packer: ioutil.TempFile("", "packer-shell"), the shebang, one line per command, chmod 0700.
  for (;;) {
    let name = path.join(tmpdir(), `packer-shell${randomInt(0, 2 ** 32 - 1)}`);
    if ((config.tempfile_extension ?? "") !== "") name += `.${config.tempfile_extension ?? ""}`;
    const shebang = config.inline_shebang !== "" ? `#!${config.inline_shebang}\n` : "";
    const body = shebang + (config.inline ?? []).map((l) => `${renderAgain(ctx, l)}\n`).join("");
    try {
      await writeFile(name, body, { flag: "wx", mode: 0o700 });
      return name;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new BuildFailedError(`Error preparing shell script: ${ensureKilnError(err).message}`, { cause: err });
      }
    }
  }
}

/**
 * Runs a shell-local config. Resolves when every script exited with an allowed code (or `only_on` excludes this
 * host); throws a BuildFailedError with Packer's message otherwise. Temporary files are removed in every case.
 */
export async function runShellLocal(config: ShellLocalConfig, ctx: PluginContext): Promise<void> {
  if ((config.only_on ?? []).length > 0 && !(config.only_on ?? []).includes(goos())) {
    ctx.log("say", "Skipping shell-local due to runtime OS");
    return;
  }
  let tempScript: string | undefined;
  try {
    let scripts = [...(config.scripts ?? [])];
    if (scripts.length === 0 && config.inline !== undefined) {
      tempScript = await writeInlineScript(config, ctx);
      scripts = [tempScript];
    }
    const vars = flattenEnvVars(config, ctx);
    const validCodes = (config.valid_exit_codes ?? []).length > 0 ? (config.valid_exit_codes ?? []) : [0];
    for (const script of scripts) {
      const absScript = path.resolve(ctx.workDir, script);
      let argv: string[];
      try {
        const data = { ...ctx.generatedData, Vars: vars, Script: absScript, Command: absScript };
        argv = config.execute_command.map((c) => ctx.render(c, data));
      } catch (err) {
        throw new BuildFailedError(`Error processing command: ${ensureKilnError(err).message}`, { cause: err });
      }
      ctx.log("say", `Running local shell script: ${script}`);
      let exitCode: number;
      try {
        ({ exitCode } = await runLocalCommand(argv, {
          cwd: ctx.workDir,
          env: { ...process.env, PACKER_RUN_UUID: ctx.build.runUuid },
          signal: ctx.signal,
          onLine: (stream, line) => ctx.log(stream === "stdout" ? "message" : "error", line),
          heartbeat: ctx.heartbeat,
        }));
      } catch (err) {
        throw new BuildFailedError(`Error executing script: ${absScript}\n\nPlease see output above for more information.`, { cause: err });
      }
      if (!validCodes.includes(exitCode)) {
        throw new BuildFailedError(`Script exited with non-zero exit status: ${exitCode}.Allowed exit codes are: ${goList(validCodes)}`);
      }
    }
  } finally {
    if (tempScript !== undefined) await rm(tempScript, { force: true });
  }
}
