/**
 * Post-processor chains with Packer 1.6.6's keep/destroy rules (`CoreBuild.Run`):
 * - each chain starts from the builder's artifact; an error, or no artifact, ends only that chain;
 * - a plugin's `keep` default yields to the user's `keep_input_artifact`, unless the plugin forces it;
 * - the builder's artifact is kept when there are no post-processors or when any chain's first step keeps it;
 * - inside a chain, a kept intermediate artifact is listed, one not kept is destroyed;
 * - the list is: the builder's artifact (if kept), then per chain its kept intermediates and its last artifact.
 */
import { ensureKilnError } from "../../core/src/mod.js";
import type { ManifestEntry } from "../../proto/src/mod.js";
import type { LocalArtifact } from "./artifact.js";
import type { PluginContext, PostProcessorInstance } from "./plugin_api.js";
import { throwIfCancelled } from "./util/abort.js";

/** A post-processor ready to run, with its template meta-keys. */
export interface CompiledPostProcessor {
  readonly type: string;
  readonly name: string;
  /** The user's `keep_input_artifact`, when set. */
  readonly keepInputArtifact?: boolean;
  readonly instance: PostProcessorInstance;
}

export interface PostProcessOutcome {
  /** In the order Packer lists them (`--> name: ...`), duplicates included. */
  readonly artifacts: readonly LocalArtifact[];
  /** Packer's per-chain errors (`Post-processor failed: ...`), which fail the build. */
  readonly errors: readonly string[];
  readonly manifestEntries: readonly ManifestEntry[];
}

/**
 * Runs every chain on the builder's artifact. Throws only the cancellation; plugin failures are collected in
 * `errors`, as Packer does, and do not stop the other chains.
 */
export async function runPostProcessors(
  chains: readonly (readonly CompiledPostProcessor[])[],
  builderArtifact: LocalArtifact,
  ctx: PluginContext,
  produced: (artifact: LocalArtifact) => Promise<void>,
): Promise<PostProcessOutcome> {
  const nonEmpty = chains.filter((c) => c.length > 0);
  const listed: LocalArtifact[] = [];
  const errors: string[] = [];
  const manifestEntries: ManifestEntry[] = [];
  let keepOriginal = nonEmpty.length === 0;

  for (const chain of nonEmpty) {
    let prior: LocalArtifact | undefined = builderArtifact;
    for (const [i, pp] of chain.entries()) {
      throwIfCancelled(ctx.signal);
      const input: LocalArtifact = prior;
      ctx.log("say", `Running post-processor: ${pp.type}`);
      let result;
      try {
        // Packer hands each post-processor its input's generated data (`{{.ID}}` in its templates).
        result = await pp.instance.postProcess({ ...ctx, generatedData: input.generatedData }, input);
      } catch (err) {
        throwIfCancelled(ctx.signal);
        errors.push(`Post-processor failed: ${ensureKilnError(err).message}`);
        prior = undefined;
        break;
      }
      if (result.manifestEntry) manifestEntries.push(result.manifestEntry);
      if (result.artifact === undefined) {
        prior = undefined; // a nil artifact ends the chain, silently
        break;
      }
      if (result.artifact !== input) await produced(result.artifact);
      let keep = result.keep;
      if (pp.keepInputArtifact !== undefined && !(result.keep && !pp.keepInputArtifact && result.forceOverride)) {
        keep = pp.keepInputArtifact;
      }
      if (i === 0) {
        // The builder's artifact may feed other chains: it is destroyed (or not) once, at the end.
        if (keep) keepOriginal = true;
      } else if (keep) {
        listed.push(input);
      } else {
        try {
          await input.destroy();
        } catch (err) {
          errors.push(`Failed cleaning up prior artifact: ${ensureKilnError(err).message}; pp is ${pp.type}`);
        }
      }
      prior = result.artifact;
    }
    if (prior !== undefined) listed.push(prior);
  }

  if (keepOriginal) {
    listed.unshift(builderArtifact);
  } else {
    try {
      await builderArtifact.destroy();
    } catch (err) {
      errors.push(`Error destroying builder artifact: ${ensureKilnError(err).message}`);
    }
  }
  return { artifacts: listed, errors, manifestEntries };
}
