/**
 * The template engine's types, which core/src/mod.ts does not re-export yet. Kept in this one module so the deep
 * import (an exception to the mod.ts-only rule) lives in a single place.
 */
// eslint-disable-next-line no-restricted-imports -- see above
export type { EngineContext, RunStaticsContext } from "../../core/src/template/engine/types.js";
