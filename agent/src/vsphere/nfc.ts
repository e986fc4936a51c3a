/**
 * An HttpNfcLease for an export (VirtualMachine.ExportVm): wait until it is ready, download its device URLs while
 * reporting progress (which also keeps the lease from timing out), then complete it, or abort it on failure or
 * cancel. What govmomi's nfc.Lease does for Packer's StepExport.
 */
import { createWriteStream } from "node:fs";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BuildFailedError } from "../../../core/src/mod.js";
import { cancellationOf } from "../util/abort.js";
import type { VsphereClient } from "./client.js";
import { MoRef, child, list, text, type Node } from "./soap.js";

/** One device URL of a ready lease. */
export interface LeaseDevice {
  /** The device's key (`/vm-42/VirtualLsiLogicController0:0`): the OvfFile deviceId for CreateDescriptor. */
  readonly key: string;
  readonly url: URL;
  /** vCenter's target id, usually empty for an export. */
  readonly targetId: string;
  readonly disk: boolean;
  /** 0 when the server does not know it. */
  readonly fileSize: number;
}

/** How often the transfer progress is reported (govmomi's lease updater reports every 2s). */
const PROGRESS_INTERVAL_MS = 2_000;

export class ExportLease {
  private transferred = 0;
  private total = 1;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly client: VsphereClient,
    readonly ref: MoRef,
  ) {}

  /** Waits until the lease leaves `initializing`. @throws BuildFailedError with the lease's error */
  async waitReady(what: string, timeoutMs: number, signal: AbortSignal): Promise<{ devices: LeaseDevice[]; totalDiskCapacityKB: number }> {
    const ready = await this.client.poll(
      async () => {
        const props = await this.client.props(this.ref, ["state", "info", "error"], signal);
        const state = text(props.get("state"));
        if (state === "initializing") return undefined;
        if (state === "ready") return props.get("info");
        const err = props.get("error");
        throw new BuildFailedError(`${what}: the export lease is ${state || "gone"}${err !== undefined ? `: ${text(child(err, "localizedMessage"))}` : ""}`);
      },
      timeoutMs,
      signal,
    );
    if (ready === undefined) throw new BuildFailedError(`${what}: the export lease did not become ready within ${Math.round(timeoutMs / 1000)}s`);
    return { devices: list(child(ready as Node, "deviceUrl")).map((d) => this.device(d)), totalDiskCapacityKB: Number(text(child(ready, "totalDiskCapacityInKB")) || "0") };
  }

  private device(d: Node): LeaseDevice {
    return {
      key: text(child(d, "key")),
      url: this.client.deviceUrl(text(child(d, "url"))),
      targetId: text(child(d, "targetId")),
      disk: text(child(d, "disk")) === "true",
      fileSize: Number(text(child(d, "fileSize")) || "0"),
    };
  }

  /**
   * Starts reporting progress against `totalBytes` (and calling `tick`, for the job's heartbeat, as long transfers
   * go on); stopped by {@link complete} and {@link abort}.
   */
  startProgress(totalBytes: number, tick: () => void = () => undefined): void {
    this.total = Math.max(1, totalBytes);
    this.timer = setInterval(() => {
      tick();
      const percent = Math.min(100, Math.floor((this.transferred * 100) / this.total));
      void this.client.call("HttpNfcLeaseProgress", this.ref, { percent }, AbortSignal.timeout(10_000)).catch(() => undefined);
    }, PROGRESS_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Streams one device URL into `file` (never buffering the whole file), feeding every chunk to `onChunk` (the
   * manifest hash). @returns the number of bytes written
   */
  async download(device: LeaseDevice, file: string, signal: AbortSignal, onChunk?: (chunk: Buffer) => void): Promise<number> {
    const res = await this.client.openDownload(device.url, signal);
    let bytes = 0;
    const count = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        bytes += chunk.length;
        this.transferred += chunk.length;
        onChunk?.(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(res, count, createWriteStream(file), { signal });
    } catch (err) {
      if (signal.aborted) throw cancellationOf(signal);
      throw new BuildFailedError(`downloading ${device.url.pathname} to ${file}: ${(err as Error).message}`, { cause: err });
    }
    return bytes;
  }

  async complete(signal: AbortSignal): Promise<void> {
    this.stopProgress();
    await this.client.call("HttpNfcLeaseComplete", this.ref, {}, signal, "unable to complete lease");
  }

  /** Releases the lease without completing it; never throws (best effort on a fresh signal). */
  async abort(): Promise<void> {
    this.stopProgress();
    await this.client.call("HttpNfcLeaseAbort", this.ref, {}, AbortSignal.timeout(30_000)).catch(() => undefined);
  }

  private stopProgress(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
