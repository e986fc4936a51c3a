/**
 * Plugin config schemas: which builders, provisioners and post-processors kiln runs, which keys each accepts, and the
 * validator that turns user input into a compiled, frozen config. Shared by the CLI's and coordinator's `validate`
 * and by the agent, so the two can never disagree about a template.
 */
export { validatePluginConfig, shippedPluginTypes, pluginSchema, META_KEYS, type ShippedPluginTypes } from "./registry.js";
export {
  PluginKind,
  FieldType,
  PACKER_CONFIG_FIELDS,
  definePluginSchema,
  validateWithSchema,
  type FieldSpec,
  type FieldSpecs,
  type PluginSchema,
  type CompiledConfig,
  type BlockValue,
  type CheckResult,
  type ValidationResult,
} from "./schema.js";
export {
  DurationSyntaxError,
  parseGoDuration,
  parseGoDurationNs,
  formatGoDuration,
  formatGoDurationNs,
} from "./duration.js";
export {
  COMMUNICATOR_FIELDS,
  COMMUNICATOR_TYPES,
  SSH_FINGERPRINT_PATTERN,
  checkSshCommunicator,
  checkTemporaryKeyPair,
  temporaryKeyPairSpec,
  wantsTemporaryKeyPair,
  type CommunicatorConfig,
  type TemporaryKeyPairSpec,
} from "./communicator.js";
export { fileBuilderSchema, FILE_BUILDER_ID, type FileBuilderConfig } from "./builder_file.js";
export { nullBuilderSchema, NULL_BUILDER_ID, type NullBuilderConfig } from "./builder_null.js";
export {
  libvirtBuilderSchema,
  LIBVIRT_BUILDER_ID,
  LIBVIRT_NAME_PREFIX,
  interfaceType,
  volumeSourceType,
  type LibvirtBuilderConfig,
  type LibvirtInterfaceConfig,
  type LibvirtVolumeConfig,
} from "./builder_libvirt.js";
export {
  VSPHERE_BUILDER_ID,
  VSPHERE_DEFAULTS,
  ipv4InCidr,
  vsphereExportSettings,
  type VsphereCommonConfig,
  type VsphereExportConfig,
  type VsphereExportManifest,
  type VsphereExportSettings,
} from "./vsphere_common.js";
export {
  vsphereIsoBuilderSchema,
  VSPHERE_DISK_CONTROLLERS,
  VSPHERE_NETWORK_CARDS,
  type VsphereIsoBuilderConfig,
  type VsphereNicConfig,
  type VsphereStorageConfig,
} from "./builder_vsphere_iso.js";
export { vsphereCloneBuilderSchema, type VsphereCloneBuilderConfig } from "./builder_vsphere_clone.js";
export { qemuBuilderSchema, QEMU_BUILDER_ID, QEMU_DEFAULTS, QEMU_NOT_RUN, type QemuBuilderConfig } from "./builder_qemu.js";
export {
  virtualboxIsoBuilderSchema,
  virtualboxOvfBuilderSchema,
  VIRTUALBOX_BUILDER_ID,
  VIRTUALBOX_DEFAULTS,
  VIRTUALBOX_NOT_RUN,
  type VirtualboxIsoBuilderConfig,
  type VirtualboxOvfBuilderConfig,
  type VirtualboxCommonConfig,
} from "./builder_virtualbox.js";
export {
  vmwareIsoBuilderSchema,
  vmwareVmxBuilderSchema,
  VMWARE_BUILDER_ID,
  VMWARE_DEFAULTS,
  VMWARE_NOT_RUN,
  type VmwareIsoBuilderConfig,
  type VmwareVmxBuilderConfig,
  type VmwareCommonConfig,
} from "./builder_vmware.js";
export { SHELL_LOCAL_FIELDS, SHELL_LOCAL_SUPPORTED_OS, type ShellLocalConfig } from "./shell_local.js";
export { shellLocalProvisionerSchema, type ShellLocalProvisionerConfig } from "./provisioner_shell_local.js";
export { breakpointProvisionerSchema, type BreakpointProvisionerConfig } from "./provisioner_breakpoint.js";
export { shellProvisionerSchema, SHELL_DEFAULT_EXECUTE_COMMAND, type ShellConfig } from "./provisioner_shell.js";
export { fileProvisionerSchema, type FileProvisionerConfig } from "./provisioner_file.js";
export { shellLocalPostProcessorSchema, type ShellLocalPostProcessorConfig } from "./post_processor_shell_local.js";
export { manifestPostProcessorSchema, type ManifestPostProcessorConfig } from "./post_processor_manifest.js";
export {
  checksumPostProcessorSchema,
  CHECKSUM_BUILDER_ID,
  CHECKSUM_TYPES,
  type ChecksumPostProcessorConfig,
} from "./post_processor_checksum.js";
export {
  compressPostProcessorSchema,
  COMPRESS_BUILDER_ID,
  DEFAULT_COMPRESSION_LEVEL,
  SUPPORTED_COMPRESS_ALGORITHMS,
  detectCompressFormat,
  type CompressFormat,
  type CompressArchive,
  type CompressAlgorithm,
  type CompressPostProcessorConfig,
} from "./post_processor_compress.js";
export { artificePostProcessorSchema, ARTIFICE_BUILDER_ID, type ArtificePostProcessorConfig } from "./post_processor_artifice.js";
export {
  dockerBuilderSchema,
  DOCKER_BUILDER_ID,
  DOCKER_IMPORT_BUILDER_ID,
  DOCKER_DEFAULT_RUN_COMMAND,
  DOCKER_COMMIT_INSTRUCTIONS,
  type DockerBuilderConfig,
} from "./builder_docker.js";
export { parseRunCommand, parseDevice, addTmpfs, SUPPORTED_RUN_FLAGS, type DockerRunSpec, type ParsedRunCommand } from "./docker_run_args.js";
export {
  dockerImportPostProcessorSchema,
  dockerTagPostProcessorSchema,
  dockerSavePostProcessorSchema,
  dockerPushPostProcessorSchema,
  DOCKER_TAG_BUILDER_ID,
  DOCKER_SAVE_BUILDER_ID,
  type DockerImportPostProcessorConfig,
  type DockerTagPostProcessorConfig,
  type DockerSavePostProcessorConfig,
  type DockerPushPostProcessorConfig,
} from "./post_processor_docker.js";
export { ansibleProvisionerSchema, type AnsibleConfig } from "./provisioner_ansible.js";
export { ansibleLocalProvisionerSchema, type AnsibleLocalConfig } from "./provisioner_ansible_local.js";
