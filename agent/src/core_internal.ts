/**
 * The parts of core the agent uses that core/src/mod.ts does not re-export yet: the plugin schemas and the template
 * engine's types. Kept in this one module so that the deep imports (an exception to the mod.ts-only rule) live in a
 * single place; once core/src/mod.ts re-exports `./plugins/mod.js` and the engine, this becomes a plain re-export.
 */
/* eslint-disable no-restricted-imports -- see above: core/src/mod.ts does not re-export these yet */
export * from "../../core/src/plugins/mod.js";
export type { EngineContext, RunStaticsContext } from "../../core/src/template/engine/types.js";
/* eslint-enable no-restricted-imports */
