/**
 * The outcome of `validate` / `inspect` as data, and how Packer 1.6.6 prints it. Keeping the verdict (classes,
 * problems with locations) apart from its rendering lets the CLI print Packer's exact text while tests and the
 * coordinator work with codes.
 */
import type { Template } from "./model.js";
import { PackerUi, writeDiagnostics, type CommandOutput, type Diagnostic, type OutputOptions } from "./output.js";
import { TemplateParseError, TemplateValidationError, VarFileError, type ProblemClass, type TemplateProblem } from "./problems.js";

/** What Packer prints for a validate run, before rendering. */
export type PackerOutcome =
  /** `Failed to parse template: <message>` (exit 1). */
  | { readonly kind: "parse-failure"; readonly message: string }
  /** A line printed as it is (exit 1), e.g. a var file that does not decode. */
  | { readonly kind: "plain-error"; readonly message: string }
  /** `Syntax-only check passed. Everything looks okay.` (exit 0). */
  | { readonly kind: "syntax-ok" }
  /** HCL diagnostics: errors (exit 1) and/or warnings; none at all prints nothing (exit 0). */
  | { readonly kind: "diagnostics"; readonly diagnostics: readonly Diagnostic[] };

/** The verdict of `validateTemplate` / `validateSyntaxOnly`. */
export interface ValidationReport {
  /** No errors (warnings may exist). */
  readonly valid: boolean;
  /**
   * The result classes of what Packer reports: the problems of the first stage that fails (Packer stops there).
   * Empty when valid.
   */
  readonly classes: readonly ProblemClass[];
  /**
   * Every problem kiln found. Unlike Packer, later stages are checked too where they can run on their own, so
   * this may hold more than `classes` covers; the problems Packer reports come first.
   */
  readonly problems: readonly TemplateProblem[];
  /** Things that work but deserve attention (Packer's prepare warnings). */
  readonly warnings: readonly TemplateProblem[];
  /** What Packer prints. */
  readonly outcome: PackerOutcome;
  /** The parsed template, when parsing succeeded. */
  readonly template?: Template;
}

/** Turns a parse-stage error into the report `validate` gives for it. */
export function reportFromParseError(err: unknown): ValidationReport {
  if (err instanceof TemplateParseError) {
    const outcome: PackerOutcome = err.mode === "hcl" ? { kind: "plain-error", message: err.packerMessage } : { kind: "parse-failure", message: err.packerMessage };
    return { valid: false, classes: ["parse-error"], problems: err.templateProblems, warnings: [], outcome };
  }
  if (err instanceof VarFileError) {
    return {
      valid: false,
      classes: ["parse-error"],
      problems: [{ class: "parse-error", message: err.problems[0] ?? err.packerMessage }],
      warnings: [],
      outcome: { kind: "plain-error", message: err.packerMessage },
    };
  }
  throw err;
}

/** Renders the outcome exactly as `packer validate` prints it, with its exit code. */
export function formatValidateOutput(report: ValidationReport, options: OutputOptions = {}): CommandOutput {
  const ui = new PackerUi(options);
  const outcome = report.outcome;
  let exitCode = 0;
  switch (outcome.kind) {
    case "parse-failure":
      ui.error(`Failed to parse template: ${outcome.message}`);
      exitCode = 1;
      break;
    case "plain-error":
      ui.error(outcome.message);
      exitCode = 1;
      break;
    case "syntax-ok":
      ui.say("Syntax-only check passed. Everything looks okay.");
      break;
    case "diagnostics":
      exitCode = writeDiagnostics(ui, outcome.diagnostics);
      break;
  }
  return { stdout: ui.text(), exitCode };
}

/** Throws every problem of the report as one error when it is not valid (for callers that want an exception). */
export function assertValid(report: ValidationReport): void {
  if (!report.valid) throw new TemplateValidationError(report.problems);
}
