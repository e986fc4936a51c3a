/**
 * The `null` builder (builder id `fnoeding.null`): creates nothing, so provisioners can run against an existing
 * machine. kiln runs it with `"communicator": "none"` only; SSH and WinRM communicators are not implemented yet.
 */
import { COMMUNICATOR_FIELDS, COMMUNICATOR_TYPES } from "./communicator.js";
import { definePluginSchema, type CompiledConfig } from "./schema.js";

export const NULL_BUILDER_ID = "fnoeding.null";

export const nullBuilderSchema = definePluginSchema({
  kind: "builder",
  type: "null",
  fields: { ...COMMUNICATOR_FIELDS },
  check(c) {
    const type = c.communicator;
    if (type === "none") return {};
    if (!(COMMUNICATOR_TYPES as readonly string[]).includes(type)) return { problems: [`Communicator type ${type} is invalid`] };
    return {
      problems: [
        `communicator "${type}" is not supported by kiln yet: the null builder runs only with "communicator": "none" ` +
          `(SSH and WinRM support is planned)`,
      ],
    };
  },
});

export type NullBuilderConfig = CompiledConfig<typeof nullBuilderSchema.fields>;
