/**
 * How Packer core renders a template string (`interpolate.Render` in the SDK Packer 1.6.6 is built with): it keeps
 * rendering the output until it no longer changes, so `{{user `x`}}` whose value holds `{{ .Foo }}` renders that
 * too (packer 1.6.6 prints `<no value>` for it in a build name). Core renders build names and `max_retries` this
 * way; variable values (`RenderRegex`) and plugin configs are rendered once (the engine's `render`).
 */
import { TemplateEngineError, render, type EngineContext } from "./engine/mod.js";

/** Renders beyond this are reported instead of looping forever (Packer would hang). */
export const MAX_CORE_RENDERS = 100;

/**
 * Renders `text` again and again until the result stops changing.
 * @throws TemplateEngineError from the pass that fails (Go's message), or when the text never settles.
 */
export function renderCore(text: string, ctx: EngineContext): string {
  let current = text;
  for (let pass = 0; pass < MAX_CORE_RENDERS; pass++) {
    const next = render(current, ctx);
    if (next === current) return next;
    current = next;
  }
  throw new TemplateEngineError(`template: root: the text still changes after ${MAX_CORE_RENDERS} renders: ${JSON.stringify(text)}`, "exec");
}
