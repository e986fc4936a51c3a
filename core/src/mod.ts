/** core: what coordinator, agent and CLI share — errors, the farm's NATS layer, the template language, plugin schemas. */
export * from "./errors.js";
export * from "./farm/mod.js";
export * from "./nats_server.js";
export * from "./orphans.js";
export * from "./telemetry.js";
export * from "./plugins/mod.js";
export * from "./template/mod.js";
export {
  render,
  interpolateValue,
  parseTemplateText,
  hasTemplateSyntax,
  TemplateEngineError,
  basicPlaceholderData,
  goQuote,
  type EngineContext,
  type RunStaticsContext,
  type InterpolateOptions,
} from "./template/engine/mod.js";
export * from "./artifacts/mod.js";
