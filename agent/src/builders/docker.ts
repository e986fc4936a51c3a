/**
 * The `docker` builder (Packer's builder/docker) on the Docker Engine API:
 *
 * ```
 *   pull (pull: true) ─▶ run container ─▶ connect (docker communicator) ─▶ provision ─▶ commit | export | (discard)
 *                          cleanup: remove the container (forced), whatever happened
 *                                                                          commit cleanup: remove the image unless ok
 * ```
 *
 * The container is created from `run_command` (docker-run flags mapped onto the create request) plus the builder's
 * `volumes`, `privileged`, `cap_add`, `cap_drop`, `device` and `tmpfs`. Creating and committing do not race the
 * cancel signal: the call completes and the cleanups then remove what it made, so a cancel never leaks a container
 * or an image.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type Docker from "dockerode";
import { Header } from "tar";
import {
  BuildFailedError,
  DOCKER_BUILDER_ID,
  DOCKER_IMPORT_BUILDER_ID,
  addTmpfs,
  dockerBuilderSchema,
  parseDevice,
  parseRunCommand,
  type DockerBuilderConfig,
  type DockerRunSpec,
} from "../../../core/src/mod.js";
import type { LocalArtifact } from "../artifact.js";
import { DockerCommunicator } from "../communicators/docker.js";
import { registryLogin } from "../docker/ecr.js";
import { connectEngine, engineConfigured, engineError, engineStatus, followProgress, type Engine } from "../docker/engine.js";
import { runPipeline, type PipelineState, type Step } from "../pipeline/mod.js";
import { prepareWithSchema, type BuilderContext, type BuilderDefinition } from "../plugin_api.js";
import { provisionStep } from "../steps/provision.js";
import { cancellationOf } from "../util/abort.js";
import { isOrphaned, ownerToken } from "../util/owner.js";
import { nullHookData } from "./null.js";

/** The docker builder's pipeline state. */
export interface DockerBuilderState extends PipelineState {
  engine?: Engine;
  containerId?: string;
  communicator?: DockerCommunicator;
  imageId?: string;
}

/** Packer's ImportArtifact: an image in the engine; destroying it removes the image (`docker rmi`). */
export function dockerImageArtifact(engine: Engine, builderId: string, id: string, extra: Partial<LocalArtifact> = {}): LocalArtifact {
  return {
    builderId,
    id,
    description: `Imported Docker image: ${id}`,
    files: [],
    ...extra,
    async destroy() {
      try {
        await engine.docker.getImage(id).remove();
      } catch (err) {
        throw engineError(engine, "Error deleting image", err);
      }
    },
  };
}

/** The create request for the build container: `run_command` (rendered) plus the builder's own options. */
export function containerCreateOptions(config: DockerBuilderConfig, spec: DockerRunSpec): { query: Record<string, string>; body: Docker.ContainerCreateOptions } {
  const binds = [...Object.entries(config.volumes ?? {}).map(([host, guest]) => `${host}:${guest}`), ...spec.binds];
  const devices = [...(config.device ?? []).map(parseDevice), ...spec.devices].filter((d): d is DockerRunSpec["devices"][number] => typeof d !== "string");
  const tmpfs: Record<string, string> = {};
  for (const t of config.tmpfs ?? []) addTmpfs(tmpfs, t);
  Object.assign(tmpfs, spec.tmpfs);
  const platform = spec.platform ?? config.platform;
  const query: Record<string, string> = {};
  if (spec.name !== undefined) query.name = spec.name;
  if (platform !== undefined && platform !== "") query.platform = platform;
  const body: Docker.ContainerCreateOptions = {
    Image: spec.image,
    ...(spec.cmd !== undefined ? { Cmd: spec.cmd } : {}),
    ...(spec.entrypoint !== undefined ? { Entrypoint: spec.entrypoint } : {}),
    Tty: spec.tty,
    OpenStdin: spec.openStdin,
    StdinOnce: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Env: spec.env,
    ...(spec.user !== undefined ? { User: spec.user } : {}),
    ...(spec.workingDir !== undefined ? { WorkingDir: spec.workingDir } : {}),
    ...(spec.hostname !== undefined ? { Hostname: spec.hostname } : {}),
    Labels: spec.labels,
    ...(spec.volumes.length > 0 ? { Volumes: Object.fromEntries(spec.volumes.map((v) => [v, {}])) } : {}),
    HostConfig: {
      Binds: binds,
      Privileged: config.privileged === true || spec.privileged,
      CapAdd: [...(config.cap_add ?? []), ...spec.capAdd],
      CapDrop: [...(config.cap_drop ?? []), ...spec.capDrop],
      Devices: devices,
      Tmpfs: tmpfs,
      ...(spec.networkMode !== undefined ? { NetworkMode: spec.networkMode } : {}),
      ...(spec.memoryBytes !== undefined ? { Memory: spec.memoryBytes } : {}),
      ...(spec.shmSizeBytes !== undefined ? { ShmSize: spec.shmSizeBytes } : {}),
      SecurityOpt: spec.securityOpt,
      ExtraHosts: spec.extraHosts,
      Dns: spec.dns,
      ...(spec.init !== undefined ? { Init: spec.init } : {}),
      ReadonlyRootfs: spec.readOnly,
    },
  };
  return { query, body };
}

/** The `docker run ...` line Packer prints, for the same container. */
function runCommandLine(config: DockerBuilderConfig, args: readonly string[]): string {
  const parts = ["run"];
  for (const d of config.device ?? []) parts.push("--device", d);
  for (const c of config.cap_add ?? []) parts.push("--cap-add", c);
  for (const c of config.cap_drop ?? []) parts.push("--cap-drop", c);
  if (config.privileged === true) parts.push("--privileged");
  for (const t of config.tmpfs ?? []) parts.push("--tmpfs", t);
  for (const [host, guest] of Object.entries(config.volumes ?? {})) parts.push("-v", `${host}:${guest}`);
  return `docker ${[...parts, ...args].join(" ")}`;
}

/** Packer's StepPull, with `login` / `ecr_login` done through the engine's auth check and the pull's credentials. */
function pullStep(config: DockerBuilderConfig): Step<DockerBuilderState> {
  return {
    name: "pull",
    async run(ctx, state) {
      const engine = state.engine as Engine;
      const image = config.image ?? "";
      ctx.log("say", `Pulling Docker image: ${image}`);
      const auth = await registryLogin(config, (m) => ctx.log("message", m), ctx.signal);
      if (auth !== undefined) {
        ctx.log("message", "Logging in...");
        try {
          await engine.docker.checkAuth(auth);
        } catch (err) {
          throw engineError(engine, "Error logging in", err, ctx.signal);
        }
      }
      try {
        const opts: Record<string, unknown> = { abortSignal: ctx.signal };
        if (config.platform !== undefined && config.platform !== "") opts.platform = config.platform;
        if (auth !== undefined) opts.authconfig = auth;
        const stream = (await engine.docker.pull(image, opts)) as Readable;
        await followProgress(stream, ctx.signal, (m) => {
          if (m.status !== undefined && m.progress === undefined) ctx.log("message", m.id !== undefined ? `${m.id}: ${m.status}` : m.status);
        });
      } catch (err) {
        if (ctx.signal.aborted) throw cancellationOf(ctx.signal);
        throw engineError(engine, "Error pulling Docker image", err);
      }
      return "continue";
    },
  };
}

/**
 * The name kiln gives a build container whose run_command chooses none: `kiln_<host>_<agent pid>_<random>`, the
 * owner token (util/owner.ts) of the agent process, so an agent restarted after a crash can find what its predecessor
 * left. A name rather than a label: `docker commit` copies a container's labels into the image, and the artifact must
 * be the image Packer makes. A container named by run_command's `--name`, or made on a host whose name is no valid
 * container name part (undefined here), carries no owner and is never reaped.
 */
export function ownedContainerName(): string | undefined {
  const token = ownerToken();
  const slash = token.lastIndexOf("/");
  const host = token.slice(0, slash);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9.-]*$/.test(host)) return undefined;
  return `kiln_${host}_${token.slice(slash + 1)}_${randomBytes(4).toString("hex")}`;
}

/** The owner token in a container name from ownedContainerName, or undefined for another name. */
export function containerOwner(name: string): string | undefined {
  const m = /^\/?kiln_(.+)_(\d+)_[0-9a-f]{8}$/.exec(name);
  return m === null ? undefined : `${m[1] ?? ""}/${m[2] ?? ""}`;
}

/** Force-removes the build containers a crashed agent process on this host left on the engine; returns their ids. */
export async function reapDockerLeftovers(engine: Engine, log: (line: string) => void): Promise<string[]> {
  let containers: Docker.ContainerInfo[];
  try {
    containers = await engine.docker.listContainers({ all: true, filters: { name: ["kiln_"] } });
  } catch (err) {
    throw engineError(engine, "Error listing containers", err);
  }
  const removed: string[] = [];
  for (const c of containers) {
    const name = c.Names.find((n) => containerOwner(n) !== undefined);
    const owner = name === undefined ? undefined : containerOwner(name);
    if (owner === undefined || !isOrphaned(owner)) continue;
    try {
      await engine.docker.getContainer(c.Id).remove({ force: true, v: true });
      removed.push(c.Id);
      log(`removed container ${name ?? c.Id} left on ${engine.address} by agent process ${owner}`);
    } catch (err) {
      if (engineStatus(err) !== 404) log(engineError(engine, `Error removing container ${name ?? c.Id} left by agent process ${owner}`, err).message);
    }
  }
  return removed;
}

/** Packer's StepRun: creates and starts the container; cleanup force-removes it (and its anonymous volumes). */
function runStep(config: DockerBuilderConfig, ctxRender: BuilderContext["render"]): Step<DockerBuilderState> {
  return {
    name: "run",
    async run(ctx, state) {
      const engine = state.engine as Engine;
      ctx.log("say", "Starting docker container...");
      const args = config.run_command.map((a) => ctxRender(a, { Image: config.image ?? "" }));
      const parsed = parseRunCommand(args);
      if (parsed.spec === undefined) throw new BuildFailedError(`Error running container: ${parsed.problems.join("; ")}`);
      ctx.log("message", `Run command: ${runCommandLine(config, args)}`);
      const options = containerCreateOptions(config, parsed.spec);
      const owned = options.query.name === undefined ? ownedContainerName() : undefined;
      if (owned !== undefined) options.query.name = owned;
      try {
        // Not raced against the signal: a create the engine completes must be known so cleanup can remove it.
        // Explicit query and body: dockerode would otherwise also send the whole body as query parameters.
        const container = await engine.docker.createContainer({ _query: options.query, _body: options.body } as unknown as Docker.ContainerCreateOptions);
        state.containerId = container.id;
        const dir = config.container_dir.replace(/^\/+|\/+$/g, "");
        if (dir !== "" && !/^[a-zA-Z]:/.test(dir)) {
          // Packer bind-mounts a host temp dir here; kiln transfers files through the archive API, so the
          // directory only needs to exist (it then appears in the image as in Packer's).
          const header = Buffer.alloc(512);
          new Header({ path: `${dir}/`, mode: 0o755, type: "Directory", uid: 0, gid: 0, size: 0, mtime: new Date() }).encode(header, 0);
          await container.putArchive(Buffer.concat([header, Buffer.alloc(1024)]), { path: "/" });
        }
        if (ctx.signal.aborted) throw cancellationOf(ctx.signal);
        await container.start();
      } catch (err) {
        if (ctx.signal.aborted) throw cancellationOf(ctx.signal);
        throw engineError(engine, "Error running container", err);
      }
      ctx.log("message", `Container ID: ${state.containerId}`);
      return "continue";
    },
    async cleanup(state, _outcome, ctx) {
      const id = state.containerId;
      if (id === undefined || state.engine === undefined) return;
      ctx.log("say", `Killing the container: ${id}`);
      try {
        await state.engine.docker.getContainer(id).remove({ force: true, v: true });
      } catch (err) {
        if (engineStatus(err) !== 404) ctx.log("error", engineError(state.engine, `Error removing container ${id}`, err).message);
      }
      state.containerId = undefined;
    },
  };
}

/** Packer's StepConnectDocker: the communicator, with the container's user for fix_upload_owner. */
function connectStep(config: DockerBuilderConfig): Step<DockerBuilderState> {
  return {
    name: "connect",
    async run(ctx, state) {
      if (config.communicator === "none") return "continue";
      const engine = state.engine as Engine;
      const id = state.containerId as string;
      let user = "";
      let ip = "";
      try {
        const info = await engine.docker.getContainer(id).inspect({ abortSignal: ctx.signal } as Record<string, unknown>);
        user = info.Config.User ?? "";
        // The first network's address (empty with no network), as `docker inspect` shows it.
        ip = Object.values(info.NetworkSettings.Networks ?? {})[0]?.IPAddress ?? "";
      } catch (err) {
        throw engineError(engine, `Error inspecting container ${id}`, err, ctx.signal);
      }
      ctx.log("say", `Using docker communicator to connect: ${ip}`);
      state.communicator = new DockerCommunicator(engine, id, {
        execUser: config.exec_user,
        fixUploadOwner: config.fix_upload_owner,
        containerUser: user,
        pty: config.pty,
      });
      return "continue";
    },
    async cleanup(state) {
      state.communicator = undefined;
    },
  };
}

/** Packer's StepCommit; cleanup removes the image when the build did not succeed (no dangling image). */
function commitStep(config: DockerBuilderConfig): Step<DockerBuilderState> {
  return {
    name: "commit",
    async run(ctx, state) {
      const engine = state.engine as Engine;
      ctx.log("say", "Committing the container");
      try {
        // Not raced against the signal, for the same reason as the create.
        const query = {
          container: state.containerId as string,
          ...(config.author ? { author: config.author } : {}),
          ...(config.message ? { comment: config.message } : {}),
          ...((config.changes ?? []).length > 0 ? { changes: [...(config.changes ?? [])] } : {}),
          pause: true,
        };
        const result = (await engine.docker.getContainer(state.containerId as string).commit({ _query: query, _body: {} })) as { Id?: string };
        state.imageId = result.Id ?? "";
      } catch (err) {
        throw engineError(engine, "Error committing container", err);
      }
      ctx.log("message", `Image ID: ${state.imageId}`);
      return "continue";
    },
    async cleanup(state, outcome, ctx) {
      if (outcome === "ok" || state.imageId === undefined || state.engine === undefined) return;
      try {
        await state.engine.docker.getImage(state.imageId).remove({ force: true });
      } catch (err) {
        if (engineStatus(err) !== 404) ctx.log("error", engineError(state.engine, `Error removing image ${state.imageId}`, err).message);
      }
      state.imageId = undefined;
    },
  };
}

/** Packer's StepExport: `docker export` into export_path; a failed or cancelled export leaves no partial file. */
function exportStep(config: DockerBuilderConfig, workDir: string): Step<DockerBuilderState> {
  return {
    name: "export",
    async run(ctx, state) {
      const engine = state.engine as Engine;
      const target = path.resolve(workDir, config.export_path ?? "");
      ctx.log("say", "Exporting the container");
      try {
        const stream = (await engine.docker.getContainer(state.containerId as string).export({ abortSignal: ctx.signal } as Record<string, unknown>)) as Readable;
        await pipeline(stream, createWriteStream(target), { signal: ctx.signal });
      } catch (err) {
        await rm(target, { force: true });
        if (ctx.signal.aborted) throw cancellationOf(ctx.signal);
        throw engineError(engine, "Error exporting", err);
      }
      return "continue";
    },
    async cleanup(_state, outcome) {
      if (outcome !== "ok") await rm(path.resolve(workDir, config.export_path ?? ""), { force: true });
    },
  };
}

/** The hook data Packer 1.6.6 gives provisioners of a docker build. */
function dockerHookData(runUuid: string, containerId: string): Readonly<Record<string, string>> {
  return {
    ...nullHookData(runUuid),
    ID: containerId,
    ConnType: "docker",
    Host: "",
    Port: "0",
    User: "",
    Password: "",
    SSHPublicKey: "",
    SSHPrivateKey: "",
    WinRMPassword: "",
  };
}

/** Packer's export_path check, done where the file system is. */
async function checkExportPath(config: DockerBuilderConfig, workDir: string): Promise<string[]> {
  const p = config.export_path ?? "";
  if (p === "") return [];
  try {
    return (await stat(path.resolve(workDir, p))).isDirectory() ? ["export_path must be a file, not a directory"] : [];
  } catch {
    return []; // a missing file is what export creates
  }
}

export const dockerBuilder: BuilderDefinition = {
  kind: "builder",
  type: "docker",
  schema: dockerBuilderSchema,
  detect: () => engineConfigured(),
  reapLeftovers: async (log) => {
    if (engineConfigured()) await reapDockerLeftovers(connectEngine(), log);
  },
  prepare: (config, pctx) =>
    prepareWithSchema(dockerBuilderSchema, config, async (compiled) => ({
      problems: await checkExportPath(compiled, pctx.workDir),
      instance: {
        async run(ctx: BuilderContext) {
          const state: DockerBuilderState = { engine: connectEngine() };
          const steps: Step<DockerBuilderState>[] = [];
          if (compiled.pull) steps.push(pullStep(compiled));
          steps.push(
            runStep(compiled, (text, data) => ctx.render(text, data)),
            connectStep(compiled),
            provisionStep<DockerBuilderState>(ctx.hook, {
              hookData: () => dockerHookData(ctx.build.runUuid, state.containerId ?? ""),
              communicator: () => state.communicator,
            }),
          );
          if (compiled.commit === true) steps.push(commitStep(compiled));
          else if ((compiled.export_path ?? "") !== "") steps.push(exportStep(compiled, ctx.workDir));
          const result = await runPipeline(steps, state, ctx, { onError: ctx.onError });
          if (result.error) throw result.error;
          const engine = state.engine as Engine;
          if (compiled.commit === true) {
            const id = state.imageId ?? "";
            return dockerImageArtifact(engine, DOCKER_IMPORT_BUILDER_ID, id, { generatedData: { ImageSha256: id.replace(/^sha256:/, "") } });
          }
          const exportPath = compiled.export_path ?? "";
          return {
            builderId: DOCKER_BUILDER_ID,
            id: "Container",
            description: `Exported Docker file: ${exportPath}`,
            files: exportPath === "" ? [] : [exportPath],
            async destroy() {
              if (exportPath !== "") await rm(path.resolve(ctx.workDir, exportPath), { force: true });
            },
          };
        },
      },
    })),
};
