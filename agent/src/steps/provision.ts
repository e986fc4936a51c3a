/**
 * The shared provision step (Packer's StepProvision): runs the provisioners; after a failure its cleanup runs the
 * error-cleanup-provisioner.
 */
import { ensureKilnError } from "../../../core/src/mod.js";
import type { Communicator } from "../communicators/communicator.js";
import type { PipelineState, Step } from "../pipeline/mod.js";
import type { ProvisionHook } from "../plugin_api.js";

export interface ProvisionStepOptions {
  /**
   * Whether a failure runs the error-cleanup-provisioner. Packer's multistep builders do; the file builder calls the
   * hook directly and does not, and kiln keeps that difference.
   * @default true
   */
  readonly errorCleanup?: boolean;
  /** The build values the provisioners render with (Packer's provision hook data); none by default. */
  readonly hookData?: () => Readonly<Record<string, string>> | undefined;
  /** The connection the provisioners use (set by the builder's connect step); none by default. */
  readonly communicator?: () => Communicator | undefined;
}

export function provisionStep<S extends PipelineState>(hook: ProvisionHook, options: ProvisionStepOptions = {}): Step<S> {
  const errorCleanup = options.errorCleanup ?? true;
  return {
    name: "provision",
    runsCleanupProvisioner: errorCleanup,
    async run(ctx, state) {
      try {
        await hook.provision(ctx, options.hookData?.(), options.communicator?.());
        return "continue";
      } catch (err) {
        state.error = ensureKilnError(err);
        return "halt";
      }
    },
    cleanup: errorCleanup
      ? async (state, _outcome, ctx) => {
          if (state.error === undefined) return;
          ctx.log("say", "Provisioning step had errors: Running the cleanup provisioner, if present...");
          try {
            await hook.cleanupProvision(ctx, options.hookData?.(), options.communicator?.());
          } catch (err) {
            ctx.log("error", ensureKilnError(err).message);
          }
        }
      : undefined,
  };
}
