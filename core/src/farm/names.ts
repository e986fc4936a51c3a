/**
 * Names of everything kiln keeps in NATS. Subjects encode routing: a job for builder type T constrained to
 * datacenter D is published on kiln.jobs.D.T ("any" when unconstrained); an agent in D that can run T pulls from the
 * one durable consumer of kiln.jobs.D.T and of kiln.jobs.any.T (work-queue streams forbid overlapping consumers,
 * so there is exactly one consumer per subject, shared by every capable agent: fair, load-balanced, no scheduler).
 */
import { InvalidArgumentError } from "../errors.js";

export const JOBS_STREAM = "KILN_JOBS";
export const EVENTS_STREAM = "KILN_EVENTS";
export const DEAD_STREAM = "KILN_DEAD";
export const BUILDS_BUCKET = "kiln_builds";
export const AGENTS_BUCKET = "kiln_agents";
export const BUNDLES_STORE = "kiln_bundles";
export const ANY_DATACENTER = "any";
/** The job id used for build-level events (state of the build as a whole). */
export const BUILD_EVENT_JOB = "_build";

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** A subject token from user input (datacenter, builder type): letters, digits, '-' and '_' only. */
export function subjectToken(value: string, what: string): string {
  if (!TOKEN.test(value)) {
    throw new InvalidArgumentError(`${what} '${value}' may contain only letters, digits, '-' and '_'`);
  }
  return value;
}

export const subjects = {
  job: (datacenter: string, builderType: string): string =>
    `kiln.jobs.${subjectToken(datacenter, "datacenter")}.${subjectToken(builderType, "builder type")}`,
  events: (buildId: string, jobId: string): string => `kiln.events.${buildId}.${jobId}`,
  buildEvents: (buildId: string): string => `kiln.events.${buildId}.>`,
  cancel: (buildId: string): string => `kiln.cancel.${buildId}`,
  /** Every build's cancel subject; the build id is the subject's last token. */
  cancelAny: "kiln.cancel.*",
  dead: (buildId: string, jobId: string): string => `kiln.dead.${buildId}.${jobId}`,
  /** Lets a build's jobs paused at a breakpoint go on. */
  continue: (buildId: string): string => `kiln.continue.${buildId}`,
  /** Asks one agent to drain: take no new jobs, finish the running ones, leave. */
  drain: (agentName: string): string => `kiln.drain.${agentName}`,
} as const;

/** The durable consumer name for one routing subject. */
export function jobConsumerName(datacenter: string, builderType: string): string {
  return `jobs_${datacenter}_${builderType}`;
}

export const kvKeys = {
  build: (buildId: string): string => `build.${buildId}`,
  job: (buildId: string, jobId: string): string => `job.${buildId}.${jobId}`,
  jobsOf: (buildId: string): string => `job.${buildId}.>`,
} as const;
