/**
 * What `validate` and the planner share: Packer's template-level checks (`Template.Validate`, min version), build
 * names (rendered with the user variables), `-only`/`-except`, and which provisioners and post-processors belong to
 * a build (`Core.Build`).
 */
import { TemplateEngineError, type EngineContext, type RunStaticsContext } from "./engine/mod.js";
import { renderCore } from "./core_render.js";
import { goParseVersion, goVersionLessThan, goVersionString } from "./go_compat.js";
import type { Template, TemplateBuilder, TemplatePostProcessor, TemplateProvisioner } from "./model.js";
import { ProblemClass, type TemplateProblem } from "./problems.js";
import { PACKER_COMPATIBLE_VERSION } from "./variables.js";

/** `OnlyExcept.Skip`: whether a provisioner or post-processor is left out of the build with this raw name. */
export function skips(oe: { readonly only: readonly string[]; readonly except: readonly string[] }, rawName: string): boolean {
  if (oe.only.length > 0) return !oe.only.includes(rawName);
  if (oe.except.length > 0) return oe.except.includes(rawName);
  return false;
}

/**
 * `Template.Validate`: at least one builder; only/except exclusive and naming builders that exist; overrides naming
 * builders that exist; the same for post-processors. Names are the raw (uninterpolated) build names.
 */
export function checkStructure(template: Template): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  const names = new Set(template.builders.map((b) => b.name));
  if (template.builders.length === 0) {
    problems.push({
      class: ProblemClass.NoBuilders,
      message: "at least one builder must be defined",
      location: { file: template.fileName, path: "builders", line: 1, column: 1 },
    });
  }
  const onlyExcept = (label: string, oe: TemplateProvisioner | TemplatePostProcessor): void => {
    const at = { location: oe.location };
    if (oe.only.length > 0 && oe.except.length > 0) {
      problems.push({ class: ProblemClass.Config, message: `${label}: only one of 'only' or 'except' may be specified`, ...at });
      return;
    }
    for (const n of oe.only) if (!names.has(n)) problems.push({ class: ProblemClass.Config, message: `${label}: 'only' specified builder '${n}' not found`, ...at });
    for (const n of oe.except) if (!names.has(n)) problems.push({ class: ProblemClass.Config, message: `${label}: 'except' specified builder '${n}' not found`, ...at });
  };
  template.provisioners.forEach((p, i) => {
    onlyExcept(`provisioner ${i + 1}`, p);
    for (const [name, member] of p.override) {
      if (!names.has(name)) {
        problems.push({
          class: ProblemClass.Config,
          message: `provisioner ${i + 1}: override '${name}' doesn't exist`,
          location: { file: template.fileName, path: `${p.location.path}.override`, line: member.keyPos.line, column: member.keyPos.column },
        });
      }
    }
  });
  template.postProcessors.forEach((chain, i) => chain.forEach((pp, j) => onlyExcept(`post-processor ${i + 1}.${j + 1}`, pp)));
  return problems;
}

/** `min_packer_version` against kiln's Packer-compatible version. */
export function checkMinVersion(template: Template): TemplateProblem | undefined {
  if (template.minVersion === "") return undefined;
  const location = { file: template.fileName, path: "min_packer_version", line: 1, column: 1 };
  let min;
  try {
    min = goParseVersion(template.minVersion);
  } catch (err) {
    return { class: ProblemClass.MinVersion, message: `min_version is invalid: ${(err as Error).message}`, location };
  }
  if (!goVersionLessThan(goParseVersion(PACKER_COMPATIBLE_VERSION), min)) return undefined;
  return {
    class: ProblemClass.MinVersion,
    message: `This template requires Packer version ${goVersionString(min)} or higher; using ${PACKER_COMPATIBLE_VERSION}`,
    location,
  };
}

/** A builder with its build name as Packer uses it (rendered with the user variables). */
export interface NamedBuild {
  readonly builder: TemplateBuilder;
  /** The rendered build name: what `-only`/`-except` match and what output shows. */
  readonly name: string;
}

/** Where `{{template_dir}}` and friends point while build names and configs are rendered. */
export interface RenderPlace {
  readonly templateDir?: string;
  readonly pwd?: string;
  readonly statics: RunStaticsContext;
}

/** Core's interpolation context (`Core.Context()`): user variables, no env, no build data. */
export function coreContext(variables: Readonly<Record<string, string>>, place: RenderPlace): EngineContext {
  return {
    userVariables: variables,
    packerVersion: PACKER_COMPATIBLE_VERSION,
    statics: place.statics,
    ...(place.templateDir === undefined ? {} : { templateDir: place.templateDir }),
    ...(place.pwd === undefined ? {} : { pwd: place.pwd }),
  };
}

/** Build names, or Packer's error for the first name that does not render. */
export type BuildNamesOutcome =
  | { readonly ok: true; readonly builds: readonly NamedBuild[]; readonly collisions: readonly TemplateProblem[] }
  | { readonly ok: false; readonly problem: TemplateProblem };

/**
 * Renders every build name (Packer does this right after the variables). Two builders whose names render the same
 * are reported in `collisions`: Packer keeps one of them at random; kiln keeps the first in template order.
 */
export function renderBuildNames(template: Template, variables: Readonly<Record<string, string>>, place: RenderPlace): BuildNamesOutcome {
  const ctx = coreContext(variables, place);
  const builds: NamedBuild[] = [];
  const collisions: TemplateProblem[] = [];
  const seen = new Map<string, TemplateBuilder>();
  for (const builder of template.builders) {
    let name: string;
    try {
      name = renderCore(builder.name, ctx);
    } catch (err) {
      if (!(err instanceof TemplateEngineError)) throw err;
      return {
        ok: false,
        problem: { class: ProblemClass.Config, message: `Error interpolating builder '${builder.name}': ${err.message}`, location: builder.location },
      };
    }
    const first = seen.get(name);
    if (first !== undefined) {
      collisions.push({
        class: ProblemClass.Config,
        message: `builders[${builder.index}] and builders[${first.index}] both have the build name '${name}'; only the first is built`,
        location: builder.location,
      });
      continue;
    }
    seen.set(name, builder);
    builds.push({ builder, name });
  }
  return { ok: true, builds, collisions };
}

/** `Core.BuildNames`: the builds `-only` / `-except` select, in template order. Patterns are plain names. */
export function selectBuilds(builds: readonly NamedBuild[], only: readonly string[], except: readonly string[]): NamedBuild[] {
  return builds.filter((b) => (only.length === 0 || only.includes(b.name)) && !except.includes(b.name));
}

/** The provisioners that run in a build (`only`/`except` against the raw build name). */
export function provisionersOf(template: Template, rawName: string): TemplateProvisioner[] {
  return template.provisioners.filter((p) => !skips(p, rawName));
}

/**
 * The post-processor chains of a build (`Core.Build`): each chain without the post-processors its `only`/`except`
 * leave out; a post-processor whose name is in the command line's `-except` ends its chain there (it and the rest
 * are dropped); empty chains are dropped.
 */
export function postProcessorChainsOf(template: Template, rawName: string, except: readonly string[]): TemplatePostProcessor[][] {
  const chains: TemplatePostProcessor[][] = [];
  for (const chain of template.postProcessors) {
    const current: TemplatePostProcessor[] = [];
    for (const pp of chain) {
      if (skips(pp, rawName)) continue;
      if (except.some((e) => e !== "" && e === pp.name)) break;
      current.push(pp);
    }
    if (current.length > 0) chains.push(current);
  }
  return chains;
}
