/**
 * The `file` builder (Packer's builder/file): writes `content` to `target` or copies `source` there, then runs the
 * provisioners. Its artifact is the target file.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { BuildFailedError, FILE_BUILDER_ID, fileBuilderSchema, type FileBuilderConfig } from "../../../core/src/mod.js";
import { singleFileArtifact, type LocalArtifact } from "../artifact.js";
import { runPipeline, type PipelineState, type Step } from "../pipeline/mod.js";
import { prepareWithSchema, type BuilderContext, type BuilderDefinition } from "../plugin_api.js";
import { provisionStep } from "../steps/provision.js";
import { goPathError } from "../util/go_text.js";

/** The file builder's pipeline state. */
export interface FileBuilderState extends PipelineState {
  readonly config: FileBuilderConfig;
  readonly workDir: string;
  /** Set once the target has been written. */
  written: boolean;
}

/** Packer's FileArtifact. */
export function fileArtifact(target: string, workDir: string): LocalArtifact {
  return singleFileArtifact(FILE_BUILDER_ID, "File", `Stored file: ${target}`, target, workDir);
}

const writeTargetStep: Step<FileBuilderState> = {
  name: "write-file",
  async run(ctx, state) {
    const { target, source = "", content = "" } = state.config;
    const abs = (p: string): string => path.resolve(state.workDir, p);
    const dir = path.dirname(target);
    if (dir !== ".") {
      try {
        await mkdir(abs(dir), { recursive: true, mode: 0o755 });
      } catch (err) {
        throw new BuildFailedError(goPathError("mkdir", dir, err), { cause: err });
      }
    }
    if (source !== "") {
      const input = createReadStream(abs(source));
      await new Promise<void>((resolve, reject) => {
        input.once("open", () => resolve());
        input.once("error", (err) => reject(new BuildFailedError(goPathError("open", source, err), { cause: err })));
      });
      const output = createWriteStream(abs(target)); // truncates, like os.Create
      ctx.log("say", `Copying ${source} to ${target}`);
      let bytes = 0;
      input.on("data", (chunk) => {
        bytes += chunk.length;
        ctx.heartbeat();
      });
      try {
        await pipeline(input, output, { signal: ctx.signal });
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        throw new BuildFailedError(`copy ${source} to ${target}: ${(err as Error).message}`, { cause: err });
      }
      ctx.log("say", `Copied ${bytes} bytes`);
    } else {
      try {
        await writeFile(abs(target), content, { mode: 0o600 });
      } catch (err) {
        throw new BuildFailedError(goPathError("open", target, err), { cause: err });
      }
    }
    state.written = true;
    return "continue";
  },
  // No cleanup: Packer leaves the target in place when a provisioner fails afterwards.
};

export const fileBuilder: BuilderDefinition = {
  kind: "builder",
  type: "file",
  schema: fileBuilderSchema,
  detect: () => true,
  prepare: (config) =>
    prepareWithSchema(fileBuilderSchema, config, async (compiled) => ({
      instance: {
        async run(ctx: BuilderContext) {
          const state: FileBuilderState = { config: compiled, workDir: ctx.workDir, written: false };
          const steps = [writeTargetStep, provisionStep<FileBuilderState>(ctx.hook, { errorCleanup: false })];
          const result = await runPipeline(steps, state, ctx, { onError: ctx.onError });
          if (result.error) throw result.error;
          return fileArtifact(compiled.target, ctx.workDir);
        },
      },
    })),
};
