/**
 * The docker post-processors on the Engine API: docker-import (an exported tar into an image), docker-tag,
 * docker-save (`docker save` into a tar) and docker-push. Each accepts the input artifacts Packer 1.6.6 accepts (by
 * builder id) and returns Packer's artifact, keep and force-override values, so chains behave as in Packer.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  ARTIFICE_BUILDER_ID,
  BuildFailedError,
  DOCKER_BUILDER_ID,
  DOCKER_IMPORT_BUILDER_ID,
  DOCKER_TAG_BUILDER_ID,
  dockerImportPostProcessorSchema,
  dockerPushPostProcessorSchema,
  dockerSavePostProcessorSchema,
  dockerTagPostProcessorSchema,
} from "../../../core/src/mod.js";
import type { LocalArtifact } from "../artifact.js";
import { dockerImageArtifact } from "../builders/docker.js";
import { registryLogin } from "../docker/ecr.js";
import { connectEngine, engineError, followProgress } from "../docker/engine.js";
import { prepareWithSchema, type PostProcessorDefinition } from "../plugin_api.js";
import { cancellationOf } from "../util/abort.js";

/** The state key a tag artifact lists its tags under (JSON array), as Packer's `docker_tags` state. */
export const DOCKER_TAGS_STATE = "docker_tags";

/** Splits `repo[:tag]` (a colon after the last slash is the tag). */
export function splitRepoTag(name: string): { repo: string; tag?: string } {
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  if (colon > slash) return { repo: name.slice(0, colon), tag: name.slice(colon + 1) };
  return { repo: name };
}

function tagsOf(artifact: LocalArtifact): string[] {
  const raw = artifact.state?.[DOCKER_TAGS_STATE];
  if (raw === undefined || raw === "") return [];
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

export const dockerImportPostProcessor: PostProcessorDefinition = {
  kind: "post-processor",
  type: "docker-import",
  schema: dockerImportPostProcessorSchema,
  prepare: (config) =>
    prepareWithSchema(dockerImportPostProcessorSchema, config, async (c) => ({
      instance: {
        async postProcess(ctx, input) {
          if (input.builderId !== DOCKER_BUILDER_ID && input.builderId !== ARTIFICE_BUILDER_ID) {
            throw new BuildFailedError(
              `Unknown artifact type: ${input.builderId}\nCan only import from Docker builder and Artifice post-processor artifacts. ` +
                "If you are getting this error after having run the docker builder, it may be because you set commit: true in your " +
                "Docker builder, so the image is already imported. ",
            );
          }
          const file = input.files[0];
          if (file === undefined) throw new BuildFailedError("docker-import: the input artifact has no file to import");
          const importRepo = (c.repository ?? "") + (c.tag ? `:${c.tag}` : "");
          const engine = connectEngine();
          ctx.log("message", `Importing image: ${input.id}`);
          ctx.log("message", `Repository: ${importRepo}`);
          let id = "";
          try {
            const { repo, tag } = splitRepoTag(importRepo);
            const opts: Record<string, unknown> = { abortSignal: ctx.signal };
            if (repo !== "") opts.repo = repo;
            if (tag !== undefined) opts.tag = tag;
            if ((c.changes ?? []).length > 0) opts.changes = [...(c.changes ?? [])];
            const stream = (await engine.docker.importImage(createReadStream(path.resolve(ctx.workDir, file)) as unknown as string, opts)) as Readable;
            const messages = await followProgress(stream, ctx.signal);
            id = messages.map((m) => m.status ?? "").filter((s) => s.startsWith("sha256:")).pop() ?? "";
          } catch (err) {
            throw engineError(engine, "Error importing container", err, ctx.signal);
          }
          ctx.log("message", `Imported ID: ${id}`);
          // Packer's artifact id is the repository it imported to (the image id when there is none).
          return { artifact: dockerImageArtifact(engine, DOCKER_IMPORT_BUILDER_ID, importRepo === "" ? id : importRepo), keep: false, forceOverride: false };
        },
      },
    })),
};

export const dockerTagPostProcessor: PostProcessorDefinition = {
  kind: "post-processor",
  type: "docker-tag",
  schema: dockerTagPostProcessorSchema,
  prepare: (config) =>
    prepareWithSchema(dockerTagPostProcessorSchema, config, async (c) => ({
      instance: {
        async postProcess(ctx, input) {
          if ((c.tag ?? []).length > 0) {
            ctx.log(
              "say",
              'Deprecation warning: "tag" option has been replaced with "tags". In future versions of Packer, this configuration may not work. ' +
                "Please call `packer fix` on your template to update.",
            );
          }
          if (input.builderId !== DOCKER_TAG_BUILDER_ID && input.builderId !== DOCKER_IMPORT_BUILDER_ID) {
            throw new BuildFailedError(`Unknown artifact type: ${input.builderId}\nCan only tag from Docker builder artifacts.`);
          }
          const engine = connectEngine();
          const repository = c.repository ?? "";
          const allTags = c.tags ?? [];
          const targets = allTags.length > 0 ? allTags.map((t) => `${repository}:${t}`) : [repository];
          // The Engine API always replaces an existing tag (its `force` is gone since API 1.25), which is what
          // `force: true` asks for; without force the docker CLI does the same today.
          for (const target of targets) {
            ctx.log("message", `Tagging image: ${input.id}`);
            ctx.log("message", `Repository: ${target}`);
            const { repo, tag } = splitRepoTag(target);
            try {
              await engine.docker.getImage(input.id).tag({ repo, ...(tag !== undefined ? { tag } : {}) });
            } catch (err) {
              throw engineError(engine, "Error tagging image", err, ctx.signal);
            }
          }
          const repoTags = allTags.length > 0 ? targets : [];
          const artifact = dockerImageArtifact(engine, DOCKER_TAG_BUILDER_ID, targets[targets.length - 1] ?? repository, {
            state: { [DOCKER_TAGS_STATE]: JSON.stringify(repoTags) },
          });
          // As Packer: tagging and then deleting the image would be pointless, so the input is always kept.
          return { artifact, keep: true, forceOverride: true };
        },
      },
    })),
};

export const dockerSavePostProcessor: PostProcessorDefinition = {
  kind: "post-processor",
  type: "docker-save",
  schema: dockerSavePostProcessorSchema,
  prepare: (config) =>
    prepareWithSchema(dockerSavePostProcessorSchema, config, async (c) => ({
      instance: {
        async postProcess(ctx, input) {
          if (input.builderId !== DOCKER_IMPORT_BUILDER_ID && input.builderId !== DOCKER_TAG_BUILDER_ID) {
            throw new BuildFailedError(`Unknown artifact type: ${input.builderId}\nCan only save Docker builder artifacts.`);
          }
          const engine = connectEngine();
          const target = path.resolve(ctx.workDir, c.path ?? "");
          ctx.log("message", `Saving image: ${input.id}`);
          try {
            const stream = (await engine.docker.getImage(input.id).get()) as unknown as Readable;
            await pipeline(stream, createWriteStream(target), { signal: ctx.signal });
          } catch (err) {
            await rm(target, { force: true });
            if (ctx.signal.aborted) throw cancellationOf(ctx.signal);
            throw engineError(engine, "Error exporting", err);
          }
          ctx.log("message", `Saved to: ${c.path ?? ""}`);
          return { artifact: input, keep: true, forceOverride: false };
        },
      },
    })),
};

export const dockerPushPostProcessor: PostProcessorDefinition = {
  kind: "post-processor",
  type: "docker-push",
  schema: dockerPushPostProcessorSchema,
  prepare: (config) =>
    prepareWithSchema(dockerPushPostProcessorSchema, config, async (c) => ({
      instance: {
        async postProcess(ctx, input) {
          if (input.builderId !== DOCKER_IMPORT_BUILDER_ID && input.builderId !== DOCKER_TAG_BUILDER_ID) {
            throw new BuildFailedError(`Unknown artifact type: ${input.builderId}\nCan only import from docker-import and docker-tag artifacts.`);
          }
          const engine = connectEngine();
          const auth = await registryLogin(c, (m) => ctx.log("message", m), ctx.signal);
          if (auth !== undefined) {
            ctx.log("message", "Logging in...");
            try {
              await engine.docker.checkAuth(auth);
            } catch (err) {
              throw engineError(engine, "Error logging in to Docker", err, ctx.signal);
            }
          }
          const tags = tagsOf(input);
          const names = [input.id, ...tags];
          try {
            for (const name of names) {
              ctx.log("message", `Pushing: ${name}`);
              const { repo, tag } = splitRepoTag(name);
              const image = engine.docker.getImage(repo);
              const stream = (await image.push({ tag: tag ?? "latest", ...(auth !== undefined ? { authconfig: auth } : {}), abortSignal: ctx.signal } as Record<string, unknown>)) as unknown as Readable;
              await followProgress(stream, ctx.signal, (m) => {
                if (m.status !== undefined && m.progress === undefined && m.id === undefined) ctx.log("message", m.status);
              });
            }
          } catch (err) {
            throw engineError(engine, "Error pushing Docker image", err, ctx.signal);
          } finally {
            if (auth !== undefined) ctx.log("message", "Logging out...");
          }
          const artifact = dockerImageArtifact(engine, DOCKER_IMPORT_BUILDER_ID, names[0] ?? "", { state: { [DOCKER_TAGS_STATE]: JSON.stringify(tags) } });
          return { artifact, keep: true, forceOverride: false };
        },
      },
    })),
};
