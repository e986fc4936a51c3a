/**
 * The `virtualbox-iso` and `virtualbox-ovf` builders (Packer's builder/virtualbox): a VM made with `VBoxManage`
 * (created from an ISO, or imported from an OVF/OVA), booted headless, `boot_command` typed as scancodes, provisioned
 * over SSH through a NAT port forward, shut down, exported to OVF/OVA in `output_directory`, then unregistered and
 * deleted. Builder id `mitchellh.virtualbox`. Steps in ./steps.ts, VBoxManage in ./driver.ts.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import {
  VIRTUALBOX_BUILDER_ID,
  virtualboxIsoBuilderSchema,
  virtualboxOvfBuilderSchema,
  type VirtualboxCommonConfig,
  type VirtualboxIsoBuilderConfig,
  type VirtualboxOvfBuilderConfig,
} from "../../../../core/src/mod.js";
import { runPipeline, type Step } from "../../pipeline/mod.js";
import { prepareWithSchema, type BuilderContext, type BuilderDefinition } from "../../plugin_api.js";
import { outputDirStep } from "../../steps/output_dir.js";
import { provisionStep } from "../../steps/provision.js";
import { httpAddr, httpServerStep } from "../../vm/http_server.js";
import { onPath, outputDirArtifact } from "../desktop/artifact.js";
import { currentHostRunner } from "../desktop/host_runner.js";
import { connectStep, downloadStep, floppyStep, hostProblems, runDirStep, shutdownStep } from "../desktop/steps.js";
import { VBOXMANAGE, VBoxManageDriver } from "./driver.js";
import {
  VBOX_NAT_HOST_IP,
  attachFloppyStep,
  attachIsosStep,
  bootCommandStep,
  commAddress,
  createDiskStep,
  createVmStep,
  exportStep,
  guestAdditionsStep,
  importStep,
  portForwardStep,
  removeDevicesStep,
  runStep,
  suppressMessagesStep,
  uploadGuestAdditionsStep,
  uploadVersionStep,
  verifyStep,
  vboxmanageStep,
  type VirtualboxRunInfo,
  type VirtualboxState,
} from "./steps.js";

/** Packer's provision hook data for a VirtualBox build. */
function hookData(c: VirtualboxCommonConfig, state: VirtualboxState): Readonly<Record<string, string>> {
  const http = state.httpServer;
  const data: Record<string, string> = {
    PackerHTTPAddr: http !== undefined ? httpAddr(VBOX_NAT_HOST_IP, http.port) : "",
    PackerHTTPIP: http !== undefined ? VBOX_NAT_HOST_IP : "",
    PackerHTTPPort: http !== undefined ? String(http.port) : "",
  };
  if (c.communicator === "ssh") {
    const direct = (c.ssh_host ?? "") !== "";
    Object.assign(data, {
      ConnType: "ssh",
      Host: direct ? (c.ssh_host as string) : "127.0.0.1",
      Port: String(direct ? c.ssh_port : (state.hostPort?.port ?? c.ssh_port)),
      User: c.ssh_username ?? "",
      Password: c.ssh_password ?? "",
      SSHPublicKey: "",
      SSHPrivateKey: "",
      WinRMPassword: "",
    });
  }
  return data;
}


/** The steps both builders share, around the ones that make the VM. */
function pipeline(c: VirtualboxCommonConfig, ctx: BuilderContext, info: VirtualboxRunInfo, state: VirtualboxState, source: Step<VirtualboxState>, make: Step<VirtualboxState>[], bootIso: boolean): Step<VirtualboxState>[] {
  const dir = c.http_directory ?? "";
  const content = c.http_content ?? {};
  const outDir = path.resolve(ctx.workDir, (c.output_directory ?? "") !== "" ? (c.output_directory as string) : `output-${ctx.build.name}`);
  return [
    verifyStep(info),
    guestAdditionsStep(c, info),
    source,
    outputDirStep(outDir, ctx.build.force === true),
    runDirStep(),
    floppyStep(c.floppy_files ?? [], c.floppy_label, ctx.workDir, c.floppy_dirs ?? []),
    httpServerStep<VirtualboxState>({
      directory: dir !== "" ? path.resolve(ctx.workDir, dir) : undefined,
      content: Object.keys(content).length > 0 ? content : undefined,
      portMin: c.http_port_min,
      portMax: c.http_port_max,
      bindAddress: (c.http_bind_address ?? "") !== "" ? c.http_bind_address : undefined,
    }),
    suppressMessagesStep(info),
    ...make,
    attachIsosStep(c, info, bootIso),
    attachFloppyStep(info),
    portForwardStep(c, info),
    vboxmanageStep("vboxmanage", c.vboxmanage ?? [], info),
    runStep(c, info),
    bootCommandStep(c, info),
    connectStep<VirtualboxState>(c, (s, sctx) => commAddress(c, s, sctx), ctx.workDir),
    uploadVersionStep(c),
    uploadGuestAdditionsStep(c, info),
    provisionStep<VirtualboxState>(ctx.hook, { hookData: () => hookData(c, state), communicator: () => state.communicator }),
    shutdownStep<VirtualboxState>({
      command: c.shutdown_command,
      timeoutMs: c.shutdown_timeout,
      postDelayMs: c.post_shutdown_delay,
      pollMs: 500,
      haltMessage: "Halting the virtual machine...",
      isRunning: (sctx) => info.driver.isRunning(sctx, info.vmName),
      halt: (sctx) => info.driver.stop(sctx, info.vmName),
    }),
    removeDevicesStep(info),
    vboxmanageStep("vboxmanage-post", c.vboxmanage_post ?? [], info),
    exportStep(c, info),
  ];
}

async function runBuild(c: VirtualboxCommonConfig, ctx: BuilderContext, steps: (info: VirtualboxRunInfo, state: VirtualboxState) => Step<VirtualboxState>[]) {
  const host = currentHostRunner();
  const info: VirtualboxRunInfo = {
    driver: new VBoxManageDriver(host),
    host,
    workDir: ctx.workDir,
    vmName: (c.vm_name ?? "") !== "" ? (c.vm_name as string) : ctx.render("packer-{{build_name}}-{{timestamp}}"),
    render: (t, d) => ctx.render(t, d),
  };
  const state: VirtualboxState = { attached: [] };
  const result = await runPipeline(steps(info, state), state, ctx, { onError: ctx.onError });
  if (result.error) throw result.error;
  return outputDirArtifact(VIRTUALBOX_BUILDER_ID, state.outputDir as string, c.output_directory ?? "", ctx.workDir, { ...hookData(c, state) });
}

export const virtualboxIsoBuilder: BuilderDefinition = {
  kind: "builder",
  type: "virtualbox-iso",
  schema: virtualboxIsoBuilderSchema,
  detect: () => onPath(VBOXMANAGE),
  prepare: (config, pctx) =>
    prepareWithSchema(virtualboxIsoBuilderSchema, config, async (c: VirtualboxIsoBuilderConfig) => ({
      problems: hostProblems(c, pctx.workDir),
      instance: {
        run: (ctx: BuilderContext) =>
          runBuild(c, ctx, (info, state) => {
            const urls = (c.iso_urls ?? []).length > 0 ? [...(c.iso_urls ?? [])] : [c.iso_url ?? ""];
            return pipeline(c, ctx, info, state, downloadStep("ISO", urls, c.iso_checksum ?? "none", ctx.workDir, "iso"), [createVmStep(c, info), createDiskStep(c, info)], true);
          }),
      },
    })),
};

export const virtualboxOvfBuilder: BuilderDefinition = {
  kind: "builder",
  type: "virtualbox-ovf",
  schema: virtualboxOvfBuilderSchema,
  detect: () => onPath(VBOXMANAGE),
  prepare: (config, pctx) =>
    prepareWithSchema(virtualboxOvfBuilderSchema, config, async (c: VirtualboxOvfBuilderConfig) => {
      const problems = hostProblems(c, pctx.workDir);
      const src = c.source_path ?? "";
      if (!/^[a-z]+:\/\//i.test(src) && !existsSync(path.resolve(pctx.workDir, src))) problems.push(`source_path is invalid: stat ${src}: no such file or directory`);
      return {
        problems,
        instance: {
          run: (ctx: BuilderContext) =>
            runBuild(c, ctx, (info, state) => {
              const ext = path.extname(src).slice(1).toLowerCase() === "ova" ? "ova" : "ovf";
              return pipeline(c, ctx, info, state, downloadStep("OVF/OVA", [src], (c.checksum ?? "") !== "" ? (c.checksum as string) : "none", ctx.workDir, ext), [importStep(c, info)], false);
            }),
        },
      };
    }),
};
