/**
 * Runs a job's provisioners the way Packer 1.6.6 wraps them (core.go): `pause_before` OR `timeout` (Packer applies
 * the timeout only when there is no pause), then `max_retries` around that, so the pause repeats on every retry and
 * retries have no other backoff.
 */
import { CancelledError, TimeoutError, ensureKilnError, type KilnError, formatGoDuration, goQuote } from "../../core/src/mod.js";
import type { CleanupContext, PipelineContext } from "./pipeline/mod.js";
import type { Communicator } from "./communicators/communicator.js";
import { withSignal, type PluginContext, type ProvisionHook, type ProvisionerInstance } from "./plugin_api.js";
import { cancellationOf, sleep } from "./util/abort.js";

/** A provisioner ready to run, with its template meta-keys resolved. */
export interface CompiledProvisioner {
  readonly type: string;
  /** `pause_before` in ms; 0 = none. */
  readonly pauseBeforeMs: number;
  /** `timeout` in ms; 0 = none. */
  readonly timeoutMs: number;
  /** `max_retries` (rendered, parsed); 0 = no retry wrapper. */
  readonly maxRetries: number;
  readonly instance: ProvisionerInstance;
}

/** One attempt: the pause or the timeout wrapper around the provisioner. */
async function attempt(p: CompiledProvisioner, ctx: PluginContext): Promise<void> {
  if (p.pauseBeforeMs > 0) {
    ctx.log("say", `Pausing ${formatGoDuration(p.pauseBeforeMs)} before the next provisioner...`);
    await sleep(p.pauseBeforeMs, ctx.signal);
    return p.instance.provision(ctx);
  }
  if (p.timeoutMs > 0) {
    ctx.log("say", `Setting a ${formatGoDuration(p.timeoutMs)} timeout for the next provisioner...`);
    const timeout = AbortSignal.timeout(p.timeoutMs);
    const onTimeout = (): void => ctx.log("error", "Cancelling provisioner after a timeout...");
    timeout.addEventListener("abort", onTimeout, { once: true });
    try {
      await p.instance.provision(withSignal(ctx, AbortSignal.any([ctx.signal, timeout])));
    } catch (err) {
      if (timeout.aborted && !ctx.signal.aborted) throw new TimeoutError(ensureKilnError(err).message, { cause: err });
      throw err;
    } finally {
      timeout.removeEventListener("abort", onTimeout);
    }
    return;
  }
  return p.instance.provision(ctx);
}

/** Runs one provisioner with its wrappers. Throws its (first) failure, or the cancellation. */
export async function runProvisioner(p: CompiledProvisioner, ctx: PluginContext): Promise<void> {
  const asError = (err: unknown): KilnError => (ctx.signal.aborted ? cancellationOf(ctx.signal) : ensureKilnError(err));
  if (ctx.signal.aborted) throw cancellationOf(ctx.signal);
  let first: KilnError;
  try {
    return await attempt(p, ctx);
  } catch (err) {
    first = asError(err);
    if (p.maxRetries === 0 || first instanceof CancelledError) throw first;
  }
  for (let left = p.maxRetries; left > 0; left--) {
    if (ctx.signal.aborted) throw cancellationOf(ctx.signal);
    // Packer quotes the first failure in every retry message and returns it at the end (its loop shadows err).
    ctx.log("say", `Provisioner failed with ${goQuote(first.message)}, retrying with ${left} trie(s) left`);
    try {
      return await attempt(p, ctx);
    } catch (err) {
      const e = asError(err);
      if (e instanceof CancelledError) throw e;
    }
  }
  ctx.log("say", "retry limit reached.");
  throw first;
}

/**
 * The hook a builder's provision step calls. `contextFor` turns the step's context into the plugin context
 * (job facts, rendering).
 */
export function makeProvisionHook(
  provisioners: readonly CompiledProvisioner[],
  errorCleanup: CompiledProvisioner | undefined,
  contextFor: (ctx: PipelineContext, generatedData?: Readonly<Record<string, string>>, communicator?: Communicator) => PluginContext,
): ProvisionHook {
  return {
    async provision(ctx, generatedData, communicator) {
      const pctx = contextFor(ctx, generatedData, communicator);
      for (const p of provisioners) {
        await runProvisioner(p, pctx);
        ctx.heartbeat();
      }
    },
    async cleanupProvision(ctx: CleanupContext, generatedData, communicator) {
      if (errorCleanup === undefined) return;
      // Packer runs the cleanup provisioner with context.Background(): it still runs after a cancel.
      const signal = new AbortController().signal;
      const pctx = contextFor({ signal, log: (l, t) => ctx.log(l, t), heartbeat: () => ctx.heartbeat() }, generatedData, communicator);
      await runProvisioner(errorCleanup, pctx);
    },
  };
}
