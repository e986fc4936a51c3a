/** Cancellation helpers: every wait listens to the job's signal. */
import { setTimeout as delay } from "node:timers/promises";
import { CancelledError, ErrorCode, ensureKilnError, hasErrorCode, type KilnError } from "../../../core/src/mod.js";

/** The typed reason a signal was aborted with (the worker aborts with a CancelledError). */
export function cancellationOf(signal: AbortSignal): KilnError {
  const reason: unknown = signal.reason;
  return hasErrorCode(reason, ErrorCode.Cancelled) ? ensureKilnError(reason) : new CancelledError(undefined, { cause: reason });
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
