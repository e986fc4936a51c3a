/**
 * The `vmware-iso` and `vmware-vmx` builders (packer-plugin-vmware, VMware Workstation on Linux agents): the .vmx
 * written by kiln (Packer's defaults, `vmx_data`), the disk made by `vmware-vdiskmanager` (or the source VM cloned
 * with `vmrun clone`), the VM run with `vmrun`, `boot_command` typed over its VNC server, provisioned over SSH at
 * the IP VMware Tools reports, shut down, the output directory pruned and the disk compacted as Packer does.
 * Builder id `mitchellh.vmware`. Steps in ./steps.ts, the product commands in ./driver.ts.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import {
  VMWARE_BUILDER_ID,
  vmwareIsoBuilderSchema,
  vmwareVmxBuilderSchema,
  type VmwareCommonConfig,
  type VmwareIsoBuilderConfig,
  type VmwareVmxBuilderConfig,
} from "../../../../core/src/mod.js";
import { runPipeline, type Step } from "../../pipeline/mod.js";
import { prepareWithSchema, type BuilderContext, type BuilderDefinition } from "../../plugin_api.js";
import { outputDirStep } from "../../steps/output_dir.js";
import { provisionStep } from "../../steps/provision.js";
import { httpAddr, httpServerStep } from "../../vm/http_server.js";
import { onPath, outputDirArtifact } from "../desktop/artifact.js";
import { currentHostRunner } from "../desktop/host_runner.js";
import { connectStep, downloadStep, floppyStep, hostProblems, runDirStep, shutdownStep } from "../desktop/steps.js";
import { VMRUN, WorkstationDriver } from "./driver.js";
import {
  bootCommandStep,
  cleanFilesStep,
  cleanVmxStep,
  cloneStep,
  commAddress,
  compactDiskStep,
  configureVmxStep,
  configureVncStep,
  createDiskStep,
  createVmxStep,
  exportStep,
  hostIpStep,
  prepareToolsStep,
  runStep,
  uploadToolsStep,
  verifyStep,
  type VmwareRunInfo,
  type VmwareState,
} from "./steps.js";

function hookData(c: VmwareCommonConfig, state: VmwareState): Readonly<Record<string, string>> {
  const http = state.httpServer;
  const ip = state.hostIp ?? "";
  const data: Record<string, string> = {
    PackerHTTPAddr: http !== undefined ? httpAddr(ip, http.port) : "",
    PackerHTTPIP: http !== undefined ? ip : "",
    PackerHTTPPort: http !== undefined ? String(http.port) : "",
  };
  if (c.communicator === "ssh") {
    Object.assign(data, {
      ConnType: "ssh",
      Host: (c.ssh_host ?? "") !== "" ? (c.ssh_host as string) : (state.guestIp ?? ""),
      Port: String(c.ssh_port),
      User: c.ssh_username ?? "",
      Password: c.ssh_password ?? "",
      SSHPublicKey: "",
      SSHPrivateKey: "",
      WinRMPassword: "",
    });
  }
  return data;
}


function pipeline(c: VmwareCommonConfig, ctx: BuilderContext, info: VmwareRunInfo, state: VmwareState, source: Step<VmwareState>[], make: Step<VmwareState>[]): Step<VmwareState>[] {
  const dir = c.http_directory ?? "";
  const content = c.http_content ?? {};
  const outDir = path.resolve(ctx.workDir, (c.output_directory ?? "") !== "" ? (c.output_directory as string) : `output-${ctx.build.name}`);
  return [
    verifyStep(info),
    prepareToolsStep(c),
    ...source,
    outputDirStep(outDir, ctx.build.force === true),
    runDirStep(),
    floppyStep(c.floppy_files ?? [], c.floppy_label, ctx.workDir, c.floppy_dirs ?? []),
    ...make,
    configureVmxStep("configure-vmx", c.vmx_data ?? {}, c, { devices: true }),
    hostIpStep(c, info),
    httpServerStep<VmwareState>({
      directory: dir !== "" ? path.resolve(ctx.workDir, dir) : undefined,
      content: Object.keys(content).length > 0 ? content : undefined,
      portMin: c.http_port_min,
      portMax: c.http_port_max,
      bindAddress: (c.http_bind_address ?? "") !== "" ? c.http_bind_address : undefined,
    }),
    configureVncStep(c),
    runStep(c, info),
    bootCommandStep(c, info),
    connectStep<VmwareState>(c, (s, sctx) => commAddress(c, info, s, sctx), ctx.workDir),
    uploadToolsStep(c, info),
    provisionStep<VmwareState>(ctx.hook, { hookData: () => hookData(c, state), communicator: () => state.communicator }),
    shutdownStep<VmwareState>({
      command: c.shutdown_command,
      timeoutMs: c.shutdown_timeout,
      pollMs: 150,
      haltMessage: "Forcibly halting virtual machine...",
      isRunning: (sctx, s) => info.driver.isRunning(sctx, s.vmxPath as string),
      halt: (sctx, s) => info.driver.stop(sctx, s.vmxPath as string),
    }),
    cleanFilesStep(),
    compactDiskStep(c, info),
    configureVmxStep("configure-vmx-post", c.vmx_data_post ?? {}, c, { devices: false }),
    cleanVmxStep(c),
    exportStep(c, info),
  ];
}

async function runBuild(c: VmwareCommonConfig, ctx: BuilderContext, steps: (info: VmwareRunInfo, state: VmwareState) => Step<VmwareState>[]) {
  const host = currentHostRunner();
  const info: VmwareRunInfo = {
    driver: new WorkstationDriver(host),
    host,
    workDir: ctx.workDir,
    vmName: (c.vm_name ?? "") !== "" ? (c.vm_name as string) : `packer-${ctx.build.name}`,
    render: (t, d) => ctx.render(t, d),
  };
  const state: VmwareState = { diskPaths: [], temporaryDevices: [] };
  const result = await runPipeline(steps(info, state), state, ctx, { onError: ctx.onError });
  if (result.error) throw result.error;
  return outputDirArtifact(VMWARE_BUILDER_ID, state.outputDir as string, c.output_directory ?? "", ctx.workDir, { ...hookData(c, state) }, {
    id: info.vmName,
    state: {
      "artifact.conf.keep_registered": String(c.keep_registered === true),
      "artifact.conf.format": c.format ?? "",
      "artifact.conf.skip_export": String(c.skip_export === true),
    },
  });
}

export const vmwareIsoBuilder: BuilderDefinition = {
  kind: "builder",
  type: "vmware-iso",
  schema: vmwareIsoBuilderSchema,
  detect: () => onPath(VMRUN),
  prepare: (config, pctx) =>
    prepareWithSchema(vmwareIsoBuilderSchema, config, async (c: VmwareIsoBuilderConfig) => ({
      problems: hostProblems(c, pctx.workDir),
      instance: {
        run: (ctx: BuilderContext) =>
          runBuild(c, ctx, (info, state) => {
            const urls = (c.iso_urls ?? []).length > 0 ? [...(c.iso_urls ?? [])] : [c.iso_url ?? ""];
            return pipeline(c, ctx, info, state, [downloadStep("ISO", urls, c.iso_checksum ?? "none", ctx.workDir, "iso")], [createDiskStep(c, info), createVmxStep(c, info)]);
          }),
      },
    })),
};

export const vmwareVmxBuilder: BuilderDefinition = {
  kind: "builder",
  type: "vmware-vmx",
  schema: vmwareVmxBuilderSchema,
  detect: () => onPath(VMRUN),
  prepare: (config, pctx) =>
    prepareWithSchema(vmwareVmxBuilderSchema, config, async (c: VmwareVmxBuilderConfig) => {
      const problems = hostProblems(c, pctx.workDir);
      if (!existsSync(path.resolve(pctx.workDir, c.source_path))) problems.push(`source_path is invalid: stat ${c.source_path}: no such file or directory`);
      return {
        problems,
        instance: { run: (ctx: BuilderContext) => runBuild(c, ctx, (info, state) => pipeline(c, ctx, info, state, [], [cloneStep(c, info)])) },
      };
    }),
};
