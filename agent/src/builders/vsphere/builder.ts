/**
 * The `vsphere-iso` and `vsphere-clone` builders (Packer's builder/vsphere, builder id `jetbrains.vsphere`): they
 * drive vCenter (or ESXi) over its SOAP API, so they need no local tool and every agent advertises them. The
 * artifact is the VM (or template) left in the inventory: `Id()` is its name, and destroying it deletes the VM.
 * With an `export` block its files are those under the export's output directory (Packer's Artifact.Files walks
 * it), which destroying also removes. Steps are in ./steps.ts and ./export.ts.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import {
  BuildFailedError,
  VSPHERE_BUILDER_ID,
  vsphereExportSettings,
  vsphereCloneBuilderSchema,
  vsphereIsoBuilderSchema,
  type VsphereCommonConfig,
} from "../../../../core/src/mod.js";
import type { LocalArtifact } from "../../artifact.js";
import { runPipeline, type Step } from "../../pipeline/mod.js";
import { prepareWithSchema, type BuilderContext, type BuilderDefinition } from "../../plugin_api.js";
import { provisionStep } from "../../steps/provision.js";
import { httpAddr, httpServerStep } from "../../vm/http_server.js";
import { VsphereClient } from "../../vsphere/client.js";
import { VirtualMachine } from "../../vsphere/vm.js";
import { listFiles } from "../desktop/artifact.js";
import { exportPlan, exportPreflightStep, exportStep, type ExportPlan } from "./export.js";
import {
  addCdromsStep,
  cloneDeviceChanges,
  cloneVmStep,
  configureStep,
  connectVcenterStep,
  convertToTemplateStep,
  createVmStep,
  downloadIsoStep,
  ejectCdromsStep,
  locateStep,
  powerOnStep,
  removeCdromsStep,
  shutdownStep,
  snapshotStep,
  sshConnectStep,
  uploadIsoStep,
  waitForIpStep,
  type VsphereBuildState,
  type VsphereSetup,
} from "./steps.js";
import { bootCommandStep, httpIpStep, usesBootHttp } from "./boot_command.js";
import { markOf } from "./reap.js";

/** The VM in vCenter (and the exported files) as the build's artifact. */
async function vmArtifact(c: VsphereCommonConfig, state: VsphereBuildState, name: string, workDir: string, plan: ExportPlan | undefined): Promise<LocalArtifact> {
  const ref = state.vm?.ref;
  const relative = plan !== undefined && !path.isAbsolute(plan.settings.outputDirectory);
  const files = plan === undefined ? [] : (await listFiles(plan.dir)).map((f) => (relative ? path.relative(workDir, f) : f));
  return {
    builderId: VSPHERE_BUILDER_ID,
    id: name,
    description: name,
    files,
    state: { vcenter_server: c.vcenter_server ?? "", datacenter: state.location?.dcPath ?? "", vm: ref?.value ?? "", template: String(c.convert_to_template) },
    generatedData: { ID: name },
    async destroy() {
      if (plan !== undefined) await rm(plan.dir, { recursive: true, force: true });
      const signal = AbortSignal.timeout(120_000);
      const client = await VsphereClient.connect(
        { server: c.vcenter_server ?? "", username: c.username ?? "", password: c.password ?? "", insecure: c.insecure_connection },
        signal,
      );
      try {
        if (ref !== undefined) await new VirtualMachine(client, ref, name).destroy(signal);
      } catch (err) {
        throw new BuildFailedError(`Error destroying VM ${name}: ${(err as Error).message}`, { cause: err });
      } finally {
        await client.close();
      }
    },
  };
}

/** The steps after the VM exists, shared by both builders (Packer's order). */
function commonTail(
  kind: "iso" | "clone",
  setup: VsphereSetup,
  ctx: BuilderContext,
  state: VsphereBuildState,
  removeCdrom: boolean,
  plan: ExportPlan | undefined,
): Step<VsphereBuildState>[] {
  const c = setup.config;
  const hookData = (): Readonly<Record<string, string>> => ({
    ID: setup.vmName,
    PackerRunUUID: ctx.build.runUuid,
    // Packer: the discovered IP and the server's port (0 without http_directory) once StepHTTPIPDiscover ran.
    PackerHTTPAddr: state.httpIp !== undefined ? httpAddr(state.httpIp, state.httpServer?.port ?? 0) : "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER",
    PackerHTTPIP: state.httpIp ?? "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER",
    PackerHTTPPort: state.httpIp !== undefined ? String(state.httpServer?.port ?? 0) : "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER",
    ConnType: c.communicator,
    Host: state.ip ?? c.ssh_host ?? "",
    Port: String(c.ssh_port),
    User: c.ssh_username ?? "",
    Password: c.ssh_password ?? "",
    SSHPublicKey: "",
    SSHPrivateKey: "",
    WinRMPassword: "",
  });
  // Packer 1.6.6: vsphere-clone without a communicator does not start the VM at all; vsphere-iso starts it and,
  // without a communicator, waits for someone else to shut it down.
  const steps: Step<VsphereBuildState>[] = [];
  if (!(kind === "clone" && c.communicator === "none")) {
    steps.push(...bootHttpSteps(setup, ctx), powerOnStep(), bootCommandStep(c, setup.vmName, (t, d) => ctx.render(t, d)));
    if (c.communicator !== "none") steps.push(waitForIpStep(setup), sshConnectStep(setup));
    steps.push(provisionStep<VsphereBuildState>(ctx.hook, { hookData, communicator: () => state.communicator }), shutdownStep(setup));
  }
  steps.push(removeCdrom ? removeCdromsStep() : ejectCdromsStep());
  if (c.create_snapshot) steps.push(snapshotStep());
  if (c.convert_to_template) steps.push(convertToTemplateStep());
  if (plan !== undefined) steps.push(exportStep(plan));
  return steps;
}

/** Packer's StepHTTPIPDiscover and StepHTTPServer (`http_directory`), before the VM is powered on. */
function bootHttpSteps(setup: VsphereSetup, ctx: BuilderContext): Step<VsphereBuildState>[] {
  const c = setup.config;
  if (!usesBootHttp(c)) return [];
  const dir = c.http_directory ?? "";
  return [
    httpIpStep(c),
    httpServerStep<VsphereBuildState>({
      directory: dir !== "" ? path.resolve(ctx.workDir, dir) : undefined,
      portMin: c.http_port_min,
      portMax: c.http_port_max,
      bindAddress: (c.http_bind_address ?? "") !== "" ? c.http_bind_address : undefined,
    }),
  ];
}

async function runBuild(
  kind: "iso" | "clone",
  setup: VsphereSetup,
  ctx: BuilderContext,
  download: Step<VsphereBuildState>[],
  head: Step<VsphereBuildState>[],
  removeCdrom: boolean,
): Promise<LocalArtifact> {
  const state: VsphereBuildState = {};
  const c = setup.config;
  const plan = c.export === undefined ? undefined : exportPlan(vsphereExportSettings(c.export, setup.vmName, ctx.build.name), ctx.workDir);
  const steps = [
    ...(plan !== undefined ? [exportPreflightStep(plan)] : []),
    ...download,
    connectVcenterStep(setup),
    locateStep(setup),
    ...head,
    ...commonTail(kind, setup, ctx, state, removeCdrom, plan),
  ];
  const result = await runPipeline(steps, state, ctx, { onError: ctx.onError });
  if (result.error) throw result.error;
  return vmArtifact(c, state, setup.vmName, ctx.workDir, plan);
}

/** vSphere builders talk to a remote API: nothing to detect on the host. */
const always = (): boolean => true;

export const vsphereIsoBuilder: BuilderDefinition = {
  kind: "builder",
  type: "vsphere-iso",
  schema: vsphereIsoBuilderSchema,
  detect: always,
  prepare: (config) =>
    prepareWithSchema(vsphereIsoBuilderSchema, config, async (compiled) => ({
      instance: {
        async run(ctx: BuilderContext) {
          const setup = { config: compiled, vmName: compiled.vm_name ?? "", workDir: ctx.workDir, force: ctx.build.force ?? false, mark: markOf(ctx.build) };
          return runBuild(
            "iso",
            setup,
            ctx,
            [downloadIsoStep(setup)],
            [uploadIsoStep(), createVmStep(setup), configureStep(setup), addCdromsStep(setup)],
            compiled.remove_cdrom === true,
          );
        },
      },
    })),
};

export const vsphereCloneBuilder: BuilderDefinition = {
  kind: "builder",
  type: "vsphere-clone",
  schema: vsphereCloneBuilderSchema,
  detect: always,
  prepare: (config) =>
    prepareWithSchema(vsphereCloneBuilderSchema, config, async (compiled) => ({
      instance: {
        async run(ctx: BuilderContext) {
          const setup = { config: compiled, vmName: compiled.vm_name ?? "", workDir: ctx.workDir, force: ctx.build.force ?? false, mark: markOf(ctx.build) };
          const extras = { notes: compiled.notes, deviceChanges: (state: VsphereBuildState, signal: AbortSignal) => cloneDeviceChanges(setup, state, signal) };
          return runBuild("clone", setup, ctx, [], [cloneVmStep(setup), configureStep(setup, extras), addCdromsStep(setup)], compiled.remove_cdrom === true);
        },
      },
    })),
};
