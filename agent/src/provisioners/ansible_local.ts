/**
 * The `ansible-local` provisioner (Packer 1.6.6's provisioner/ansible-local): uploads the playbook(s) and an
 * inventory naming 127.0.0.1 (in `inventory_groups`) to `staging_directory` on the machine, runs `command`
 * (`ansible-playbook`) there with `-c local` and Packer's extra vars, streaming its output; removes the staging
 * directory when `clean_staging_directory` is set (Packer's default leaves it).
 */
import { randomUUID } from "node:crypto";
import { stat } from "node:fs/promises";
import path from "node:path";
import { BuildFailedError, ansibleLocalProvisionerSchema, type AnsibleLocalConfig } from "../../../core/src/mod.js";
import { prepareWithSchema, type PluginContext, type PrepareContext, type ProvisionerDefinition } from "../plugin_api.js";
import { goPathError } from "../util/go_text.js";

const HTTP_ADDR_NOT_IMPLEMENTED = "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER";
const REMOTE_CLEANUP_TIMEOUT_MS = 10_000;

function quote(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

function playbooks(config: AnsibleLocalConfig): string[] {
  return (config.playbook_file ?? "") !== "" ? [config.playbook_file ?? ""] : [...(config.playbook_files ?? [])];
}

export async function runAnsibleLocal(config: AnsibleLocalConfig, ctx: PluginContext): Promise<void> {
  const comm = ctx.communicator;
  if (comm === undefined) throw new BuildFailedError(`the ansible-local provisioner needs a communicator; the builder has "communicator": "none"`);
  const staging = (config.staging_directory ?? "") !== "" ? (config.staging_directory ?? "") : `/tmp/packer-provisioner-ansible-local/${randomUUID()}`;
  const run = async (command: string, what: string): Promise<void> => {
    const code = await comm.start(command, { signal: ctx.signal, onStdout: (l) => ctx.log("message", l), onStderr: (l) => ctx.log("error", l) });
    if (code !== 0) throw new BuildFailedError(`${what}: Non-zero exit status: ${code}`);
  };
  ctx.log("say", `Creating Ansible staging directory...`);
  await run(`mkdir -p ${quote(staging)}`, "Error creating staging directory");
  try {
    const groups = config.inventory_groups ?? [];
    const inventory = groups.length > 0 ? groups.map((g) => `[${g}]\n127.0.0.1\n`).join("") : "127.0.0.1\n";
    const inventoryPath = `${staging}/packer-provisioner-ansible-local-inventory`;
    await comm.upload(Buffer.from(inventory), inventoryPath, ctx.signal);
    const httpAddr = ctx.generatedData?.PackerHTTPAddr ?? "";
    const extraVars = [`packer_build_name=${ctx.build.name}`, `packer_builder_type=${ctx.build.builderType}`];
    if (httpAddr !== "" && httpAddr !== HTTP_ADDR_NOT_IMPLEMENTED) extraVars.push(`packer_http_addr=${httpAddr}`);
    for (const playbook of playbooks(config)) {
      const remote = `${staging}/${path.basename(playbook)}`;
      ctx.log("say", `Uploading main Playbook file...`);
      await comm.upload(path.resolve(ctx.workDir, playbook), remote, ctx.signal);
      ctx.log("say", `Executing Ansible: ${path.basename(playbook)}`);
      const args = [quote(path.basename(playbook)), "--extra-vars", quote(extraVars.join(" ")), ...(config.extra_arguments ?? []).map((a) => ctx.render(a, ctx.generatedData)), "-c", "local", "-i", quote(path.basename(inventoryPath))];
      await run(`cd ${quote(staging)} && ${config.command} ${args.join(" ")}`, "Error executing Ansible");
    }
  } finally {
    if (config.clean_staging_directory ?? false) {
      ctx.log("say", "Removing staging directory...");
      await comm.start(`rm -rf ${quote(staging)}`, { signal: AbortSignal.timeout(REMOTE_CLEANUP_TIMEOUT_MS) }).catch(() => -1);
    }
  }
}

async function checkPlaybooks(config: AnsibleLocalConfig, ctx: PrepareContext): Promise<string[]> {
  const problems: string[] = [];
  for (const p of playbooks(config)) {
    try {
      if (!(await stat(path.resolve(ctx.workDir, p))).isFile()) problems.push(`playbook_file: ${p} must be a file`);
    } catch (err) {
      problems.push(`playbook_file: ${goPathError("stat", p, err)}`);
    }
  }
  return problems;
}

export const ansibleLocalProvisioner: ProvisionerDefinition = {
  kind: "provisioner",
  type: "ansible-local",
  schema: ansibleLocalProvisionerSchema,
  prepare: (config, ctx) =>
    prepareWithSchema(ansibleLocalProvisionerSchema, config, async (compiled) => ({
      problems: await checkPlaybooks(compiled, ctx),
      instance: { provision: (pctx) => runAnsibleLocal(compiled, pctx) },
    })),
};
