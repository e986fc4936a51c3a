/** Cancellation helpers: every wait listens to the job's signal. */
import { setTimeout as delay } from "node:timers/promises";
import { CancelledError, ErrorCode, KilnError, ensureKilnError, hasErrorCode } from "../../../core/src/mod.js";

/**
 * The typed reason a signal was aborted with: the worker aborts a job with a CancelledError (cancel, shutdown) or
 * with the error that stopped it (a TimeoutError when the job's or the build's timeout passes).
 */
export function cancellationOf(signal: AbortSignal): KilnError {
  const reason: unknown = signal.reason;
  if (hasErrorCode(reason, ErrorCode.Cancelled) || reason instanceof KilnError) return ensureKilnError(reason);
  return new CancelledError(undefined, { cause: reason });
}

/** How a job stopped by `reason` ends: cancelled for a cancel, failed for anything else (a timeout, say). */
export function stoppedJobState(reason: KilnError): "cancelled" | "failed" {
  return reason.code === ErrorCode.Cancelled ? "cancelled" : "failed";
}

/** Throws the cancellation if the signal has fired. */
export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw cancellationOf(signal);
}

/** Sleeps `ms`, or rejects with the cancellation as soon as the signal fires. */
export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    if (signal.aborted) throw cancellationOf(signal);
    throw err;
  }
}
