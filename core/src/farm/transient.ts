/**
 * JetStream's answers while a cluster loses a node or moves a stream's leader: requests time out, find no responders
 * ("jetstream is not enabled" in nats.js), or get "JetStream cluster not available" (API error 10008) for a few
 * seconds until a new leader is elected. kiln's farm operations retry those instead of failing a job or a watch.
 */
import { setTimeout as sleep } from "node:timers/promises";

/** How long a farm operation keeps retrying a transient JetStream failure. */
export const TRANSIENT_RETRY_MS = 30_000; // 30 s: a leader election takes a few seconds
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

const TRANSIENT_NAMES = new Set(["JetStreamNotEnabled", "TimeoutError", "NoRespondersError"]);
/** JetStream API error codes that mean "no leader right now". */
const TRANSIENT_API_CODES = new Set([10008]);

/** True when `err` (or its cause) is a failure that a leader election ends. */
export function isTransientJetStreamError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (TRANSIENT_NAMES.has(e.name)) return true;
    if (e.name === "JetStreamApiError" && TRANSIENT_API_CODES.has((e as Error & { code?: number }).code ?? 0)) return true;
  }
  return false;
}

/**
 * Runs `op`, retrying with capped exponential backoff while it fails transiently, for at most `budgetMs`. Only for
 * operations that are safe to repeat (reads, compare-and-set, publishes with a message id).
 */
export async function retryTransient<T>(op: () => Promise<T>, budgetMs = TRANSIENT_RETRY_MS): Promise<T> {
  const deadline = Date.now() + budgetMs;
  let backoff = FIRST_BACKOFF_MS;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (!isTransientJetStreamError(err) || Date.now() + backoff > deadline) throw err;
      await sleep(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }
}
