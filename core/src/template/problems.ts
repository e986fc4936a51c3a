/**
 * How the template module reports what is wrong: every problem carries Packer's exact text (so kiln can print what
 * `packer validate` prints), a result class (what kind of failure it is, comparable with Packer's), and where it is
 * (file, JSON path, line) so kiln's own messages can point at it.
 */
import { InvalidTemplateError, type KilnErrorOptions } from "../errors.js";

/** Where a problem is. `line`/`column` are 1-based; `path` is a JSON path such as `builders[2].content`. */
export interface SourceLocation {
  readonly file: string;
  readonly path: string;
  readonly line: number;
  readonly column: number;
}

/**
 * The kind of a failure, named like the `validate_class` labels of the corpus oracle (ORACLE.tsv) so a differential
 * test can compare kiln's verdict with Packer's.
 */
export const ProblemClass = {
  /** The file is not a template: JSON syntax, duplicate keys, wrong shapes, missing `type`, unknown root keys. */
  ParseError: "parse-error",
  /** `at least one builder must be defined`. */
  NoBuilders: "no-builders",
  /** A required variable is not set, or a default refers to a variable that never resolves. */
  RequiredVar: "required-var",
  /** `min_packer_version` is higher than the Packer version kiln is compatible with (or malformed). */
  MinVersion: "min-version",
  /** Any other configuration error (bad only/except/override, a plugin config problem, ...). */
  Config: "config",
  /** A plugin config key the plugin does not know. */
  UnknownKey: "unknown-key",
  /** A plugin config key Packer 1.6.6 rejects as deprecated (`packer fix`). */
  DeprecatedKey: "deprecated-key",
  /** A plugin type Packer 1.6.6 does not know at all. */
  UnknownType: "unknown-type",
  /** A plugin type Packer 1.6.6 knows but kiln does not run (yet). kiln-only. */
  Unsupported: "unsupported",
} as const;
export type ProblemClass = (typeof ProblemClass)[keyof typeof ProblemClass];

/** One thing wrong with a template or its inputs. */
export interface TemplateProblem {
  readonly class: ProblemClass;
  /** The text Packer 1.6.6 prints for this problem (or kiln's text where Packer has none). */
  readonly message: string;
  readonly location?: SourceLocation;
}

/** `file:line:column: path: message` — the one-line form kiln shows people. */
export function describeProblem(p: TemplateProblem): string {
  const at = p.location;
  if (at === undefined) return p.message;
  const where = `${at.file}:${at.line}:${at.column}`;
  return at.path === "" ? `${where}: ${p.message}` : `${where}: ${at.path}: ${p.message}`;
}

/**
 * A template (or var file) could not be read as one: parsing, decoding or the structural checks Packer makes while
 * parsing failed. `packerMessage` is exactly what Packer prints after `Failed to parse template: `; `problems` (the
 * message) are kiln's one-line forms with file, JSON path and line.
 */
export class TemplateParseError extends InvalidTemplateError {
  readonly packerMessage: string;
  readonly templateProblems: readonly TemplateProblem[];
  /**
   * `json`: Packer prints `Failed to parse template: <packerMessage>`; `hcl`: an HCL2 file, whose diagnostics
   * Packer prints as they are.
   */
  readonly mode: "json" | "hcl";
  constructor(packerMessage: string, problems: readonly TemplateProblem[], options?: KilnErrorOptions & { readonly mode?: "json" | "hcl" }) {
    super(problems.map(describeProblem), options);
    this.name = "TemplateParseError";
    this.packerMessage = packerMessage;
    this.templateProblems = Object.freeze([...problems]);
    this.mode = options?.mode ?? "json";
  }
}

/**
 * A var file (`-var-file`) could not be read. `packerMessage` is Packer's whole line
 * (`Error reading variables in 'vars.json': unexpected EOF`).
 */
export class VarFileError extends InvalidTemplateError {
  readonly packerMessage: string;
  readonly file: string;
  constructor(file: string, packerMessage: string, problem: string, options?: KilnErrorOptions) {
    super([problem], options);
    this.name = "VarFileError";
    this.packerMessage = packerMessage;
    this.file = file;
  }
}

/**
 * A template parsed but is not valid: problems from `validate` (structure, versions, variables, plugin configs).
 * `problems` are kiln's one-line forms; `templateProblems` keep classes and locations.
 */
export class TemplateValidationError extends InvalidTemplateError {
  readonly templateProblems: readonly TemplateProblem[];
  constructor(problems: readonly TemplateProblem[], options?: KilnErrorOptions) {
    super(problems.map(describeProblem), options);
    this.name = "TemplateValidationError";
    this.templateProblems = Object.freeze([...problems]);
  }
}

/** JSON path of a member: `a.b`, `a["x y"]`, `post-processors[0][1]`. */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return parent === "" ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}
