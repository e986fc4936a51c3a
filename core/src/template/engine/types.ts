/**
 * The contract of kiln's Go `text/template` engine (the JSON template language of Packer). Implemented in
 * ./render.ts; callers import only `render`, `parseTemplateText` and these types through ../mod.ts or core/src/mod.ts.
 */

/** Values Packer fixes once per run; in a farm, once per build, identical in every job of it. */
export interface RunStaticsContext {
  /** `{{timestamp}}`: Unix seconds. */
  readonly initTimeUnix: number;
  /** `{{isotime}}` / `{{strftime}}`: the instant they format (ms since epoch, UTC). */
  readonly initTimeMs: number;
  /** `{{uuid}}`. */
  readonly uuid: string;
}

export interface EngineContext {
  /** `{{user \`x\`}}`. A name not in the map is an error, as in Packer. */
  readonly userVariables: Readonly<Record<string, string>>;
  /**
   * `{{env \`X\`}}` is allowed only while this is set (Packer: only inside `variables` defaults). Unset means
   * "env vars are not allowed here".
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly buildName?: string;
  readonly buildType?: string;
  readonly templateDir?: string;
  readonly pwd?: string;
  /** `{{packer_version}}`: kiln reports a Packer-compatible version. */
  readonly packerVersion: string;
  readonly statics: RunStaticsContext;
  /** Dot fields (`{{.Path}}`, `{{.HTTPIP}}`); a missing field renders as Go does. */
  readonly data?: Readonly<Record<string, unknown>>;
  /** `{{build \`Key\`}}` values. A missing key renders Packer's placeholder behaviour. */
  readonly buildValues?: Readonly<Record<string, string>>;
  /** Extra functions a plugin injects (e.g. `clean_resource_name`). */
  readonly funcs?: Readonly<Record<string, (...args: unknown[]) => unknown>>;
}

/** A template text could not be parsed or executed. `message` is phrased like Go's text/template errors. */
export interface TemplateFailure {
  readonly message: string;
}
