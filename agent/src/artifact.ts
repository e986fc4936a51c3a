/**
 * Artifacts as the agent handles them (Packer's `Artifact`): what plugins produce and consume, with `destroy()`
 * for the keep/destroy rules of post-processor chains. They become wire `Artifact`s only when reported.
 */
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Artifact } from "../../proto/src/mod.js";
import { BuildFailedError } from "../../core/src/mod.js";
import { goPathError } from "./util/go_text.js";

export interface LocalArtifact {
  /** Downstream plugins dispatch on it (e.g. `packer.file`). */
  readonly builderId: string;
  /** Packer's `Id()`. */
  readonly id: string;
  /** Packer's `String()`, the text of `--> name: ...`. */
  readonly description: string;
  /** File paths as the plugin reports them: relative to the job's working directory unless the user wrote them absolute. */
  readonly files: readonly string[];
  readonly state?: Readonly<Record<string, string>>;
  /**
   * Packer's `State("generated_data")`: the build values post-processors render their templates with
   * (`{{.ID}}`, `{{build \`ID\`}}`). Undefined when the builder provides none (the file builder).
   */
  readonly generatedData?: Readonly<Record<string, string>>;
  /** Removes what the artifact is (Packer's `Destroy()`); the error text is Go's. */
  destroy(): Promise<void>;
}

/** An artifact that is one file in the job's working directory; destroying it removes the file. */
export function singleFileArtifact(builderId: string, id: string, description: string, target: string, workDir: string): LocalArtifact {
  return {
    builderId,
    id,
    description,
    files: [target],
    async destroy() {
      try {
        await rm(path.resolve(workDir, target));
      } catch (err) {
        throw new BuildFailedError(goPathError("remove", target, err), { cause: err });
      }
    },
  };
}

/** The wire form of an artifact, with file sizes read from disk (0 for a file that is gone). */
export async function toWireArtifact(a: LocalArtifact, workDir: string, buildName: string, jobId: string): Promise<Artifact> {
  const files = await Promise.all(
    a.files.map(async (name) => {
      let size = 0;
      try {
        size = (await stat(path.resolve(workDir, name))).size;
      } catch {
        // destroyed by a later post-processor, or never a local file: Packer still lists it
      }
      return { name, size, sha256: "" };
    }),
  );
  return { builder_id: a.builderId, id: a.id, description: a.description, files, state: { ...(a.state ?? {}) }, build_name: buildName, job_id: jobId };
}
