/**
 * The one list of plugins kiln runs, with their config schemas: `validate` (CLI, coordinator) and the agent read the
 * same source of truth.
 */
import { artificePostProcessorSchema } from "./post_processor_artifice.js";
import { fileBuilderSchema } from "./builder_file.js";
import { checksumPostProcessorSchema } from "./post_processor_checksum.js";
import { compressPostProcessorSchema } from "./post_processor_compress.js";
import { manifestPostProcessorSchema } from "./post_processor_manifest.js";
import { libvirtBuilderSchema } from "./builder_libvirt.js";
import { nullBuilderSchema } from "./builder_null.js";
import { dockerBuilderSchema } from "./builder_docker.js";
import {
  dockerImportPostProcessorSchema,
  dockerPushPostProcessorSchema,
  dockerSavePostProcessorSchema,
  dockerTagPostProcessorSchema,
} from "./post_processor_docker.js";
import { qemuBuilderSchema } from "./builder_qemu.js";
import { virtualboxIsoBuilderSchema, virtualboxOvfBuilderSchema } from "./builder_virtualbox.js";
import { vmwareIsoBuilderSchema, vmwareVmxBuilderSchema } from "./builder_vmware.js";
import { vsphereCloneBuilderSchema } from "./builder_vsphere_clone.js";
import { vsphereIsoBuilderSchema } from "./builder_vsphere_iso.js";
import { shellLocalPostProcessorSchema } from "./post_processor_shell_local.js";
import { shellLocalProvisionerSchema } from "./provisioner_shell_local.js";
import { shellProvisionerSchema } from "./provisioner_shell.js";
import { fileProvisionerSchema } from "./provisioner_file.js";
import { breakpointProvisionerSchema } from "./provisioner_breakpoint.js";
import { ansibleProvisionerSchema } from "./provisioner_ansible.js";
import { ansibleLocalProvisionerSchema } from "./provisioner_ansible_local.js";
import {
  deepFreeze,
  validateWithSchema,
  type FieldSpecs,
  type PluginKind,
  type PluginSchema,
  type ValidationResult,
} from "./schema.js";

// Widened once here: each schema keeps its precise type in its own module for the code that runs it.
const schemas: readonly PluginSchema[] = [
  fileBuilderSchema,
  libvirtBuilderSchema,
  nullBuilderSchema,
  dockerBuilderSchema,
  qemuBuilderSchema,
  virtualboxIsoBuilderSchema,
  virtualboxOvfBuilderSchema,
  vmwareIsoBuilderSchema,
  vmwareVmxBuilderSchema,
  vsphereIsoBuilderSchema,
  vsphereCloneBuilderSchema,
  shellLocalProvisionerSchema,
  shellProvisionerSchema,
  fileProvisionerSchema,
  breakpointProvisionerSchema,
  ansibleProvisionerSchema,
  ansibleLocalProvisionerSchema,
  artificePostProcessorSchema,
  checksumPostProcessorSchema,
  compressPostProcessorSchema,
  manifestPostProcessorSchema,
  shellLocalPostProcessorSchema,
  dockerImportPostProcessorSchema,
  dockerTagPostProcessorSchema,
  dockerSavePostProcessorSchema,
  dockerPushPostProcessorSchema,
] as readonly PluginSchema[];

/**
 * Template keys that belong to Packer core, not to the plugin (`decodeProvisioner`, `parsePostProcessor`). Callers
 * normally strip them; when they are passed along anyway they are accepted and ignored.
 */
export const META_KEYS: Readonly<Record<PluginKind, ReadonlySet<string>>> = {
  builder: new Set(["type", "name"]),
  provisioner: new Set(["type", "only", "except", "override", "pause_before", "max_retries", "timeout"]),
  "post-processor": new Set(["type", "name", "only", "except", "keep_input_artifact"]),
};

/** The schema of a plugin kiln runs, or undefined. */
export function pluginSchema(kind: PluginKind, type: string): PluginSchema | undefined {
  return schemas.find((s) => s.kind === kind && s.type === type);
}

/** The plugin types kiln runs, per kind, sorted. */
export interface ShippedPluginTypes {
  readonly builder: readonly string[];
  readonly provisioner: readonly string[];
  readonly "post-processor": readonly string[];
}

/** Lists the plugin types kiln runs, per kind (what `validate` accepts and agents may advertise). */
export function shippedPluginTypes(): ShippedPluginTypes {
  const of = (kind: PluginKind): string[] => schemas.filter((s) => s.kind === kind).map((s) => s.type).sort();
  return deepFreeze({ builder: of("builder"), provisioner: of("provisioner"), "post-processor": of("post-processor") });
}

/**
 * Validates one plugin's config and compiles it: every problem at once, in Packer's wording, no side effects.
 * `config` is the plugin's part of the template (meta-keys such as `type` or `only` are ignored if present), after
 * template interpolation when the caller has done it (the agent does; `validate` may pass the raw text).
 *
 * @returns `problems` (empty when valid), `warnings`, and `compiled`: a deeply frozen copy with defaults applied,
 *   set only when there are no problems.
 */
export function validatePluginConfig(
  kind: PluginKind,
  type: string,
  config: Readonly<Record<string, unknown>>,
): ValidationResult<Readonly<Record<string, unknown>>> {
  const schema = pluginSchema(kind, type);
  if (schema === undefined) return { problems: [`Unknown ${kind} ${type}`], warnings: [] };
  return validateWithSchema<FieldSpecs>(schema, config, META_KEYS[kind]);
}
