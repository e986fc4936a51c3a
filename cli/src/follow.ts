/**
 * Following a build's event stream through coordinator restarts and fail-overs. Coordinators are stateless (state
 * lives in JetStream), so a broken stream is resumed, from the last sequence seen, on whichever coordinator answers
 * at the address next: no event is shown twice and none is skipped.
 */
import { TERMINAL_BUILD_STATES, UnavailableError, ensureKilnError } from "../../core/src/mod.js";
import type { BuildStatus__Output, JobEvent__Output } from "../../proto/src/mod.js";
import type { CoordinatorConnection } from "./client.js";

export interface FollowOptions {
  /** Resume after this event sequence (0: from the start). */
  readonly fromSeq?: number;
  /** Aborting stops following at once (no error). */
  readonly signal?: AbortSignal;
  /** Stop once the events stored so far are shown (`kiln logs` without -f) instead of waiting for the build's end. */
  readonly stopWhenCaughtUp?: boolean;
  readonly onEvent: (event: JobEvent__Output) => void;
  /** Told about each interruption and the wait before the next try. */
  readonly onInterruption?: (reason: string, retryInMs: number) => void;
  /** Told when the stream is back after an interruption. */
  readonly onResumed?: (afterMs: number) => void;
  /** How long the coordinator may stay unreachable before giving up (default 5 minutes). */
  readonly giveUpAfterMs?: number;
}

const FIRST_RETRY_MS = 200;
const MAX_RETRY_MS = 5_000;

/** Exponential backoff with full jitter over [delay/2, delay], so many CLIs do not reconnect in lockstep. */
function backoffMs(failures: number): number {
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Shows a build's events until the build ends (or, with `stopWhenCaughtUp`, until the stored ones are shown), riding
 * out coordinator restarts with backoff. Errors that are not about reaching the coordinator (an unknown build, say)
 * are thrown at once.
 *
 * @returns the build's status when it ended, or undefined when stopped by `signal` or `stopWhenCaughtUp`.
 */
export async function followBuildEvents(client: CoordinatorConnection, buildId: string, options: FollowOptions): Promise<BuildStatus__Output | undefined> {
  const { signal } = options;
  let lastSeq = options.fromSeq ?? 0;
  let failures = 0;
  let brokenSince: number | undefined;
  const giveUpAfterMs = options.giveUpAfterMs ?? 5 * 60_000;
  while (!signal?.aborted) {
    try {
      for await (const event of client.watch(buildId, lastSeq, signal, options.stopWhenCaughtUp)) {
        if (brokenSince !== undefined) {
          options.onResumed?.(Date.now() - brokenSince);
          brokenSince = undefined;
          failures = 0;
        }
        if (Number(event.seq) <= lastSeq) continue;
        lastSeq = Number(event.seq);
        options.onEvent(event);
      }
      if (signal?.aborted || options.stopWhenCaughtUp) return undefined;
      // The stream ended: either the build did, or the coordinator went away cleanly (a graceful restart).
      const status = await client.getBuild(buildId);
      if (brokenSince !== undefined) {
        options.onResumed?.(Date.now() - brokenSince);
        brokenSince = undefined;
        failures = 0;
      }
      if (TERMINAL_BUILD_STATES.has(status.build?.state ?? "")) return status;
    } catch (err) {
      if (signal?.aborted) return undefined;
      const error = ensureKilnError(err);
      if (!(error instanceof UnavailableError)) throw error;
      brokenSince ??= Date.now();
      if (Date.now() - brokenSince > giveUpAfterMs) {
        throw new UnavailableError(
          `${error.message}; gave up after ${Math.round(giveUpAfterMs / 1000)} s. The build goes on in the farm: follow it with 'kiln logs -f ${buildId}'.`,
          { cause: err },
        );
      }
      const wait = backoffMs(failures++);
      options.onInterruption?.(error.message, wait);
      await sleep(wait, signal);
    }
  }
  return undefined;
}
