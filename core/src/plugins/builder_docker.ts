/**
 * The `docker` builder (builder id `packer.docker`; a committed image's artifact carries
 * `packer.post-processor.docker-import`, as in Packer, so the docker post-processors dispatch on it). kiln drives the
 * Docker Engine API (local socket, TCP with TLS, or SSH through `DOCKER_HOST`) instead of the docker CLI, with the
 * `docker` communicator (Engine API exec and archive endpoints).
 */
import { COMMUNICATOR_FIELDS, COMMUNICATOR_TYPES } from "./communicator.js";
import { parseRunCommand } from "./docker_run_args.js";
import { REGISTRY_LOGIN_FIELDS } from "./post_processor_docker.js";
import { definePluginSchema, type CompiledConfig } from "./schema.js";

export const DOCKER_BUILDER_ID = "packer.docker";
export const DOCKER_IMPORT_BUILDER_ID = "packer.post-processor.docker-import";

/** Packer's default `run_command` for a Linux container. */
export const DOCKER_DEFAULT_RUN_COMMAND: readonly string[] = ["-d", "-i", "-t", "--entrypoint=/bin/sh", "--", "{{.Image}}"];

/** The Dockerfile instructions `docker commit --change` (the Engine API's commit `changes`) accepts. */
export const DOCKER_COMMIT_INSTRUCTIONS: readonly string[] = [
  "CMD",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "HEALTHCHECK",
  "LABEL",
  "ONBUILD",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
];

export const dockerBuilderSchema = definePluginSchema({
  kind: "builder",
  type: "docker",
  fields: {
    ...COMMUNICATOR_FIELDS,
    communicator: { type: "string", default: "docker", description: "docker (the default), or none" },
    author: { type: "string", description: "the commit's author" },
    changes: { type: "array", description: "Dockerfile instructions applied to the commit (CMD, ENV, LABEL, ...)" },
    commit: { type: "bool", description: "commit the container to an image" },
    container_dir: { type: "string", default: "/packer-files", description: "a directory Packer mounts in the container; kiln creates it empty" },
    discard: { type: "bool", description: "throw the container away" },
    exec_user: { type: "string", description: "user (UID[:GID]) provisioner commands run as" },
    export_path: { type: "string", description: "export the container's file system to this tar file" },
    fix_upload_owner: { type: "bool", default: true, description: "chown uploads to the container's user" },
    image: { type: "string", description: "the base image" },
    message: { type: "string", description: "the commit message" },
    privileged: { type: "bool" },
    pty: { type: "bool", description: "run provisioner commands with a TTY" },
    pull: { type: "bool", default: true, description: "pull the image before running it" },
    platform: { type: "string", description: "platform of the pulled and run image, e.g. linux/amd64" },
    run_command: { type: "array", default: DOCKER_DEFAULT_RUN_COMMAND, description: "docker run arguments; {{.Image}} is the image" },
    volumes: { type: "map", description: "host path (or volume name) to container path" },
    cap_add: { type: "array" },
    cap_drop: { type: "array" },
    device: { type: "array", description: "host devices (host[:container[:permissions]])" },
    tmpfs: { type: "array", description: "tmpfs mounts (path[:options])" },
    windows_container: { type: "bool" },
    ...REGISTRY_LOGIN_FIELDS,
  },
  lateRenderedKeys: ["run_command"],
  check(c) {
    const problems: string[] = [];
    if (c.communicator !== "docker" && c.communicator !== "none") {
      problems.push(
        (COMMUNICATOR_TYPES as readonly string[]).includes(c.communicator)
          ? `communicator "${c.communicator}" is not supported by kiln's docker builder: use "docker" (the default) or "none"`
          : `Communicator type ${c.communicator} is invalid`,
      );
    }
    // Packer 1.6.6's NewConfig checks, in its order and wording.
    if (c.image === undefined || c.image === "") problems.push("Image must be specified");
    const exportPath = c.export_path ?? "";
    if ((exportPath !== "" && c.commit === true) || (exportPath !== "" && c.discard === true) || (c.commit === true && c.discard === true)) {
      problems.push("Cannot specify more than one of commit, discard, and export_path");
    }
    if (exportPath === "" && c.commit !== true && c.discard !== true) {
      problems.push("No instructions given for handling the artifact; expected commit, discard, or export_path");
    }
    if (c.ecr_login === true && (c.login_server ?? "") === "") problems.push("ECR login requires login server to be provided.");
    // What kiln cannot do, refused rather than ignored.
    if (c.windows_container === true) problems.push("windows_container is not supported by kiln: build Windows containers with Packer");
    if (c.login === true && (c.login_server ?? "") === "") {
      problems.push("login: kiln needs login_server (the registry host, e.g. registry.example.com:5000) to log in through the Engine API");
    }
    for (const change of c.changes ?? []) {
      const instruction = (/^\s*(\S+)/.exec(change)?.[1] ?? "").toUpperCase();
      if (!DOCKER_COMMIT_INSTRUCTIONS.includes(instruction)) {
        problems.push(`changes: "${change}" is not a Dockerfile instruction docker commit can apply (use one of ${DOCKER_COMMIT_INSTRUCTIONS.join(", ")})`);
      }
    }
    // run_command is rendered at run time ({{.Image}}); its flags can be checked now.
    problems.push(...parseRunCommand(c.run_command).problems);
    return { problems };
  },
});

export type DockerBuilderConfig = CompiledConfig<typeof dockerBuilderSchema.fields>;
