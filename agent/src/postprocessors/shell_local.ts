/** The `shell-local` post-processor: runs like the provisioner, then passes its input artifact through (kept). */
import { shellLocalPostProcessorSchema } from "../../../core/src/mod.js";
import { prepareWithSchema, type PostProcessorDefinition } from "../plugin_api.js";
import { checkScriptsExist } from "../provisioners/shell_local.js";
import { runShellLocal } from "../shell/shell_local_run.js";

export const shellLocalPostProcessor: PostProcessorDefinition = {
  kind: "post-processor",
  type: "shell-local",
  schema: shellLocalPostProcessorSchema,
  prepare: (config, ctx) =>
    prepareWithSchema(shellLocalPostProcessorSchema, config, async (compiled) => ({
      problems: await checkScriptsExist(compiled, ctx),
      instance: {
        async postProcess(pctx, input) {
          await runShellLocal(compiled, pctx);
          // Packer forces keep: dropping the input here would lose it instead of passing it on.
          return { artifact: input, keep: true, forceOverride: true };
        },
      },
    })),
};
