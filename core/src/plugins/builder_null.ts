/**
 * The `null` builder (builder id `fnoeding.null`): creates nothing, so provisioners can run against an existing
 * machine. kiln runs it with `"communicator": "none"` or `"communicator": "ssh"` (the default); WinRM and the
 * docker communicators are not implemented yet.
 */
import { COMMUNICATOR_FIELDS, COMMUNICATOR_TYPES, checkSshCommunicator } from "./communicator.js";
import { definePluginSchema, type CompiledConfig } from "./schema.js";

export const NULL_BUILDER_ID = "fnoeding.null";

/** SSH options Packer accepts that kiln's communicator does not implement yet: refused rather than ignored. */
const SSH_OPTIONS_NOT_RUN = [
  "ssh_certificate_file",
  "ssh_bastion_certificate_file",
  "ssh_ciphers",
  "ssh_key_exchange_algorithms",
  "ssh_local_tunnels",
  "ssh_remote_tunnels",
  "ssh_read_write_timeout",
] as const;

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
    for (const key of SSH_OPTIONS_NOT_RUN) {
      const v = c[key];
      if (v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0)) {
        problems.push(`${key} is not supported by kiln yet: remove it or build with Packer`);
      }
    }
    for (const key of ["temporary_key_pair_type", "temporary_key_pair_bits"] as const) {
      if (c[key] !== undefined) {
        problems.push(`${key} is not used by the null builder: it cannot put a temporary key on an existing host; use ssh_private_key_file`);
      }
    }
    return { problems };
  },
  decodeErrorsOnly: true,
});

export type NullBuilderConfig = CompiledConfig<typeof nullBuilderSchema.fields>;
