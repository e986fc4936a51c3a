/**
 * Turns a SubmitBuild request into jobs: the template is parsed and validated again here (the coordinator trusts no
 * client), with the variables the CLI resolved on the user's side.
 */
import type { Job__Output, RunStatics, SubmitBuildRequest__Output, Workspace } from "../../proto/src/mod.js";
import { codecs } from "../../proto/src/mod.js";
import { InvalidTemplateError, parseTemplate, planBuild, shippedPluginTypes } from "../../core/src/mod.js";

export interface PlanContext {
  readonly buildId: string;
  /** The trace context every job's spans descend from. */
  readonly traceContext: Record<string, string>;
  readonly datacenter: string;
  readonly statics: RunStatics;
  readonly workspace: Workspace;
}

export function planJobs(req: SubmitBuildRequest__Output, ctx: PlanContext): Job__Output[] {
  const template = parseTemplate(req.template_json, req.template_name || "template.json");
  const jobs = planBuild({
    template,
    variables: req.variables,
    only: req.only,
    except: req.except,
    buildId: ctx.buildId,
    statics: ctx.statics,
    options: req.options ?? {},
    workspace: ctx.workspace,
    datacenter: ctx.datacenter,
  });
  // The CLI validates fully on the user's side (where the template's files are); the coordinator re-checks what it
  // can without them, so that no client can queue work that no agent will ever run.
  const runnable = shippedPluginTypes();
  const problems: string[] = [];
  for (const job of jobs) {
    const where = `${req.template_name}: build '${job.name ?? ""}'`;
    if (!runnable.builder.includes(job.builder_type ?? "")) problems.push(`${where}: kiln does not run builder type "${job.builder_type ?? ""}"`);
    for (const p of job.provisioners ?? []) {
      if (!runnable.provisioner.includes(p.type ?? "")) problems.push(`${where}: kiln does not run provisioner type "${p.type ?? ""}"`);
    }
    for (const chain of job.post_processor_chains ?? []) {
      for (const pp of chain.steps ?? []) {
        if (!runnable["post-processor"].includes(pp.type ?? "")) problems.push(`${where}: kiln does not run post-processor type "${pp.type ?? ""}"`);
      }
    }
  }
  if (problems.length > 0) throw new InvalidTemplateError([...new Set(problems)]);
  return jobs.map((job) => codecs.Job.normalize({ ...job, trace_context: ctx.traceContext }));
}
