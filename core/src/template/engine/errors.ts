import { ErrorCode, KilnError, type KilnErrorOptions } from "../../errors.js";

/**
 * A template text could not be parsed or executed. The message is phrased exactly like Go's text/template
 * (`template: root:1:2: executing "root" at <env `X`>: error calling env: ...`), because users compare it with
 * what `packer validate` printed for the same template.
 */
export class TemplateEngineError extends KilnError {
  /** `parse` when the text is malformed; `exec` when it parsed but failed while running. */
  readonly phase: "parse" | "exec";
  /**
   * Where in a JSON value the failing string sits (`provisioners[0].inline[2]`), when the error came from
   * `interpolateValue`; undefined for a direct `render`.
   */
  readonly path: string | undefined;
  constructor(message: string, phase: "parse" | "exec", options?: KilnErrorOptions & { path?: string }) {
    super(ErrorCode.InvalidTemplate, message, options);
    this.name = "TemplateEngineError";
    this.phase = phase;
    this.path = options?.path;
  }

  /** The same error, located at a JSON path. */
  at(path: string): TemplateEngineError {
    return new TemplateEngineError(this.message, this.phase, { cause: this.cause, path, retryable: this.retryable });
  }
}

/**
 * Thrown by a template function to report its Go `error` result; the executor turns it into
 * `error calling <name>: <message>`. Never escapes the engine.
 */
export class FuncCallError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FuncCallError";
  }
}
