/** The `breakpoint` provisioner: Packer's messages; the wait is the worker's `pause` (until `kiln continue`). */
import { UnsupportedError, breakpointProvisionerSchema, type BreakpointProvisionerConfig } from "../../../core/src/mod.js";
import { prepareWithSchema, type PluginContext, type ProvisionerDefinition } from "../plugin_api.js";

async function runBreakpoint(config: BreakpointProvisionerConfig, ctx: PluginContext): Promise<void> {
  if (config.disable) {
    ctx.log("say", config.note ? `Breakpoint provisioner with note "${config.note}" disabled; continuing...` : "Breakpoint provisioner disabled; continuing...");
    return;
  }
  if (!ctx.pause) {
    throw new UnsupportedError("the breakpoint provisioner needs a farm to continue it from (kiln continue); disable it with \"disable\": true");
  }
  ctx.log("say", config.note ? `Pausing at breakpoint provisioner with note "${config.note}".` : "Pausing at breakpoint provisioner.");
  await ctx.pause(config.note ?? "", ctx.signal);
}

export const breakpointProvisioner: ProvisionerDefinition = {
  kind: "provisioner",
  type: "breakpoint",
  schema: breakpointProvisionerSchema,
  prepare: (config) =>
    prepareWithSchema(breakpointProvisionerSchema, config, (compiled) =>
      Promise.resolve({ problems: [], instance: { provision: (pctx: PluginContext) => runBreakpoint(compiled, pctx) } }),
    ),
};
