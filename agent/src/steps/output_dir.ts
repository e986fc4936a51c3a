/** Packer's StepOutputDir, shared by the builders that write an output directory on the agent. */
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { BuildFailedError } from "../../../core/src/mod.js";
import type { PipelineState, Step } from "../pipeline/mod.js";

/** The state the step records: the directory, and whether this build created it (and so removes it on failure). */
export interface OutputDirState extends PipelineState {
  outputDir?: string;
  outputCreated?: boolean;
}

/** Fails when `dir` exists unless `force` (then deletes it first); removes what it created on halt or cancel. */
export function outputDirStep<S extends OutputDirState>(dir: string, force: boolean): Step<S> {
  return {
    name: "output-dir",
    async run(ctx, state) {
      state.outputDir = dir;
      if (existsSync(dir)) {
        if (!force) throw new BuildFailedError(`Output directory exists: ${dir}\n\nUse the force flag to delete it prior to building.`);
        ctx.log("say", "Deleting previous output directory...");
        await rm(dir, { recursive: true, force: true });
      }
      await mkdir(dir, { recursive: true });
      state.outputCreated = true;
      return "continue";
    },
    async cleanup(state, outcome, ctx) {
      if (outcome === "ok" || state.outputCreated !== true || state.outputDir === undefined) return;
      ctx.log("say", "Deleting output directory...");
      await rm(state.outputDir, { recursive: true, force: true });
      state.outputCreated = false;
    },
  };
}
