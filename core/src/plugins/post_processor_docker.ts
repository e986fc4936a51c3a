/**
 * The docker post-processors (Packer 1.6.6's docker-import, docker-tag, docker-save and docker-push), chained after
 * the docker builder. They dispatch on the input artifact's builder id exactly as Packer does.
 */
import { definePluginSchema, type CompiledConfig, type FieldSpecs } from "./schema.js";

/** Packer's registry login options, shared by the docker builder's pull and docker-push (same names, same meaning). */
export const REGISTRY_LOGIN_FIELDS = {
  login: { type: "bool", description: "log in to login_server first" },
  login_username: { type: "string" },
  login_password: { type: "string" },
  login_server: { type: "string" },
  ecr_login: { type: "bool", description: "log in to the ECR registry login_server with a token from ECR's GetAuthorizationToken" },
  aws_access_key: { type: "string", description: "for ecr_login; else the AWS SDK's default credentials" },
  aws_secret_key: { type: "string", description: "for ecr_login, with aws_access_key" },
  aws_token: { type: "string", description: "for ecr_login: a session token, with aws_access_key and aws_secret_key" },
  aws_profile: { type: "string", description: "for ecr_login: the shared config/credentials profile" },
} as const satisfies FieldSpecs;

export const DOCKER_TAG_BUILDER_ID = "packer.post-processor.docker-tag";
export const DOCKER_SAVE_BUILDER_ID = "packer.post-processor.docker-save";

export const dockerImportPostProcessorSchema = definePluginSchema({
  kind: "post-processor",
  type: "docker-import",
  fields: {
    repository: { type: "string", description: "the repository of the imported image" },
    tag: { type: "string" },
    changes: { type: "array", description: "Dockerfile instructions applied to the import" },
  },
});

export const dockerTagPostProcessorSchema = definePluginSchema({
  kind: "post-processor",
  type: "docker-tag",
  fields: {
    repository: { type: "string" },
    tag: { type: "array", deprecated: "use tags" },
    tags: { type: "array" },
    force: { type: "bool" },
  },
  normalize(c) {
    // Packer combines the two: tags first, then the deprecated tag.
    return { ...c, tags: [...(c.tags ?? []), ...(c.tag ?? [])] };
  },
});

export const dockerSavePostProcessorSchema = definePluginSchema({
  kind: "post-processor",
  type: "docker-save",
  fields: {
    path: { type: "string", description: "the tar file `docker save` writes" },
  },
});

export const dockerPushPostProcessorSchema = definePluginSchema({
  kind: "post-processor",
  type: "docker-push",
  fields: {
    ...REGISTRY_LOGIN_FIELDS,
  },
  check(c) {
    const problems: string[] = [];
    if (c.ecr_login === true && (c.login_server ?? "") === "") problems.push("ECR login requires login server to be provided.");
    return { problems };
  },
});

export type DockerImportPostProcessorConfig = CompiledConfig<typeof dockerImportPostProcessorSchema.fields>;
export type DockerTagPostProcessorConfig = CompiledConfig<typeof dockerTagPostProcessorSchema.fields>;
export type DockerSavePostProcessorConfig = CompiledConfig<typeof dockerSavePostProcessorSchema.fields>;
export type DockerPushPostProcessorConfig = CompiledConfig<typeof dockerPushPostProcessorSchema.fields>;
