/**
 * The agent's plugin registry: the implementations this agent runs, each paired with its schema from core. A builder
 * also says whether this host can run it (`detect`), which is what the agent advertises as its capabilities.
 */
import type { PluginKind } from "../../core/src/mod.js";
import type { BuilderDefinition, PostProcessorDefinition, ProvisionerDefinition } from "./plugin_api.js";
import { fileBuilder } from "./builders/file.js";
import { libvirtBuilder } from "./builders/libvirt/mod.js";
import { nullBuilder } from "./builders/null.js";
import { dockerBuilder } from "./builders/docker.js";
import { qemuBuilder } from "./builders/qemu/builder.js";
import { virtualboxIsoBuilder, virtualboxOvfBuilder } from "./builders/virtualbox/builder.js";
import { vmwareIsoBuilder, vmwareVmxBuilder } from "./builders/vmware/builder.js";
import { vsphereCloneBuilder, vsphereIsoBuilder } from "./builders/vsphere/builder.js";
import { shellLocalProvisioner } from "./provisioners/shell_local.js";
import { ansibleProvisioner } from "./provisioners/ansible.js";
import { ansibleLocalProvisioner } from "./provisioners/ansible_local.js";
import { shellProvisioner } from "./provisioners/shell.js";
import { fileProvisioner } from "./provisioners/file.js";
import { breakpointProvisioner } from "./provisioners/breakpoint.js";
import { artificePostProcessor } from "./postprocessors/artifice.js";
import { checksumPostProcessor } from "./postprocessors/checksum.js";
import { compressPostProcessor } from "./postprocessors/compress.js";
import { manifestPostProcessor } from "./postprocessors/manifest.js";
import { shellLocalPostProcessor } from "./postprocessors/shell_local.js";
import {
  dockerImportPostProcessor,
  dockerPushPostProcessor,
  dockerSavePostProcessor,
  dockerTagPostProcessor,
} from "./postprocessors/docker.js";

export const BUILDERS: readonly BuilderDefinition[] = [
  fileBuilder,
  nullBuilder,
  dockerBuilder,
  libvirtBuilder,
  qemuBuilder,
  virtualboxIsoBuilder,
  virtualboxOvfBuilder,
  vmwareIsoBuilder,
  vmwareVmxBuilder,
  vsphereIsoBuilder,
  vsphereCloneBuilder,
];
export const PROVISIONERS: readonly ProvisionerDefinition[] = [
  shellLocalProvisioner,
  shellProvisioner,
  fileProvisioner,
  breakpointProvisioner,
  ansibleProvisioner,
  ansibleLocalProvisioner,
];
export const POST_PROCESSORS: readonly PostProcessorDefinition[] = [
  artificePostProcessor,
  checksumPostProcessor,
  compressPostProcessor,
  manifestPostProcessor,
  shellLocalPostProcessor,
  dockerImportPostProcessor,
  dockerTagPostProcessor,
  dockerSavePostProcessor,
  dockerPushPostProcessor,
];

export function findBuilder(type: string): BuilderDefinition | undefined {
  return BUILDERS.find((b) => b.type === type);
}
export function findProvisioner(type: string): ProvisionerDefinition | undefined {
  return PROVISIONERS.find((p) => p.type === type);
}
export function findPostProcessor(type: string): PostProcessorDefinition | undefined {
  return POST_PROCESSORS.find((p) => p.type === type);
}

/** The plugin types this agent implements, per kind (a subset of core's `shippedPluginTypes`). */
export function implementedPluginTypes(kind: PluginKind): string[] {
  const list = kind === "builder" ? BUILDERS : kind === "provisioner" ? PROVISIONERS : POST_PROCESSORS;
  return list.map((p) => p.type).sort();
}
