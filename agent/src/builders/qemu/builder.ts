/**
 * The `qemu` builder (Packer's builder/qemu): boots an ISO or a disk image in QEMU on this agent (KVM when a probe
 * proves it works, TCG otherwise), types `boot_command` over QMP, provisions over SSH through a forwarded host port,
 * shuts down, and reports `output_directory` with the disk image(s) as the artifact (builder id `transcend.qemu`).
 * The steps are in ./steps.ts.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { QEMU_BUILDER_ID, qemuBuilderSchema, type QemuBuilderConfig } from "../../../../core/src/mod.js";
import type { LocalArtifact } from "../../artifact.js";
import { runPipeline } from "../../pipeline/mod.js";
import { prepareWithSchema, type BuilderContext, type BuilderDefinition } from "../../plugin_api.js";
import { outputDirStep } from "../../steps/output_dir.js";
import { provisionStep } from "../../steps/provision.js";
import { httpAddr, httpServerStep } from "../../vm/http_server.js";
import { reapOrphanedQemu } from "../../vm/reap.js";
import {
  USER_NET_HOST_IP,
  bootCommandStep,
  cdStep,
  connectStep,
  convertDiskStep,
  createDiskStep,
  downloadStep,
  listFiles,
  outputDir,
  runDirStep,
  runVmStep,
  shutdownStep,
  type QemuRunInfo,
  type QemuState,
} from "./steps.js";

/** Packer's provision hook data for a qemu build. */
function hookData(c: QemuBuilderConfig, state: QemuState): Readonly<Record<string, string>> {
  const http = state.httpServer;
  const ip = http !== undefined ? USER_NET_HOST_IP : "";
  const port = http !== undefined ? String(http.port) : "";
  const data: Record<string, string> = {
    PackerHTTPAddr: http !== undefined ? httpAddr(ip, http.port) : "",
    PackerHTTPIP: ip,
    PackerHTTPPort: port,
  };
  if (c.communicator === "ssh") {
    Object.assign(data, {
      ConnType: "ssh",
      Host: (c.ssh_host ?? "") !== "" ? (c.ssh_host as string) : "127.0.0.1",
      Port: String((c.ssh_host ?? "") !== "" ? c.ssh_port : (state.hostPort?.port ?? c.ssh_port)),
      User: c.ssh_username ?? "",
      Password: c.ssh_password ?? "",
      SSHPublicKey: "",
      SSHPrivateKey: "",
      WinRMPassword: "",
    });
  }
  return data;
}

/** The artifact: every file under the output directory, Packer's `Id()` "VM". */
async function artifact(c: QemuBuilderConfig, state: QemuState, workDir: string): Promise<LocalArtifact> {
  const dir = state.outputDir as string;
  const relative = !path.isAbsolute(c.output_directory ?? "");
  const files = (await listFiles(dir)).map((f) => (relative ? path.relative(workDir, f) : f));
  return {
    builderId: QEMU_BUILDER_ID,
    id: "VM",
    description: `VM files in directory: ${relative ? path.relative(workDir, dir) : dir}`,
    files,
    state: { diskType: c.format, diskPaths: state.diskPaths.join(",") },
    generatedData: {},
    destroy: async () => {
      const { rm } = await import("node:fs/promises");
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** True when a binary is on PATH (detect() must be cheap and synchronous). */
function onPath(binary: string): boolean {
  if (binary.includes("/")) return existsSync(binary);
  try {
    execFileSync("sh", ["-c", `command -v ${binary}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export const qemuBuilder: BuilderDefinition = {
  kind: "builder",
  type: "qemu",
  schema: qemuBuilderSchema,
  detect: () => onPath("qemu-system-x86_64") && onPath("qemu-img"),
  // QEMU processes and run directories of a previous agent process that crashed (vm/reap.ts).
  reapLeftovers: async (log) => {
    await reapOrphanedQemu(log);
  },
  prepare: (config, pctx) =>
    prepareWithSchema(qemuBuilderSchema, config, async (c) => {
      const problems: string[] = [];
      const key = c.ssh_private_key_file ?? "";
      if (c.communicator === "ssh" && key !== "" && !existsSync(path.resolve(pctx.workDir, key))) {
        problems.push(`ssh_private_key_file is invalid: stat ${key}: no such file or directory`);
      }
      const dir = c.http_directory ?? "";
      if (dir !== "" && !existsSync(path.resolve(pctx.workDir, dir))) problems.push(`http_directory ${dir} does not exist`);
      if ((c.firmware ?? "") !== "" && !existsSync(path.resolve(pctx.workDir, c.firmware as string))) problems.push(`firmware ${c.firmware ?? ""} does not exist`);
      return {
        problems,
        instance: {
          async run(ctx: BuilderContext) {
            const info: QemuRunInfo = { workDir: ctx.workDir, buildName: ctx.build.name, force: ctx.build.force === true, render: (t, d) => ctx.render(t, d) };
            const state: QemuState = { diskPaths: [] };
            const content = c.http_content ?? {};
            const steps = [
              outputDirStep(outputDir(c, info), info.force),
              downloadStep(c, info),
              runDirStep(),
              cdStep(c, info),
              createDiskStep(c, info),
              httpServerStep<QemuState>({
                directory: dir !== "" ? path.resolve(ctx.workDir, dir) : undefined,
                content: Object.keys(content).length > 0 ? content : undefined,
                portMin: c.http_port_min,
                portMax: c.http_port_max,
                bindAddress: (c.http_bind_address ?? "") !== "" ? c.http_bind_address : undefined,
              }),
              runVmStep(c, info),
              bootCommandStep(c, info),
              connectStep(c, info),
              provisionStep<QemuState>(ctx.hook, { hookData: () => hookData(c, state), communicator: () => state.communicator }),
              shutdownStep(c),
              convertDiskStep(c),
            ];
            const result = await runPipeline(steps, state, ctx, { onError: ctx.onError });
            if (result.error) throw result.error;
            return artifact(c, state, ctx.workDir);
          },
        },
      };
    }),
};
