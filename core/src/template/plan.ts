/**
 * The planner: one template + resolved variables → one `Job` per build (the coordinator's step 2).
 *
 * A job carries exactly what Packer's `Core.Build(name)` assembles for that build — the builder's config, the
 * provisioners its `only`/`except` select with `override` merged for it, the error-cleanup provisioner, the
 * post-processor chains after `only`/`except` and the command line's `-except` — plus what the agent needs to run it
 * on its own (variables, sensitive names, run statics, options, workspace). Configs stay uninterpolated: the agent
 * renders them, because `{{template_dir}}`, `{{pwd}}` and build data are the agent's.
 */
import type { BuildOptions, Job, PostProcessorChain, Provisioner, RunStatics, Workspace } from "../../../proto/src/mod.js";
import { checkMinVersion, checkStructure, postProcessorChainsOf, provisionersOf, renderBuildNames, selectBuilds } from "./builds.js";
import { membersToJson, provisionerConfigFor, type Template, type TemplateProvisioner } from "./model.js";
import { TemplateValidationError, type TemplateProblem } from "./problems.js";
import { checkRequiredVariables } from "./variables.js";

/** What {@link planBuild} needs. */
export interface PlanBuildInput {
  readonly template: Template;
  /** The final user variables (resolved on the CLI side: defaults, var files, -var, env in defaults). */
  readonly variables: Readonly<Record<string, string>>;
  /** `-only`: build names (rendered) to run. Post-processors are not matched (as in Packer). */
  readonly only?: readonly string[];
  /** `-except`: build names to skip, and post-processor names (or types) whose chain stops there. */
  readonly except?: readonly string[];
  readonly buildId: string;
  readonly statics: RunStatics;
  readonly options: BuildOptions;
  readonly workspace: Workspace;
  /** Where every job must run; "" means any. */
  readonly datacenter: string;
  /**
   * The template's directory, for `{{template_dir}}` in build names, when known where planning happens.
   * @default the workspace's `local_template_dir` (embedded farm), else unavailable
   */
  readonly templateDir?: string;
}

function provisionerJob(p: TemplateProvisioner, rawBuildName: string): Provisioner {
  return {
    type: p.type,
    config_json: membersToJson(provisionerConfigFor(p, rawBuildName).members),
    pause_before: p.pauseBefore,
    max_retries: p.maxRetries,
    timeout: p.timeout,
  };
}

function toNumber(v: RunStatics["init_time_unix"]): number {
  if (v === undefined || v === null) return 0;
  return typeof v === "object" ? Number(v.toString()) : Number(v);
}

/**
 * Plans a build: one job per build name, in template order, ids `j0`, `j1`, ... in that order.
 *
 * Checks first what Packer checks before building (structure, `min_packer_version`, required variables, build names
 * that render and do not collide), all problems at once. Plugin configs are not checked here: see
 * `validateTemplate` / `validateParsed`.
 *
 * @throws TemplateValidationError
 */
export function planBuild(input: PlanBuildInput): Job[] {
  const { template, variables } = input;
  const problems: TemplateProblem[] = [...checkStructure(template)];
  const min = checkMinVersion(template);
  if (min !== undefined) problems.push(min);
  problems.push(...(checkRequiredVariables(template, variables)?.problems ?? []));
  const initMs = toNumber(input.statics.init_time_nanos) / 1e6 || toNumber(input.statics.init_time_unix) * 1000;
  const templateDir = input.templateDir ?? input.workspace.local_template_dir ?? "";
  const names = renderBuildNames(template, variables, {
    statics: { initTimeUnix: toNumber(input.statics.init_time_unix), initTimeMs: initMs, uuid: input.statics.template_uuid ?? "" },
    ...(templateDir === "" ? {} : { templateDir }),
  });
  if (!names.ok) problems.push(names.problem);
  else problems.push(...names.collisions);
  if (problems.length > 0 || !names.ok) throw new TemplateValidationError(problems);

  const except = input.except ?? [];
  const selected = selectBuilds(names.builds, input.only ?? [], except);
  const datacenter = input.datacenter === "" ? "any" : input.datacenter;
  return selected.map((build, i): Job => {
    const raw = build.builder.name;
    const chains: PostProcessorChain[] = postProcessorChainsOf(template, raw, except).map((chain) => ({
      steps: chain.map((pp) => ({
        type: pp.type,
        name: pp.name,
        config_json: membersToJson(pp.configMembers),
        has_keep_input_artifact: pp.keepInputArtifact !== undefined,
        keep_input_artifact: pp.keepInputArtifact ?? false,
      })),
    }));
    const cleanup = template.cleanupProvisioner;
    return {
      build_id: input.buildId,
      job_id: `j${i}`,
      name: build.name,
      builder_type: build.builder.type,
      builder_config_json: build.builder.configJson,
      provisioners: provisionersOf(template, raw).map((p) => provisionerJob(p, raw)),
      ...(cleanup === undefined ? { has_error_cleanup_provisioner: false } : { error_cleanup_provisioner: provisionerJob(cleanup, raw), has_error_cleanup_provisioner: true }),
      post_processor_chains: chains,
      datacenter,
      user_variables: { ...variables },
      sensitive_variables: [...template.sensitiveVariables],
      options: input.options,
      workspace: input.workspace,
      statics: input.statics,
      template_json: template.text,
    };
  });
}
