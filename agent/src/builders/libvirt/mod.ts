/**
 * The `libvirt` builder: packer-plugin-libvirt's configuration, run through libvirtd (see steps.ts for the
 * pipeline). Its artifact is the volume left in the pool (`pool/name`), plus the `export_path` file when set.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { BuildFailedError, LIBVIRT_BUILDER_ID, libvirtBuilderSchema, type LibvirtBuilderConfig } from "../../../../core/src/mod.js";
import type { LocalArtifact } from "../../artifact.js";
import { runPipeline, type Step } from "../../pipeline/mod.js";
import { prepareWithSchema, type BuilderContext, type BuilderDefinition } from "../../plugin_api.js";
import { provisionStep } from "../../steps/provision.js";
import { goPathError } from "../../util/go_text.js";
import { probeKvm } from "../../vm/accel.js";
import { planBuild } from "./domain_xml.js";
import { libvirtAvailable, runVirsh } from "./libvirt.js";
import {
  bootCommandStep,
  connectStep,
  createVolumesStep,
  defineDomainStep,
  keepArtifactStep,
  shutdownStep,
  startDomainStep,
  type LibvirtBuildState,
  type StepSetup,
} from "./steps.js";

import { reapLeftovers } from "./reap.js";

export { reapLeftovers, type ReapReport } from "./reap.js";

/** Where an agent looks for domains a crashed predecessor left: libvirt's default connection. */
function defaultUri(): string {
  return process.env.LIBVIRT_DEFAULT_URI || "qemu:///system";
}

/**
 * `kvm` when libvirt offers KVM and, for a libvirtd on this host, a child QEMU really starts with it (the shared
 * probe: a `/dev/kvm` that hangs is never opened in the agent); else `qemu` (TCG).
 */
async function defaultDomainType(uri: string, signal: AbortSignal): Promise<{ type: "kvm" | "qemu"; reason?: string }> {
  const local = /^[a-z0-9+]+:\/\/\//i.test(uri);
  if (local) {
    const probe = await probeKvm();
    if (!probe.usable) return { type: "qemu", reason: probe.reason };
  }
  try {
    await runVirsh(uri, ["domcapabilities", "--virttype", "kvm"], signal);
    return { type: "kvm" };
  } catch (err) {
    return { type: "qemu", reason: (err as Error).message };
  }
}

/** Host-side checks: the direct-boot files exist where the agent runs (libvirtd on the same host reads them). */
async function checkFiles(c: LibvirtBuilderConfig, workDir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const key of ["kernel", "initrd"] as const) {
    const file = c[key] ?? "";
    if (file === "") continue;
    try {
      await stat(path.resolve(workDir, file));
    } catch (err) {
      problems.push(`${key} is invalid: ${goPathError("stat", file, err)}`);
    }
  }
  return problems;
}

function volumeArtifact(c: LibvirtBuilderConfig, pool: string, name: string, workDir: string): LocalArtifact {
  const exportPath = c.export_path ?? "";
  return {
    builderId: LIBVIRT_BUILDER_ID,
    id: `${pool}/${name}`,
    description: `libvirt volume ${pool}/${name}${exportPath !== "" ? ` (exported to ${exportPath})` : ""}`,
    files: exportPath !== "" ? [exportPath] : [],
    state: { pool, volume: name, libvirt_uri: c.libvirt_uri },
    generatedData: { ID: `${pool}/${name}` },
    async destroy() {
      try {
        await runVirsh(c.libvirt_uri, ["vol-delete", "--pool", pool, name]);
      } catch (err) {
        throw new BuildFailedError(`Error deleting volume ${pool}/${name}: ${(err as Error).message}`, { cause: err });
      }
      if (exportPath !== "") {
        const { rm } = await import("node:fs/promises");
        await rm(path.resolve(workDir, exportPath), { force: true });
      }
    },
  };
}

export const libvirtBuilder: BuilderDefinition = {
  kind: "builder",
  type: "libvirt",
  schema: libvirtBuilderSchema,
  detect: libvirtAvailable,
  reapLeftovers: async (log) => {
    const uri = defaultUri();
    const report = await reapLeftovers(uri, { orphanedOnly: true });
    for (const d of report.domains) log(`removed domain ${d} on ${uri} left by a crashed agent process`);
    for (const v of report.volumes) log(`deleted volume ${v} on ${uri} left by a crashed agent process`);
    for (const e of report.errors) log(`could not remove what a crashed agent process left on ${uri}: ${e}`);
  },
  prepare: (config, pctx) =>
    prepareWithSchema(libvirtBuilderSchema, config, async (compiled) => ({
      problems: await checkFiles(compiled, pctx.workDir),
      instance: {
        async run(ctx: BuilderContext) {
          const warn = (text: string): void => ctx.log("message", `Warning: ${text}`);
          const resolved: LibvirtBuilderConfig = {
            ...compiled,
            kernel: compiled.kernel === undefined ? undefined : path.resolve(ctx.workDir, compiled.kernel),
            initrd: compiled.initrd === undefined ? undefined : path.resolve(ctx.workDir, compiled.initrd),
          };
          const plan = planBuild(resolved, warn);
          let domainType = compiled.domain_type as "kvm" | "qemu" | undefined;
          if (domainType === undefined) {
            const found = await defaultDomainType(compiled.libvirt_uri, ctx.signal);
            domainType = found.type;
            if (domainType === "qemu") warn(`no usable KVM (${found.reason ?? "unknown"}): the domain runs under QEMU's TCG emulation (slow)`);
          }
          const setup: StepSetup = { config: resolved, plan, domainType, jobId: ctx.build.jobId, buildName: ctx.build.name, workDir: ctx.workDir };
          const state: LibvirtBuildState = { created: [], formats: new Map(), artifactKept: false };
          const hookData = (): Readonly<Record<string, string>> => ({
            ID: plan.domainName,
            PackerRunUUID: ctx.build.runUuid,
            PackerHTTPAddr: "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER",
            PackerHTTPIP: "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER",
            PackerHTTPPort: "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER",
            ConnType: compiled.communicator,
            Host: state.sshHost ?? "",
            Port: String(state.sshPort ?? compiled.ssh_port),
            User: compiled.ssh_username ?? "",
            Password: compiled.ssh_password ?? "",
            SSHPublicKey: "",
            SSHPrivateKey: "",
            WinRMPassword: "",
          });
          const steps: Step<LibvirtBuildState>[] = [
            defineDomainStep(setup),
            createVolumesStep(setup),
            startDomainStep(setup),
            bootCommandStep(setup, (text, data) => ctx.render(text, data)),
            connectStep(setup),
            provisionStep<LibvirtBuildState>(ctx.hook, { hookData, communicator: () => state.communicator }),
            shutdownStep(setup),
            keepArtifactStep(setup),
          ];
          const result = await runPipeline(steps, state, ctx, { onError: ctx.onError });
          if (result.error) throw result.error;
          const artifact = plan.volumes.find((v) => v.artifact);
          return artifact === undefined ? undefined : volumeArtifact(compiled, artifact.pool, artifact.name, ctx.workDir);
        },
      },
    })),
};
