/**
 * The docker builder, communicator and post-processors against a real, private dockerd (and a real local registry):
 * every build's container is gone afterwards and no dangling image is left, on success, failure and cancel.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, readFile, stat, writeFile, mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { list as listTar } from "tar";
import { ErrorCode, validatePluginConfig } from "../../core/src/mod.js";
import { DockerDaemon, DockerRegistry, IMAGE_USER, SshServer, TestFarm, deadPid, runPacker, until } from "../../test/src/mod.js";
import { containerOwner, ownedContainerName } from "../src/builders/docker.js";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, TempDirs } from "./job_harness.js";

const BASE = "kiln-base:1";
const dirs = new TempDirs();
let daemon: DockerDaemon;
let registry: DockerRegistry;
const savedEnv = {
  DOCKER_HOST: process.env.DOCKER_HOST,
  DOCKER_TLS_VERIFY: process.env.DOCKER_TLS_VERIFY,
  DOCKER_CERT_PATH: process.env.DOCKER_CERT_PATH,
  SSH_AUTH_SOCK: process.env.SSH_AUTH_SOCK,
};

function setEnv(env: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

beforeAll(async () => {
  [daemon, registry] = await Promise.all([DockerDaemon.start({ tls: true }), DockerRegistry.start()]);
  await daemon.importBusyboxImage(BASE);
  setEnv({ DOCKER_HOST: daemon.host, DOCKER_TLS_VERIFY: undefined, DOCKER_CERT_PATH: undefined });
}, 120_000);

afterAll(async () => {
  setEnv(savedEnv);
  await Promise.all([daemon?.stop(), registry?.stop()]);
}, 60_000);

afterEach(async () => {
  setEnv({ DOCKER_HOST: daemon.host, DOCKER_TLS_VERIFY: undefined, DOCKER_CERT_PATH: undefined, SSH_AUTH_SOCK: savedEnv.SSH_AUTH_SOCK });
  await dirs.cleanup();
  // Leave nothing behind: no build container, no dangling image, whatever the test did.
  expect(await daemon.leftovers()).toEqual({ containers: [], danglingImages: [] });
});

/** Runs a container from `image` to its end and returns its output (the container is removed). */
async function runImage(image: string, cmd?: string[]): Promise<string> {
  const container = await daemon.docker.createContainer({ Image: image, ...(cmd ? { Cmd: cmd } : {}), Tty: false });
  try {
    await container.start();
    await container.wait();
    const logs = await container.logs({ stdout: true, stderr: true });
    return logs.subarray(0).toString().replace(/[\x00-\x08]\x00\x00\x00[\s\S]{4}/g, "");
  } finally {
    await container.remove({ force: true });
  }
}

async function build(template: Record<string, unknown>, name = "d", options: { onLine?: (line: string, cancel: () => void) => void } = {}) {
  const dir = await dirs.make("kiln-docker-");
  const ctx = recordingContext(dir, { onLog: (l) => options.onLine?.(l.text, () => ctx.cancel()) });
  const outcome = await runJob(planTemplateJob(template, name), ctx);
  return { outcome, ctx, dir };
}

describe("docker builder config", () => {
  it("reports Packer's artifact-handling errors and refuses docker run flags it cannot map", () => {
    const r = validatePluginConfig("builder", "docker", { commit: true, discard: true, run_command: ["-d", "--gpus=all", "--", "{{.Image}}"] });
    expect(r.problems).toEqual([
      "Image must be specified",
      "Cannot specify more than one of commit, discard, and export_path",
      expect.stringMatching(/^run_command: the docker run flag --gpus is not supported by kiln/),
    ]);
    expect(validatePluginConfig("builder", "docker", { image: "x" }).problems).toEqual([
      "No instructions given for handling the artifact; expected commit, discard, or export_path",
    ]);
    expect(validatePluginConfig("builder", "docker", { image: "x", commit: true, changes: ["RUN make"] }).problems).toEqual([
      expect.stringMatching(/^changes: "RUN make" is not a Dockerfile instruction/),
    ]);
    const ok = validatePluginConfig("builder", "docker", { image: "x", discard: true });
    expect(ok.problems).toEqual([]);
    expect(ok.compiled).toMatchObject({ pull: true, fix_upload_owner: true, container_dir: "/packer-files", communicator: "docker" });
  });
});

describe("docker builder on a real engine", () => {
  it("provisions with shell and file provisioners, commits with changes, and the image runs what was provisioned", async () => {
    const src = await dirs.make("kiln-docker-src-");
    await mkdir(path.join(src, "tree", "sub"), { recursive: true });
    await writeFile(path.join(src, "tree", "a.txt"), "A\n");
    await writeFile(path.join(src, "tree", "sub", "b.txt"), "B\n");
    const template = {
      builders: [
        {
          type: "docker",
          name: "d",
          image: BASE,
          pull: false,
          commit: true,
          author: "kiln <kiln@example.com>",
          message: "built by kiln",
          changes: [
            "ENV GREETING=hello",
            "LABEL org.example.built-by=kiln",
            "WORKDIR /srv",
            'ENTRYPOINT ["/bin/sh", "-c"]',
            'CMD ["cat /srv/message.txt /srv/uploaded.txt /srv/tree/sub/b.txt"]',
            "EXPOSE 8080",
          ],
        },
      ],
      provisioners: [
        { type: "shell", inline: ["mkdir -p /srv", "echo provisioned by {{build_name}} in {{build `ConnType`}} > /srv/message.txt", "echo to-stderr >&2"] },
        { type: "file", content: "uploaded content", destination: "/srv/uploaded.txt" },
        { type: "file", source: path.join(src, "tree"), destination: "/srv" },
        { type: "file", direction: "download", source: "/srv/message.txt", destination: "downloaded.txt" },
      ],
    };
    const { outcome, ctx, dir } = await build(template);
    expect(outcome.failure?.message).toBeUndefined();
    expect(outcome.state).toBe("succeeded");
    expect(ctx.steps).toEqual(["run:start", "run:ok", "connect:start", "connect:ok", "provision:start", "provision:ok", "commit:start", "commit:ok"]);
    expect(ctx.lines()).toContain("to-stderr");
    expect(await readFile(path.join(dir, "downloaded.txt"), "utf8")).toBe("provisioned by d in docker\n");
    const [artifact] = outcome.artifacts;
    expect(artifact).toMatchObject({ builder_id: "packer.post-processor.docker-import", files: [] });
    expect(artifact?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(artifact?.description).toBe(`Imported Docker image: ${artifact?.id}`);

    const image = await daemon.docker.getImage(artifact?.id ?? "").inspect();
    expect(image.Author).toBe("kiln <kiln@example.com>");
    expect(image.Comment).toBe("built by kiln");
    expect(image.Config.Env).toContain("GREETING=hello");
    expect(image.Config.Labels).toEqual({ "org.example.built-by": "kiln" });
    expect(image.Config.WorkingDir).toBe("/srv");
    expect(image.Config.Entrypoint).toEqual(["/bin/sh", "-c"]);
    expect(image.Config.ExposedPorts).toEqual({ "8080/tcp": {} });
    expect(await runImage(artifact?.id ?? "")).toBe("provisioned by d in docker\nuploaded contentB\n");
    // container_dir exists in the image, as with Packer's bind mount.
    expect(await runImage(artifact?.id ?? "", ["test -d /packer-files && echo yes"])).toBe("yes\n");
    await daemon.docker.getImage(artifact?.id ?? "").remove();
  }, 120_000);

  it("runs commands as exec_user / the run_command user and gives uploads to the container's user", async () => {
    const template = {
      builders: [
        {
          type: "docker",
          name: "d",
          image: BASE,
          pull: false,
          discard: true,
          platform: "linux/amd64",
          tmpfs: ["/scratch:size=1m"],
          run_command: ["-dit", "-u", IMAGE_USER.name, "--env", "FROM_RUN=yes", "--hostname=kilnhost", "-w", "/home", "--entrypoint=/bin/sh", "--", "{{.Image}}"],
        },
      ],
      provisioners: [
        { type: "file", content: "x", destination: "/tmp/owned.txt" },
        { type: "shell", inline: ["echo uid=$(id -u) owner=$(stat -c %u /tmp/owned.txt) env=$FROM_RUN", "echo $(hostname) $(pwd) $(stat -f -c %T /scratch)"] },
      ],
    };
    const { outcome, ctx } = await build(template);
    expect(outcome.failure?.message).toBeUndefined();
    expect(ctx.lines()).toContain(`uid=${IMAGE_USER.uid} owner=${IMAGE_USER.uid} env=yes`);
    expect(ctx.lines()).toContain("kilnhost /home tmpfs");
    expect(ctx.lines()).toContain(`Run command: docker run --tmpfs /scratch:size=1m -dit -u ${IMAGE_USER.name} --env FROM_RUN=yes --hostname=kilnhost -w /home --entrypoint=/bin/sh -- ${BASE}`);
    expect(outcome.artifacts[0]).toMatchObject({ builder_id: "packer.docker", id: "Container", files: [] });

    const asRoot = await build({ ...template, builders: [{ ...template.builders[0], exec_user: "root", fix_upload_owner: false }] });
    expect(asRoot.outcome.failure?.message).toBeUndefined();
    expect(asRoot.ctx.lines()).toContain("uid=0 owner=0 env=yes");
  }, 120_000);

  it("exports the container's file system to export_path", async () => {
    const template = {
      builders: [{ type: "docker", name: "d", image: BASE, pull: false, export_path: "out/image.tar" }],
      provisioners: [{ type: "shell", inline: ["echo exported > /exported.txt"] }],
    };
    const dir = await dirs.make("kiln-docker-");
    await mkdir(path.join(dir, "out"));
    const ctx = recordingContext(dir);
    const outcome = await runJob(planTemplateJob(template, "d"), ctx);
    expect(outcome.failure?.message).toBeUndefined();
    expect(outcome.artifacts[0]).toMatchObject({ builder_id: "packer.docker", id: "Container", description: "Exported Docker file: out/image.tar" });
    const entries = new Map<string, string>();
    await listTar({
      file: path.join(dir, "out/image.tar"),
      onReadEntry: (e) => {
        const chunks: Buffer[] = [];
        e.on("data", (c: Buffer) => chunks.push(c));
        e.on("end", () => entries.set(e.path, Buffer.concat(chunks).toString()));
      },
    });
    expect(entries.get("exported.txt")).toBe("exported\n");
    expect(entries.has("bin/busybox")).toBe(true);
    expect(entries.has("packer-files/")).toBe(true);
  }, 120_000);

  it("imports an export and saves it: docker-import then docker-save, the export tar removed as Packer does", async () => {
    const template = {
      builders: [{ type: "docker", name: "d", image: BASE, pull: false, export_path: "image.tar" }],
      provisioners: [{ type: "shell", inline: ["echo imported > /imported.txt"] }],
      "post-processors": [
        [
          { type: "docker-import", repository: "kiln/imported", tag: "t1", changes: ["LABEL imported=yes"] },
          { type: "docker-save", path: "saved.tar" },
        ],
      ],
    };
    const { outcome, dir } = await build(template);
    expect(outcome.failure?.message).toBeUndefined();
    // docker-save hands on its input (kept), so Packer lists the imported image twice.
    expect(outcome.artifacts.map((a) => [a.builder_id, a.id])).toEqual([
      ["packer.post-processor.docker-import", "kiln/imported:t1"],
      ["packer.post-processor.docker-import", "kiln/imported:t1"],
    ]);
    await expect(stat(path.join(dir, "image.tar"))).rejects.toThrow(); // keep_input_artifact false: destroyed
    const names: string[] = [];
    await listTar({ file: path.join(dir, "saved.tar"), onReadEntry: (e) => names.push(e.path) });
    expect(names).toContain("manifest.json");
    const image = await daemon.docker.getImage("kiln/imported:t1").inspect();
    expect(image.Config.Labels).toEqual({ imported: "yes" });
    expect(await runImage("kiln/imported:t1", ["/bin/cat", "/imported.txt"])).toBe("imported\n");
    await daemon.docker.getImage("kiln/imported:t1").remove();
  }, 120_000);

  it("tags, pushes to a registry, and a later build pulls the image back", async () => {
    const repo = `${registry.address}/kiln/pushed`;
    const template = {
      builders: [{ type: "docker", name: "d", image: BASE, pull: false, commit: true }],
      provisioners: [{ type: "shell", inline: ["echo pushed and pulled > /msg.txt"] }],
      "post-processors": [[{ type: "docker-tag", repository: repo, tags: ["v1", "latest"], force: true }, { type: "docker-push" }]],
    };
    const { outcome, ctx } = await build(template);
    expect(outcome.failure?.message).toBeUndefined();
    expect(outcome.artifacts.map((a) => [a.builder_id, a.id])).toEqual([
      ["packer.post-processor.docker-import", expect.stringMatching(/^sha256:/)],
      ["packer.post-processor.docker-tag", `${repo}:latest`],
      ["packer.post-processor.docker-import", `${repo}:latest`],
    ]);
    expect(ctx.lines()).toContain(`Pushing: ${repo}:v1`);
    expect((await registry.tags("kiln/pushed")).sort()).toEqual(["latest", "v1"]);

    // Remove every local copy, then build from the registry (pull: true goes through the Engine API's pull).
    const imageId = outcome.artifacts[0]?.id ?? "";
    await daemon.docker.getImage(imageId).remove({ force: true });
    const pulled = await build({
      // login goes through the engine's auth check and the pull's credentials (this registry accepts anyone).
      builders: [
        { type: "docker", name: "p", image: `${repo}:v1`, discard: true, login: true, login_server: registry.address, login_username: "u", login_password: "p" },
      ],
      provisioners: [{ type: "shell", inline: ["cat /msg.txt"] }],
    }, "p");
    expect(pulled.outcome.failure?.message).toBeUndefined();
    expect(pulled.ctx.lines()).toContain("Logging in...");
    expect(pulled.ctx.lines()).toContain(`Pulling Docker image: ${repo}:v1`);
    expect(pulled.ctx.lines()).toContain("pushed and pulled");
    await daemon.docker.getImage(`${repo}:v1`).remove({ force: true });
  }, 120_000);

  it("a failing provisioner fails the build and leaves no container and no image", async () => {
    const before = (await daemon.docker.listImages({ all: true })).length;
    const { outcome, ctx } = await build({
      builders: [{ type: "docker", name: "d", image: BASE, pull: false, commit: true }],
      provisioners: [{ type: "shell", inline: ["echo about to fail", "exit 3"] }],
    });
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.code).toBe(ErrorCode.BuildFailed);
    expect(outcome.failure?.message).toMatch(/non-zero exit status: 3/);
    expect(ctx.steps).toContain("provision:halted");
    expect(ctx.steps).not.toContain("commit:start");
    expect((await daemon.docker.listImages({ all: true })).length).toBe(before);
  }, 120_000);

  it("a cancel mid-provisioning stops the build and leaves no container and no image", async () => {
    const before = (await daemon.docker.listImages({ all: true })).length;
    const started = Date.now();
    const { outcome } = await build(
      {
        builders: [{ type: "docker", name: "d", image: BASE, pull: false, commit: true }],
        provisioners: [{ type: "shell", inline: ["echo sleeping now", "sleep 60"] }],
      },
      "d",
      { onLine: (line, cancel) => line === "sleeping now" && cancel() },
    );
    expect(outcome.state).toBe("cancelled");
    expect(outcome.failure?.code).toBe(ErrorCode.Cancelled);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect((await daemon.docker.listImages({ all: true })).length).toBe(before);
  }, 120_000);

  it("names its container after the agent process; at start an agent force-removes only a dead owner's containers", async () => {
    // A real build's container carries this process's owner token in its name.
    let containerId = "";
    let seen: Promise<string> | undefined;
    const { outcome } = await build(
      { builders: [{ type: "docker", name: "d", image: BASE, pull: false, discard: true }], provisioners: [{ type: "shell", inline: ["echo ready", "sleep 1"] }] },
      "d",
      {
        onLine: (line) => {
          if (line.startsWith("Container ID: ")) containerId = line.slice("Container ID: ".length);
          if (line === "ready") seen = daemon.docker.getContainer(containerId).inspect().then((i) => i.Name);
        },
      },
    );
    expect(outcome.state).toBe("succeeded");
    const buildName = await seen;
    expect(buildName).toMatch(new RegExp(`^/kiln_${hostname().replace(/\./g, "\\.")}_${process.pid}_[0-9a-f]{8}$`));
    expect(containerOwner(buildName ?? "")).toBe(`${hostname()}/${process.pid}`);

    // Leftovers: a running container of a dead agent process on this host (removed), one of this live process, one of
    // a dead pid on another host, and one kiln did not name (all kept).
    const dead = await deadPid();
    const make = async (name: string | undefined): Promise<string> => {
      const c = await daemon.docker.createContainer({ ...(name !== undefined ? { name } : {}), Image: BASE, Cmd: ["sleep", "60"] });
      await c.start();
      return c.id;
    };
    const orphan = await make(`kiln_${hostname()}_${dead}_0badc0de`);
    const kept = [await make(ownedContainerName()), await make(`kiln_another-host_${dead}_0badc0de`), await make(undefined)];
    // An agent offering the docker builder starts (on a real farm) and reaps before it takes jobs.
    const farm = await TestFarm.start();
    try {
      await farm.addAgent({ name: "reaper", builderTypes: ["docker"] });
      const left = (await daemon.docker.listContainers({ all: true })).map((c) => c.Id);
      expect(left.sort()).toEqual([...kept].sort());
      expect(farm.logs.filter((l) => l.includes(" docker: "))).toEqual([
        `agent reaper: docker: removed container /kiln_${hostname()}_${dead}_0badc0de left on ${daemon.host} by agent process ${hostname()}/${dead}`,
      ]);
    } finally {
      await farm.stop();
      await Promise.all([orphan, ...kept].map((id) => daemon.docker.getContainer(id).remove({ force: true }).catch(() => undefined)));
    }
  }, 120_000);

  it("drives a remote engine over TCP with TLS (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)", async () => {
    const tls = daemon.tls;
    if (tls === undefined) throw new Error("the test daemon was started without TLS");
    setEnv({ DOCKER_HOST: tls.host, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: tls.certPath });
    const { outcome, ctx } = await build({
      builders: [{ type: "docker", name: "d", image: BASE, pull: false, discard: true }],
      provisioners: [
        { type: "file", content: "over tls", destination: "/tmp/tls.txt" },
        { type: "shell", inline: ["cat /tmp/tls.txt"] },
      ],
    });
    expect(outcome.failure?.message).toBeUndefined();
    expect(ctx.lines()).toContain("over tls");
    // Without the client certificate the engine refuses the connection.
    setEnv({ DOCKER_TLS_VERIFY: undefined, DOCKER_CERT_PATH: undefined });
    const refused = await build({ builders: [{ type: "docker", name: "d", image: BASE, pull: false, discard: true }] });
    expect(refused.outcome.state).toBe("failed");
  }, 120_000);

  it("drives a remote engine over SSH (DOCKER_HOST=ssh://, keys from the ssh-agent, dial-stdio on the remote)", async () => {
    // The "remote" is this host's sshd, as the test user, whose docker CLI (docker.io) dials the private engine.
    await chmod(daemon.dir, 0o711);
    await chmod(daemon.socketPath, 0o666);
    const server = await SshServer.start({ extraConfig: [`SetEnv DOCKER_HOST=${daemon.host}`] });
    const dir = await dirs.make("kiln-docker-ssh-");
    const agentSocket = path.join(dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", agentSocket], { stdio: "ignore" });
    try {
      await until(async () => (existsSync(agentSocket) ? true : undefined), "the ssh-agent socket", 10_000);
      await new Promise<void>((resolve, reject) =>
        spawn("ssh-add", [server.clientKeyFile], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket }, stdio: "ignore" }).once("exit", (code) =>
          code === 0 ? resolve() : reject(new Error(`ssh-add exited ${code}`)),
        ),
      );
      setEnv({ DOCKER_HOST: `ssh://${server.username}@${server.host}:${server.port}`, SSH_AUTH_SOCK: agentSocket });
      const { outcome, ctx } = await build({
        builders: [{ type: "docker", name: "d", image: BASE, pull: false, discard: true }],
        provisioners: [
          { type: "file", content: "over ssh", destination: "/tmp/ssh.txt" },
          { type: "shell", inline: ["cat /tmp/ssh.txt"] },
        ],
      });
      expect(outcome.failure?.message).toBeUndefined();
      expect(ctx.lines()).toContain("over ssh");
    } finally {
      agent.kill();
      await server.stop();
      await chmod(daemon.socketPath, 0o660).catch(() => undefined);
    }
  }, 120_000);

  it("fails with UNAVAILABLE naming the package when no engine answers", async () => {
    setEnv({ DOCKER_HOST: `unix://${path.join(daemon.dir, "nothing.sock")}` });
    const { outcome } = await build({ builders: [{ type: "docker", name: "d", image: BASE, pull: false, discard: true }] });
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.code).toBe(ErrorCode.Unavailable);
    expect(outcome.failure?.message).toMatch(/docker\.io/);
  }, 60_000);
});

describe("docker builder: kiln vs packer 1.6.6", () => {
  it("commits an image with the same config and content as packer build (docker CLI) does", async () => {
    const template = {
      builders: [
        {
          type: "docker",
          name: "d",
          image: BASE,
          pull: false,
          commit: true,
          author: "kiln <kiln@example.com>",
          message: "differential",
          changes: [
            "ENV GREETING=hello",
            "LABEL org.example.built-by=someone",
            "WORKDIR /srv",
            'ENTRYPOINT ["/bin/sh", "-c"]',
            'CMD ["cat /srv/message.txt /srv/file.txt"]',
            "EXPOSE 8080/udp",
            "USER builder",
            "VOLUME /data",
            "ONBUILD RUN echo child",
          ],
        },
      ],
      provisioners: [
        { type: "shell", inline: ["mkdir -p /srv", "echo provisioned by $PACKER_BUILD_NAME > /srv/message.txt"] },
        { type: "file", source: "file.txt", destination: "/srv/file.txt" },
      ],
    };
    const packerDir = await dirs.make("kiln-docker-packer-");
    await writeFile(path.join(packerDir, "file.txt"), "from a file\n");
    await writeFile(path.join(packerDir, "template.json"), JSON.stringify(template));
    const packer = await runPacker(["build", "-color=false", "template.json"], { cwd: packerDir, env: { DOCKER_HOST: daemon.host }, timeoutMs: 90_000 });
    const packerId = /Imported Docker image: (sha256:[0-9a-f]{64})/.exec(packer.stdout)?.[1];
    expect(packerId, packer.stdout + packer.stderr).toBeDefined();

    const dir = await dirs.make("kiln-docker-");
    await writeFile(path.join(dir, "file.txt"), "from a file\n");
    const ctx = recordingContext(dir);
    const outcome = await runJob(planTemplateJob(template, "d"), ctx);
    expect(outcome.failure?.message).toBeUndefined();
    const kilnId = outcome.artifacts[0]?.id ?? "";

    try {
      const [p, k] = await Promise.all([daemon.docker.getImage(packerId ?? "").inspect(), daemon.docker.getImage(kilnId).inspect()]);
      const view = (i: typeof p) => ({
        Author: i.Author,
        Comment: i.Comment,
        Entrypoint: i.Config.Entrypoint,
        Cmd: i.Config.Cmd,
        Env: i.Config.Env,
        Labels: i.Config.Labels,
        WorkingDir: i.Config.WorkingDir,
        User: i.Config.User,
        ExposedPorts: i.Config.ExposedPorts,
        Volumes: i.Config.Volumes,
        OnBuild: i.Config.OnBuild,
        Tty: i.Config.Tty,
        OpenStdin: i.Config.OpenStdin,
        StdinOnce: i.Config.StdinOnce,
        AttachStdin: i.Config.AttachStdin,
        AttachStdout: i.Config.AttachStdout,
        AttachStderr: i.Config.AttachStderr,
      });
      expect(view(k)).toEqual(view(p));
      expect(view(k).User).toBe("builder");
      const [packerOut, kilnOut] = [await runImage(packerId ?? ""), await runImage(kilnId)];
      expect(kilnOut).toBe(packerOut);
      expect(kilnOut).toBe("provisioned by d\nfrom a file\n");
      // The same files, modes and owners (mtimes differ).
      const listing = "cd / && find srv packer-files | sort | xargs stat -c '%n %a %u %g %s'";
      expect(await runImage(kilnId, [listing])).toBe(await runImage(packerId ?? "", [listing]));
    } finally {
      await Promise.all([packerId ?? "", kilnId].map((id) => daemon.docker.getImage(id).remove().catch(() => undefined)));
    }
  }, 180_000);
});
