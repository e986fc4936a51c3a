/** The `shell-local` provisioner: runs commands or scripts on the agent host. */
import { stat } from "node:fs/promises";
import path from "node:path";
import { shellLocalProvisionerSchema } from "../../../core/src/mod.js";
import { prepareWithSchema, type PrepareContext, type ProvisionerDefinition } from "../plugin_api.js";
import { runShellLocal } from "../shell/shell_local_run.js";
import { goPathError } from "../util/go_text.js";

/** Packer's check that every script exists (`Bad script 'x': stat x: no such file or directory`). */
/** Packer's prepare-time check of `scripts` (after `script` was folded in): each must exist, relative to workDir. */
export async function checkScriptsExist(config: { readonly scripts?: readonly string[] }, ctx: PrepareContext): Promise<string[]> {
  const problems: string[] = [];
  for (const script of config.scripts ?? []) {
    try {
      await stat(path.resolve(ctx.workDir, script));
    } catch (err) {
      problems.push(`Bad script '${script}': ${goPathError("stat", script, err)}`);
    }
  }
  return problems;
}

export const shellLocalProvisioner: ProvisionerDefinition = {
  kind: "provisioner",
  type: "shell-local",
  schema: shellLocalProvisionerSchema,
  prepare: (config, ctx) =>
    prepareWithSchema(shellLocalProvisionerSchema, config, async (compiled) => ({
      problems: await checkScriptsExist(compiled, ctx),
      instance: { provision: (pctx) => runShellLocal(compiled, pctx) },
    })),
};
