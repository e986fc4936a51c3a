/**
 * The template engine, as the agent uses it: core's Go `text/template` with Packer's functions. One module so the
 * runner, the compiler and the plugins render through the same entry.
 */
export { render, renderCore, interpolateValue, type EngineContext } from "../../core/src/mod.js";
export { basicPlaceholderData } from "../../core/src/mod.js";
