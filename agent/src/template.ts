/**
 * The template engine, as the agent uses it: core's Go `text/template` with Packer's functions. One module so the
 * runner, the compiler and the plugins render through the same entry.
 */
export { render, renderCore, interpolateValue, type EngineContext } from "../../core/src/mod.js";
// eslint-disable-next-line no-restricted-imports -- core/src/mod.ts does not re-export the placeholder data (yet)
export { basicPlaceholderData } from "../../core/src/template/engine/mod.js";
