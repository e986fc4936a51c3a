/**
 * Packer 1.6.6's vSphere `export` (builder/vsphere/common StepExport), the last step of both builders, after the
 * template conversion: ExportVm → wait for the HttpNfcLease → download each disk (and, with `images`, each image)
 * to `<output_directory>/<name>-<file>` hashing as it streams → HttpNfcLeaseComplete → OvfManager.CreateDescriptor
 * with the downloaded files → `<name>.ovf`, then `<name>.mf` (`SHA256(<file>)= <hex>` per file, the .ovf last).
 *
 * Packer checks for an existing `<name>.ovf` when it prepares the config; kiln learns the build name (the default
 * output directory) only when the job runs, so {@link exportPreflightStep} checks it first thing, before vCenter
 * is touched. Unlike Packer, a failed or cancelled export aborts the lease and removes the files it wrote (and the
 * directory when it created it), so no partial OVF is left behind.
 */
import { createHash, type Hash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { BuildFailedError, type VsphereExportSettings } from "../../../../core/src/mod.js";
import type { Step } from "../../pipeline/mod.js";
import { ExportLease } from "../../vsphere/nfc.js";
import { child, list, moref, text } from "../../vsphere/soap.js";
import type { VsphereBuildState } from "./steps.js";

/** How long vCenter may take to prepare the lease. */
const LEASE_READY_TIMEOUT_MS = 10 * 60_000;

/** What the export step records: the directory, what it wrote, whether it created the directory. */
export interface ExportState {
  dir: string;
  written: string[];
  createdDir: boolean;
}

/** The resolved export: settings plus the absolute output directory. */
export interface ExportPlan {
  readonly settings: VsphereExportSettings;
  readonly dir: string;
}

export function exportPlan(settings: VsphereExportSettings, workDir: string): ExportPlan {
  return { settings, dir: path.resolve(workDir, settings.outputDirectory) };
}

/** Packer's ExportConfig.Prepare check: `<name>.ovf` must not exist unless `force`. */
export function exportPreflightStep(plan: ExportPlan): Step<VsphereBuildState> {
  return {
    name: "export-preflight",
    async run() {
      const ovf = `${plan.settings.name}.ovf`;
      // Packer's message names the path as written (relative to the job's directory unless absolute).
      if (!plan.settings.force && existsSync(path.join(plan.dir, ovf))) {
        throw new BuildFailedError(`file already exists: ${path.join(plan.settings.outputDirectory, ovf)} (export.force overwrites it)`);
      }
      return "continue";
    },
  };
}

/** Only `.vmdk` files unless `images` (Packer's StepExport.include). */
function included(settings: VsphereExportSettings, file: string): boolean {
  return settings.images || path.extname(file) === ".vmdk";
}

function newHash(settings: VsphereExportSettings): Hash | undefined {
  return settings.manifest === "none" ? undefined : createHash(settings.manifest);
}

export function exportStep(plan: ExportPlan): Step<VsphereBuildState> {
  const { settings, dir } = plan;
  return {
    name: "export",
    async run(ctx, state) {
      const client = state.client;
      const vm = state.vm;
      if (client === undefined || vm === undefined) throw new BuildFailedError("internal: export without a VM");
      const ovfManager = client.content.ovfManager;
      if (ovfManager === undefined) throw new BuildFailedError(`vCenter ${client.server} has no OvfManager: it cannot export OVF`);
      const ex: ExportState = { dir, written: [], createdDir: !existsSync(dir) };
      state.export = ex;
      await mkdir(dir, { recursive: true });

      ctx.log("message", "Starting export...");
      const leaseRef = moref(await client.call("ExportVm", vm.ref, {}, ctx.signal, "error exporting vm"));
      if (leaseRef === undefined) throw new BuildFailedError("error exporting vm: ExportVm returned no lease");
      const lease = new ExportLease(client, leaseRef);
      const manifest: string[] = [];
      const ovfFiles: { deviceId: string; path: string; size: number }[] = [];
      try {
        const info = await lease.waitReady("error exporting vm", LEASE_READY_TIMEOUT_MS, ctx.signal);
        if (settings.options.length > 0) {
          const known = list(child((await client.props(ovfManager, ["ovfExportOption"], ctx.signal)).get("ovfExportOption"), "OvfOptionInfo")).map((o) =>
            text(child(o, "option")),
          );
          const unknown = settings.options.filter((o) => !known.includes(o));
          // Packer only reports them: vCenter ignores options it does not know.
          if (unknown.length > 0) ctx.log("error", `unknown export options ${unknown.join(",")}`);
        }
        const items = info.devices
          .map((d) => {
            let file = d.targetId !== "" ? d.targetId : path.posix.basename(d.url.pathname);
            if (!file.startsWith(settings.name)) file = `${settings.name}-${file}`;
            return { device: d, file };
          })
          .filter((i) => included(settings, i.file));
        lease.startProgress(items.reduce((sum, i) => sum + (i.device.fileSize > 0 ? i.device.fileSize : info.totalDiskCapacityKB * 1024), 0), () => ctx.heartbeat());
        for (const { device, file } of items) {
          ctx.log("message", `Downloading: ${file}`);
          const target = path.join(dir, file);
          ex.written.push(target);
          const hash = newHash(settings);
          const size = await lease.download(device, target, ctx.signal, hash === undefined ? undefined : (chunk) => hash.update(chunk));
          ctx.heartbeat();
          if (hash !== undefined) manifest.push(manifestLine(settings, file, hash));
          ctx.log("message", `Exporting file: ${file}`);
          ovfFiles.push({ deviceId: device.key, path: file, size });
        }
        await lease.complete(ctx.signal);
      } catch (err) {
        await lease.abort();
        throw err;
      }

      const result = await client.call(
        "CreateDescriptor",
        ovfManager,
        { obj: vm.ref, cdp: { ovfFiles, name: settings.name, exportOption: settings.options.length > 0 ? [...settings.options] : undefined } },
        ctx.signal,
        "unable to create descriptor",
      );
      const errors = list(child(result, "error")).map((e) => text(child(e, "localizedMessage")));
      if (errors.length > 0) throw new BuildFailedError(`unable to create descriptor: ${errors.join("; ")}`);
      const descriptor = text(child(result, "ovfDescriptor"));
      const ovf = path.join(dir, `${settings.name}.ovf`);
      ctx.log("message", "Writing ovf...");
      ex.written.push(ovf);
      await writeFile(ovf, descriptor);
      if (settings.manifest === "none") return "continue";
      ctx.log("message", "Creating manifest...");
      const hash = newHash(settings) as Hash;
      hash.update(descriptor);
      manifest.push(manifestLine(settings, path.basename(ovf), hash));
      const mf = path.join(dir, `${settings.name}.mf`);
      ex.written.push(mf);
      await writeFile(mf, manifest.join(""));
      ctx.log("message", "Finished exporting...");
      return "continue";
    },
    async cleanup(state, outcome, ctx) {
      const ex = state.export;
      if (outcome === "ok" || ex === undefined) return;
      ctx.log("say", "Removing the partial export...");
      if (ex.createdDir) await rm(ex.dir, { recursive: true, force: true });
      else for (const f of ex.written) await rm(f, { force: true });
      state.export = undefined;
    },
  };
}

/** One manifest line, Packer's format: `SHA256(name-disk-0.vmdk)= <hex>`. */
function manifestLine(settings: VsphereExportSettings, file: string, hash: Hash): string {
  return `${settings.manifest.toUpperCase()}(${file})= ${hash.digest("hex")}\n`;
}
