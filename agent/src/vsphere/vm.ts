/** Operations on one virtual machine, over {@link VsphereClient}. */
import { TimeoutError } from "../../../core/src/mod.js";
import type { VsphereClient } from "./client.js";
import { MoRef, child, list, text, xsiType, type Node, type SoapValue } from "./soap.js";

/** A device as read from `config.hardware.device`. */
export interface DeviceInfo {
  readonly type: string;
  readonly key: number;
  readonly controllerKey: number;
  readonly unitNumber?: number;
  readonly label: string;
  /** The raw node, for reconfigure specs that edit or remove the device. */
  readonly node: Node;
}

export class VirtualMachine {
  constructor(
    readonly client: VsphereClient,
    readonly ref: MoRef,
    readonly name: string,
  ) {}

  async powerState(signal: AbortSignal): Promise<string> {
    return text((await this.client.props(this.ref, ["runtime.powerState"], signal)).get("runtime.powerState"));
  }

  async devices(signal: AbortSignal): Promise<DeviceInfo[]> {
    const hw = (await this.client.props(this.ref, ["config.hardware.device"], signal)).get("config.hardware.device");
    return list(child(hw, "VirtualDevice")).map((d) => {
      const unit = text(child(d, "unitNumber"));
      return {
        type: xsiType(d),
        key: Number(text(child(d, "key"))),
        controllerKey: Number(text(child(d, "controllerKey")) || "0"),
        unitNumber: unit === "" ? undefined : Number(unit),
        label: text(child(child(d, "deviceInfo"), "label")),
        node: d,
      };
    });
  }

  async reconfigure(spec: Readonly<Record<string, SoapValue>>, what: string, signal: AbortSignal): Promise<void> {
    await this.client.runTask("ReconfigVM_Task", this.ref, { spec }, what, signal);
  }

  async powerOn(signal: AbortSignal): Promise<void> {
    await this.client.runTask("PowerOnVM_Task", this.ref, {}, `powering on ${this.name}`, signal);
  }

  async powerOff(signal: AbortSignal): Promise<void> {
    await this.client.runTask("PowerOffVM_Task", this.ref, {}, `powering off ${this.name}`, signal);
  }

  /** Asks the guest (VMware Tools) to shut down; does not wait. */
  async shutdownGuest(signal: AbortSignal): Promise<void> {
    await this.client.call("ShutdownGuest", this.ref, {}, signal, `shutting down the guest of ${this.name}`);
  }

  /** Waits until powered off. @throws TimeoutError after `timeoutMs` */
  async waitPoweredOff(timeoutMs: number, signal: AbortSignal): Promise<void> {
    const off = await this.client.poll(async () => ((await this.powerState(signal)) === "poweredOff" ? true : undefined), timeoutMs, signal);
    if (off === undefined) throw new TimeoutError(`Timeout while waiting for machine to shut down (${this.name}, shutdown_timeout ${Math.round(timeoutMs / 1000)}s)`);
  }

  async createSnapshot(name: string, signal: AbortSignal): Promise<void> {
    await this.client.runTask(
      "CreateSnapshot_Task",
      this.ref,
      { name, description: "", memory: false, quiesce: false },
      `creating snapshot '${name}' of ${this.name}`,
      signal,
    );
  }

  async markAsTemplate(signal: AbortSignal): Promise<void> {
    await this.client.call("MarkAsTemplate", this.ref, {}, signal, `converting ${this.name} to a template`);
  }

  /** Powers off if needed and deletes the VM from the inventory and its datastore. */
  async destroy(signal: AbortSignal): Promise<void> {
    const state = await this.powerState(signal);
    if (state === "") return; // already gone
    if (state !== "poweredOff") await this.powerOff(signal);
    await this.client.runTask("Destroy_Task", this.ref, {}, `destroying ${this.name}`, signal);
  }
}
