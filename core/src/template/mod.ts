/**
 * The template model: Packer legacy JSON templates parsed, validated, inspected and planned into jobs, with Packer
 * 1.6.6's exact behaviour and text. The engine (Go text/template) lives in ./engine and is exported separately.
 */
export { parseTemplate, parseTemplateJson, deepFreeze } from "./model.js";
export type {
  Template,
  ParsedTemplate,
  TemplateVariable,
  TemplateBuilder,
  TemplateProvisioner,
  TemplatePostProcessor,
  PluginConfig,
} from "./model.js";
export type { JsonDocument, JsonNode, JsonMember, SourcePos } from "./json_parser.js";
export {
  ProblemClass,
  TemplateParseError,
  TemplateValidationError,
  VarFileError,
  describeProblem,
  type SourceLocation,
  type TemplateProblem,
} from "./problems.js";
export { readVarFiles, type VarFileInput } from "./var_files.js";
export { validateSyntaxOnly, type SyntaxOnlyOptions } from "./validate.js";
export { formatValidateOutput, assertValid, type ValidationReport, type PackerOutcome } from "./report.js";
export { formatInspect, inspectTemplateText, type InspectOptions } from "./inspect.js";
export type { CommandOutput, OutputOptions, Diagnostic } from "./output.js";
export { isHcl2Path, parseHclJson, hclInspectMessages, type HclJsonConfig, type HclBuild } from "./hcl_json.js";
