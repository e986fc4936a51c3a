/**
 * The contract of kiln's Go `text/template` engine (the JSON template language of Packer). Implemented in
 * ./mod.ts (lexer.ts → parser.ts → exec.ts, with Packer's functions in funcs.ts); callers import only `render`,
 * `parseTemplateText`, `interpolateValue` and these types through ../mod.ts or core/src/mod.ts.
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
  /**
   * `{{user \`x\`}}`. As in Packer, a name not in the map is an error (`Error: variable not set: x`) while `env`
   * is set (that is, inside `variables` defaults, where Packer retries until every variable resolves); elsewhere
   * Packer renders it as the empty string. Set {@link strictUserVariables} to make it an error everywhere.
   */
  readonly userVariables: Readonly<Record<string, string>>;
  /**
   * Makes `{{user \`x\`}}` of an unknown name an error everywhere, not only inside `variables` defaults.
   * @default false (Packer's behaviour: the empty string)
   */
  readonly strictUserVariables?: boolean;
  /**
   * `{{env \`X\`}}` is allowed only while this is set (Packer: only inside `variables` defaults). Unset means
   * "env vars are not allowed here".
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly buildName?: string;
  readonly buildType?: string;
  readonly templateDir?: string;
  /** `{{pwd}}`. @default process.cwd() */
  readonly pwd?: string;
  /** `{{packer_version}}`: kiln reports a Packer-compatible version. */
  readonly packerVersion: string;
  readonly statics: RunStaticsContext;
  /** Dot fields (`{{.Path}}`, `{{.HTTPIP}}`); a missing field renders as Go does. */
  readonly data?: Readonly<Record<string, unknown>>;
  /**
   * `{{build \`Key\`}}` values. Unset: `build` is an error, as when Packer has no build data for the plugin.
   * A key that is absent is an error ("loaded data, but couldnt find Key in it."). A value containing
   * {@link BUILD_PLACEHOLDER_MSG} (see `basicPlaceholderData()`) renders as the placeholder `{{.Key}}`, so
   * a first pass before the build starts keeps the reference for the provisioner to fill in.
   */
  readonly buildValues?: Readonly<Record<string, string>>;
  /** Extra functions a plugin injects (e.g. `clean_resource_name`). */
  readonly funcs?: Readonly<Record<string, (...args: unknown[]) => unknown>>;
}

/** A template text could not be parsed or executed. `message` is phrased like Go's text/template errors. */
export interface TemplateFailure {
  readonly message: string;
}
