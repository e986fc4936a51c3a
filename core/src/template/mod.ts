/**
 * The template model: Packer legacy JSON templates parsed, validated, inspected and planned into jobs, with Packer
 * 1.6.6's behaviour and text. The engine (Go text/template) is ./engine, exported separately.
 *
 * ```
 *  CLI (user's side)                                   coordinator
 *  parseTemplate ─▶ resolveVariables ─▶ SubmitBuild ─▶ parseTemplate ─▶ validateParsed / planBuild ─▶ Job[]
 *  validateTemplate / validateSyntaxOnly / inspectTemplateText ─▶ formatValidateOutput / formatInspect
 * ```
 */
export { parseTemplate, parseTemplateJson } from "./model.js";
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
export {
  PACKER_COMPATIBLE_VERSION,
  resolveVariables,
  resolveVariablesOutcome,
  sensitiveValues,
  type ResolveVariablesInput,
  type VariablesOutcome,
} from "./variables.js";
export { planBuild, type PlanBuildInput } from "./plan.js";
export { renderCore, MAX_CORE_RENDERS } from "./core_render.js";
export {
  validateTemplate,
  validateParsed,
  validateSyntaxOnly,
  type ValidateOptions,
  type SyntaxOnlyOptions,
} from "./validate.js";
export { formatValidateOutput, assertValid, type ValidationReport, type PackerOutcome } from "./report.js";
export { formatInspect, inspectTemplateText, type InspectOptions } from "./inspect.js";
export type { CommandOutput, OutputOptions, Diagnostic } from "./output.js";
export { machineArg } from "./output.js";
export { PACKER_1_6_6_PLUGIN_TYPES, pluginTypeStatus, type PluginTypeStatus } from "./plugin_types.js";
export { isHcl2Path, parseHclJson, hclInspectMessages, type HclJsonConfig, type HclBuild } from "./hcl_json.js";
