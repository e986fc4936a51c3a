/**
 * The `null` builder (Packer's builder/null) with `communicator: none`: it creates nothing; its pipeline is Packer's
 * connect step (a no-op without a communicator) and the provision step, so the provisioners (and on failure the
 * error-cleanup-provisioner) run on the agent.
 */
import { NULL_BUILDER_ID, nullBuilderSchema } from "../../../core/src/mod.js";
import type { LocalArtifact } from "../artifact.js";
import { runPipeline, type PipelineState, type Step } from "../pipeline/mod.js";
import { prepareWithSchema, type BuilderContext, type BuilderDefinition } from "../plugin_api.js";
import { provisionStep } from "../steps/provision.js";

/** The null builder's pipeline state: nothing but the error. */
export type NullBuilderState = PipelineState;

/** Packer's NullArtifact; its generated data is what post-processors see as `{{.ID}}`. */
export const nullArtifact: LocalArtifact = Object.freeze({
  builderId: NULL_BUILDER_ID,
  id: "Null",
  description: "Did not export anything. This is the null builder",
  files: [],
  generatedData: Object.freeze({ ID: "Null" }),
  destroy: async () => undefined,
});

/** What Packer 1.6.6's provision hook hands the provisioners of a null build without a communicator. */
export function nullHookData(runUuid: string): Readonly<Record<string, string>> {
  return {
    ID: "Null",
    PackerRunUUID: runUuid,
    PackerHTTPAddr: "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER",
    PackerHTTPIP: "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER",
    PackerHTTPPort: "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER",
  };
}

/** Packer's StepConnect; with `communicator: none` there is nothing to connect to (SSH and WinRM come later). */
const connectStep: Step<NullBuilderState> = {
  name: "connect",
  run: async () => "continue",
};

export const nullBuilder: BuilderDefinition = {
  kind: "builder",
  type: "null",
  schema: nullBuilderSchema,
  detect: () => true,
  prepare: (config) =>
    prepareWithSchema(nullBuilderSchema, config, async () => ({
      instance: {
        async run(ctx: BuilderContext) {
          const state: NullBuilderState = {};
          const hookData = nullHookData(ctx.build.runUuid);
          const steps = [connectStep, provisionStep<NullBuilderState>(ctx.hook, { hookData: () => hookData })];
          const result = await runPipeline(steps, state, ctx, { onError: ctx.onError });
          if (result.error) throw result.error;
          return nullArtifact;
        },
      },
    })),
};
