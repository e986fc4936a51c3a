/**
 * The `breakpoint` provisioner: pauses the build until someone lets it go on. Packer waits for Enter on its terminal;
 * on a farm there is none, so the job waits for `kiln continue BUILD` (which `kiln build` sends when you press Enter
 * in its terminal).
 */
import { definePluginSchema, type CompiledConfig } from "./schema.js";

export const breakpointProvisionerSchema = definePluginSchema({
  kind: "provisioner",
  type: "breakpoint",
  fields: {
    note: { type: "string", default: "", description: "a note printed when the build pauses" },
    disable: { type: "bool", default: false, description: "skip the breakpoint, so it can stay in the template" },
  },
});

export type BreakpointProvisionerConfig = CompiledConfig<typeof breakpointProvisionerSchema.fields>;
