/**
 * The `null` builder (Packer's builder/null): it creates nothing; its pipeline is Packer's connect step (SSH to an
 * existing host, or a no-op with `communicator: none`) and the provision step, so the provisioners (and on failure
 * the error-cleanup-provisioner) run against that host.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { NULL_BUILDER_ID, nullBuilderSchema, type NullBuilderConfig } from "../../../core/src/mod.js";
import type { LocalArtifact } from "../artifact.js";
import { SshCommunicator, sshOptionsFromConfig } from "../communicators/ssh.js";
import { runPipeline, type PipelineState, type Step } from "../pipeline/mod.js";
import { prepareWithSchema, type BuilderContext, type BuilderDefinition } from "../plugin_api.js";
import { provisionStep } from "../steps/provision.js";
import { goPathError } from "../util/go_text.js";

/** The null builder's pipeline state: the error, and the open connection. */
export interface NullBuilderState extends PipelineState {
  communicator?: SshCommunicator;
  /** The text of ssh_private_key_file: Packer's `SSHPrivateKey` build value (the ansible provisioner uses it). */
  privateKey?: string;
}

/** Packer's NullArtifact; its generated data is what post-processors see as `{{.ID}}`. */
export const nullArtifact: LocalArtifact = Object.freeze({
  builderId: NULL_BUILDER_ID,
  id: "Null",
  description: "Did not export anything. This is the null builder",
  files: [],
  generatedData: Object.freeze({ ID: "Null" }),
  destroy: async () => undefined,
});

/** What Packer 1.6.6's provision hook hands the provisioners of a null build without a communicator. */
export function nullHookData(runUuid: string): Readonly<Record<string, string>> {
  return {
    ID: "Null",
    PackerRunUUID: runUuid,
    PackerHTTPAddr: "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER",
    PackerHTTPIP: "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER",
    PackerHTTPPort: "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER",
  };
}

/** The SSH values Packer's provision hook adds for a build with an SSH communicator. */
export function sshHookData(config: NullBuilderConfig, privateKey = ""): Readonly<Record<string, string>> {
  return {
    ConnType: "ssh",
    Host: config.ssh_host ?? "",
    Port: String(config.ssh_port),
    User: config.ssh_username ?? "",
    Password: config.ssh_password ?? "",
    SSHPublicKey: "",
    SSHPrivateKey: privateKey,
    WinRMPassword: "",
  };
}

/** Packer's StepConnect: opens the SSH communicator (nothing to do with `communicator: none`); cleanup closes it. */
function connectStep(config: NullBuilderConfig, workDir: string): Step<NullBuilderState> {
  return {
    name: "connect",
    async run(ctx, state) {
      if (config.communicator !== "ssh") return "continue";
      const host = config.ssh_host ?? "";
      ctx.log("say", `Using ssh communicator to connect: ${host}`);
      ctx.log("say", "Waiting for SSH to become available...");
      // Attempts come every 25-300 ms: log each distinct failure reason once, not every attempt.
      const seen = new Set<string>();
      const debug = (text: string): void => {
        const reason = text.replace(/^SSH attempt \d+ /, "SSH attempt ");
        if (text.startsWith("Connected") || seen.has(reason)) return;
        seen.add(reason);
        ctx.log("message", text);
      };
      state.communicator = await SshCommunicator.connect(
        sshOptionsFromConfig(config, host),
        { signal: ctx.signal, workDir, log: debug },
      );
      if ((config.ssh_private_key_file ?? "") !== "") state.privateKey = await readFile(path.resolve(workDir, config.ssh_private_key_file ?? ""), "utf8");
      ctx.log("say", "Connected to SSH!");
      return "continue";
    },
    async cleanup(state) {
      state.communicator?.close();
      state.communicator = undefined;
    },
  };
}

/** The SDK's `ssh_private_key_file` check, done where the file is. */
async function checkKeyFile(config: NullBuilderConfig, workDir: string): Promise<string[]> {
  if (config.communicator !== "ssh") return [];
  const problems: string[] = [];
  for (const key of ["ssh_private_key_file", "ssh_known_hosts_file", "ssh_bastion_private_key_file"] as const) {
    const file = config[key] ?? "";
    if (file === "") continue;
    try {
      await stat(path.resolve(workDir, file));
    } catch (err) {
      problems.push(`${key} is invalid: ${goPathError("stat", file, err)}`);
    }
  }
  return problems;
}

export const nullBuilder: BuilderDefinition = {
  kind: "builder",
  type: "null",
  schema: nullBuilderSchema,
  detect: () => true,
  prepare: (config, pctx) =>
    prepareWithSchema(nullBuilderSchema, config, async (compiled) => ({
      problems: await checkKeyFile(compiled, pctx.workDir),
      instance: {
        async run(ctx: BuilderContext) {
          const state: NullBuilderState = {};
          const hookData = (): Readonly<Record<string, string>> =>
            compiled.communicator === "ssh" ? { ...nullHookData(ctx.build.runUuid), ...sshHookData(compiled, state.privateKey) } : nullHookData(ctx.build.runUuid);
          const steps = [
            connectStep(compiled, ctx.workDir),
            provisionStep<NullBuilderState>(ctx.hook, { hookData, communicator: () => state.communicator }),
          ];
          const result = await runPipeline(steps, state, ctx, { onError: ctx.onError });
          if (result.error) throw result.error;
          return nullArtifact;
        },
      },
    })),
};
