/** `run_command` (docker run arguments) parsed into the Engine API's create request, and refused flags. */
import { describe, expect, it } from "vitest";
import { DOCKER_DEFAULT_RUN_COMMAND, parseRunCommand, validatePluginConfig } from "../src/mod.js";

describe("docker run_command parsing", () => {
  it("maps Packer's default run_command", () => {
    const { spec, problems } = parseRunCommand(DOCKER_DEFAULT_RUN_COMMAND.map((a) => a.replace("{{.Image}}", "debian:12")));
    expect(problems).toEqual([]);
    expect(spec).toMatchObject({ image: "debian:12", detach: true, openStdin: true, tty: true, entrypoint: ["/bin/sh"] });
    expect(spec?.cmd).toBeUndefined();
  });

  it("understands --flag=value, --flag value, -fVALUE, clustered short flags, and the command after the image", () => {
    const { spec, problems } = parseRunCommand([
      "-dit",
      "-eA=1",
      "--env",
      "B=2",
      "-u",
      "1000:1000",
      "--workdir=/w",
      "-v",
      "/host:/guest:ro",
      "-v",
      "/anon",
      "--label",
      "k=v",
      "--cap-add=NET_ADMIN",
      "--cap-drop",
      "MKNOD",
      "--device=/dev/fuse",
      "--device",
      "/dev/sda:/dev/xvda:r",
      "--tmpfs",
      "/run:size=1m",
      "--net=none",
      "-m",
      "512m",
      "--shm-size=64m",
      "--privileged",
      "--init",
      "--rm",
      "--name",
      "builder",
      "--platform=linux/arm64",
      "img",
      "sleep",
      "60",
    ]);
    expect(problems).toEqual([]);
    expect(spec).toMatchObject({
      image: "img",
      cmd: ["sleep", "60"],
      detach: true,
      openStdin: true,
      tty: true,
      env: ["A=1", "B=2"],
      user: "1000:1000",
      workingDir: "/w",
      binds: ["/host:/guest:ro"],
      volumes: ["/anon"],
      labels: { k: "v" },
      capAdd: ["NET_ADMIN"],
      capDrop: ["MKNOD"],
      devices: [
        { PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm" },
        { PathOnHost: "/dev/sda", PathInContainer: "/dev/xvda", CgroupPermissions: "r" },
      ],
      tmpfs: { "/run": "size=1m" },
      networkMode: "none",
      memoryBytes: 512 * 1024 ** 2,
      shmSizeBytes: 64 * 1024 ** 2,
      privileged: true,
      init: true,
      autoRemove: true,
      name: "builder",
      platform: "linux/arm64",
    });
  });

  it("refuses flags it cannot map, naming them, and a missing image", () => {
    expect(parseRunCommand(["-d", "--gpus", "all", "img"]).problems).toEqual([expect.stringMatching(/^run_command: the docker run flag --gpus is not supported by kiln/)]);
    expect(parseRunCommand(["-dp", "80:80", "img"]).problems).toEqual([expect.stringMatching(/flag -p is not supported/)]);
    expect(parseRunCommand(["-d", "--"]).problems).toEqual([expect.stringMatching(/^run_command: no image argument/)]);
    expect(parseRunCommand(["--memory=lots", "img"]).problems).toEqual(['run_command: invalid --memory "lots": expected a size such as 512m']);
    expect(parseRunCommand(["-e"]).problems).toContain("run_command: -e needs a value");
  });

  it("is checked by validation, where {{.Image}} is not rendered yet", () => {
    expect(validatePluginConfig("builder", "docker", { image: "x", discard: true, run_command: ["-d", "--", "{{.Image}}"] }).problems).toEqual([]);
    expect(validatePluginConfig("builder", "docker", { image: "x", discard: true, run_command: ["--publish=80:80", "{{.Image}}"] }).problems).toEqual([
      expect.stringMatching(/--publish is not supported/),
    ]);
    expect(validatePluginConfig("builder", "docker", { image: "x", discard: true, communicator: "ssh" }).problems).toEqual([
      'communicator "ssh" is not supported by kiln\'s docker builder: use "docker" (the default) or "none"',
    ]);
    expect(validatePluginConfig("builder", "docker", { image: "x", discard: true, ecr_login: true }).problems).toEqual(["ECR login requires login server to be provided."]);
    const ecr = { ecr_login: true, login_server: "123456789012.dkr.ecr.eu-west-3.amazonaws.com", aws_profile: "ci" };
    expect(validatePluginConfig("builder", "docker", { image: "x", discard: true, ...ecr }).problems).toEqual([]);
    expect(validatePluginConfig("post-processor", "docker-push", ecr).problems).toEqual([]);
    expect(validatePluginConfig("post-processor", "docker-push", { ecr_login: true }).problems).toEqual(["ECR login requires login server to be provided."]);
  });
});
