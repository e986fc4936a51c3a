/**
 * `validate`: Packer 1.6.6's checks, in Packer's order, with Packer's verdict and text.
 *
 * ```
 *  parse ─▶ var files ─▶ [syntax-only stops] ─▶ structure ─▶ min version ─▶ required vars ─▶ variable defaults
 *        ─▶ build names ─▶ per build: plugin types (init) ─▶ plugin configs (prepare)
 * ```
 *
 * Packer stops at the first stage that fails; the report's `classes` and printed output follow that. kiln then
 * keeps checking the later stages that can run on their own, so `problems` lists everything wrong at once.
 */
import { isHcl2Path, parseHclJson } from "./hcl_json.js";
import { parseTemplate, type Template } from "./model.js";
import { TemplateParseError } from "./problems.js";
import { reportFromParseError, type ValidationReport } from "./report.js";
import { readVarFiles, type VarFileInput } from "./var_files.js";

/** Options of {@link validateSyntaxOnly}. */
export interface SyntaxOnlyOptions {
  /** `-var-file` files: Packer reads them even with `-syntax-only`. */
  readonly varFiles?: readonly VarFileInput[];
}

/**
 * `packer validate -syntax-only`: the template parses (JSON, keys, shapes) and the var files decode. Nothing is
 * interpolated and no plugin is consulted.
 */
export function validateSyntaxOnly(text: string | Uint8Array, fileName: string, options: SyntaxOnlyOptions = {}): ValidationReport {
  if (isHcl2Path(fileName)) {
    try {
      parseHclJson(text, fileName);
      return { valid: true, classes: [], problems: [], warnings: [], outcome: { kind: "syntax-ok" } };
    } catch (err) {
      if (err instanceof TemplateParseError) {
        return { valid: false, classes: ["parse-error"], problems: err.templateProblems, warnings: [], outcome: { kind: "plain-error", message: err.packerMessage } };
      }
      throw err;
    }
  }
  let template: Template;
  try {
    template = parseTemplate(text, fileName);
    readVarFiles(options.varFiles ?? []);
  } catch (err) {
    return reportFromParseError(err);
  }
  return { valid: true, classes: [], problems: [], warnings: [], outcome: { kind: "syntax-ok" }, template };
}
