/**
 * Reaping what a crashed attempt of the same job left in vCenter. An agent that dies mid-build (killed, host lost)
 * runs no cleanup, and the agent that restarts holds no vCenter credentials (they are in the template), so the VM
 * stays. The job's next attempt does hold them: the VM a vSphere build creates or clones carries its job's mark in
 * extraConfig from the moment it exists (set in the CreateVM_Task/CloneVM_Task spec itself),
 *
 *   kiln.job     = <run uuid>/<job id>   (the same on every attempt of the job, unique across builds)
 *   kiln.attempt = <attempt number>
 *
 * and before creating its own VM an attempt destroys every VM in its target folder whose mark names its job and an
 * earlier attempt. VMs of other jobs, unmarked VMs and marks of later attempts (an older attempt still running after
 * it lost the job can then not destroy the newer attempt's VM) are left alone; a same-named VM that is not an
 * earlier attempt's still fails the build with Packer's "already exists" unless `-force`.
 *
 * The mark stays on the finished VM or template: were a successful attempt's result lost (the agent dies before
 * reporting it), the retry replaces that VM instead of failing on its name.
 */
import type { BuildInfo } from "../../plugin_api.js";
import type { VsphereClient } from "../../vsphere/client.js";
import { refsOf } from "../../vsphere/inventory.js";
import { child, list, text, type MoRef, type SoapObject } from "../../vsphere/soap.js";
import { VirtualMachine } from "../../vsphere/vm.js";

export const MARK_JOB_KEY = "kiln.job";
export const MARK_ATTEMPT_KEY = "kiln.attempt";

/** Which job and attempt made a VM. */
export interface VsphereMark {
  /** `<run uuid>/<job id>`: the same on every attempt of a job, different for every other job. */
  readonly job: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

export function markOf(build: BuildInfo): VsphereMark {
  return { job: `${build.runUuid}/${build.jobId}`, attempt: build.attempt ?? 1 };
}

/** The mark as VirtualMachineConfigSpec.extraConfig entries. */
export function markExtraConfig(mark: VsphereMark): SoapObject[] {
  return [
    { key: MARK_JOB_KEY, value: { $type: "xsd:string", $text: mark.job } },
    { key: MARK_ATTEMPT_KEY, value: { $type: "xsd:string", $text: String(mark.attempt) } },
  ];
}

/** The mark in a VM's `config.extraConfig`, or undefined for a VM kiln did not make. */
export function parseMark(extraConfig: unknown): VsphereMark | undefined {
  const values = new Map(list(child(extraConfig, "OptionValue")).map((o) => [text(child(o, "key")), text(child(o, "value"))]));
  const job = values.get(MARK_JOB_KEY);
  const attempt = Number(values.get(MARK_ATTEMPT_KEY));
  if (job === undefined || job === "" || !Number.isInteger(attempt) || attempt < 1) return undefined;
  return { job, attempt };
}

/**
 * Destroys the VMs directly in `folder` that earlier attempts of `mark.job` left (powered off first). Returns their
 * names. A VM that cannot be destroyed fails the build: it would be in the new VM's way.
 */
export async function reapEarlierAttempts(
  client: VsphereClient,
  folder: MoRef,
  mark: VsphereMark,
  log: (text: string) => void,
  signal: AbortSignal,
): Promise<string[]> {
  const children = refsOf((await client.props(folder, ["childEntity"], signal)).get("childEntity")).filter((r) => r.type === "VirtualMachine");
  const props = await client.retrieve("VirtualMachine", children, ["name", "config.extraConfig"], signal);
  const reaped: string[] = [];
  for (const ref of children) {
    const p = props.get(ref.value);
    const found = parseMark(p?.get("config.extraConfig"));
    if (found === undefined || found.job !== mark.job || found.attempt >= mark.attempt) continue;
    const name = text(p?.get("name"));
    log(`Destroying VM ${name}, left by attempt ${found.attempt} of this job`);
    await new VirtualMachine(client, ref, name).destroy(signal);
    reaped.push(name);
  }
  return reaped;
}
