/**
 * The `null` builder (builder id `fnoeding.null`): creates nothing, so provisioners can run against an existing
 * machine. kiln runs it with `"communicator": "none"` or `"communicator": "ssh"` (the default); WinRM and the
 * docker communicators are not implemented yet.
 */
import { COMMUNICATOR_FIELDS, COMMUNICATOR_TYPES, checkSshCommunicator } from "./communicator.js";
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
    if (type !== "ssh") {
      return {
        problems: [
          `communicator "${type}" is not supported by kiln yet: the null builder runs with "communicator": "ssh" or ` +
            `"none" (WinRM support is planned)`,
        ],
      };
    }
    // Packer 1.6.6: the communicator's Prepare, then builder/null's own checks.
    const problems = checkSshCommunicator(c);
    if ((c.ssh_host ?? "") === "") problems.push("a Host must be specified, please reference your communicator documentation");
    if ((c.ssh_username ?? "") === "") problems.push("a Username must be specified, please reference your communicator documentation");
    if (!(c.ssh_agent_auth ?? false) && (c.ssh_password ?? "") === "" && (c.ssh_private_key_file ?? "") === "") {
      problems.push("one authentication method must be specified, please reference your\ncommunicator documentation");
    }
    return { problems };
  },
  decodeErrorsOnly: true,
});

export type NullBuilderConfig = CompiledConfig<typeof nullBuilderSchema.fields>;
