/**
 * Turns a SubmitBuild request into jobs: the template is parsed and validated again here (the coordinator trusts no
 * client), with the variables the CLI resolved on the user's side.
 */
import type { Job__Output, RunStatics, SubmitBuildRequest__Output, Workspace } from "../../proto/src/mod.js";
import { codecs } from "../../proto/src/mod.js";
import { parseTemplate, planBuild } from "../../core/src/mod.js";

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
  return jobs.map((job) => codecs.Job.normalize({ ...job, trace_context: ctx.traceContext }));
}
