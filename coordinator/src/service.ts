/**
 * The coordinator's operations, independent of gRPC: plan and submit builds, replay and follow their events, cancel
 * them, list agents. The coordinator keeps no state of its own — everything lives in JetStream — so any number of
 * coordinators can serve the same farm and any can die.
 */
import { randomUUID } from "node:crypto";
import { DeliverPolicy } from "@nats-io/jetstream";
import { KvWatchInclude } from "@nats-io/kv";
import { SpanKind } from "@opentelemetry/api";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { codecs } from "../../proto/src/mod.js";
import type {
  AgentInfo__Output,
  BuildRecord,
  BuildStatus__Output,
  JobEvent__Output,
  JobRecord,
  JobRecord__Output,
  SubmitBuildRequest__Output,
} from "../../proto/src/mod.js";
import {
  AGENT_TTL_MS,
  ErrorCode,
  formatGoDuration,
  stopBuild,
  ANY_DATACENTER,
  EVENTS_STREAM,
  Artifacts,
  FarmStore,
  InvalidArgumentError,
  NotFoundError,
  TERMINAL_BUILD_STATES,
  UNCHANGED,
  contextFromCarrier,
  openFarm,
  inSpan,
  traceCarrier,
  publishEvent,
  publishJob,
  queuedJobRecord,
  retryTransient,
  subjectToken,
  subjects,
} from "../../core/src/mod.js";
import type { FarmHandles } from "../../core/src/mod.js";
import { planJobs } from "./plan.js";
import { watchDeadLetters } from "./dead_letter.js";
import { BuildDeadlines } from "./deadlines.js";
import { completeFromCache, findCacheHits, fingerprintJobs } from "./build_cache.js";

/** How long a watch waits for an ended build's final event before it ends without it. */
const FINAL_EVENT_GRACE_MS = 3_000;
/**
 * A watch's pulls expire this often; the server sends idle heartbeats at half of it, and two missed ones (a NATS node
 * died under the watch) make the watch reopen its consumer.
 */
const WATCH_PULL_EXPIRES_MS = 4_000;
/** A watch that received nothing for this long checks whether its consumer went silent. */
const WATCH_QUIET_MS = 2_000;

export interface CoordinatorServiceOptions {
  /** Where the coordinator's own diagnostics go. @default stderr */
  log?: (line: string) => void;
  /** JetStream replicas of the farm's streams and buckets when this coordinator creates them. @default 1 */
  replicas?: number;
  /**
   * Unfinished artifact uploads (an agent died mid-file and no retry of its job resumed) last written longer ago than
   * this are removed from the stores (S3 multipart uploads aborted, object-store chunks purged, `.partial` files
   * deleted); 0 turns the sweep off. @default 24 h
   */
  partialUploadMaxAgeMs?: number;
  /** How often the coordinator looks for them. @default 1 h */
  partialSweepEveryMs?: number;
}

/** Longer than any job's retries take to come back to an upload, so a partial that could still be resumed stays. */
export const DEFAULT_PARTIAL_UPLOAD_MAX_AGE_MS = 24 * 3_600_000;
const DEFAULT_PARTIAL_SWEEP_EVERY_MS = 3_600_000;

export class CoordinatorService {
  private deadLetters: Subscription | undefined;
  /** Live agents, kept current by a KV watch so that submitting a build needs no scan of the agents bucket. */
  private readonly agentView = new Map<string, AgentInfo__Output>();
  private agentWatch: { stop(): void } | undefined;
  /** Times the NATS connection was re-established (a watch opened before one may have lost its consumer). */
  private reconnects = 0;
  private readonly deadlines = new BuildDeadlines((buildId) => this.expire(buildId));
  private artifactLayer: Promise<Artifacts> | undefined;
  private partialSweeps: NodeJS.Timeout | undefined;

  private constructor(
    readonly nc: NatsConnection,
    readonly farm: FarmHandles,
    readonly store: FarmStore,
  ) {}

  static async open(nc: NatsConnection, options: CoordinatorServiceOptions = {}): Promise<CoordinatorService> {
    const farm = await openFarm(nc, { replicas: options.replicas ?? 1 });
    const service = new CoordinatorService(nc, farm, new FarmStore(farm.builds));
    const log = options.log ?? ((line: string) => process.stderr.write(`coordinator: ${line}\n`));
    service.deadLetters = watchDeadLetters(nc, farm, service.store, log);
    void (async () => {
      for await (const s of nc.status()) if (s.type === "reconnect") service.reconnects++;
    })().catch(() => undefined);
    // Independent of each other, so at once.
    await Promise.all([
      service.followAgents(),
      // The artifact catalog and the default store are created now, not by the first job that stores something: on a
      // cluster, creating a replicated bucket needs every peer, which a node loss mid-build would make impossible.
      service
        .artifacts()
        .then((a) => a.store())
        .catch((err: unknown) => log(`artifact store not ready yet: ${String(err)}`)),
      service.scheduleOpenDeadlines(),
    ]);
    service.sweepPartialsEvery(options.partialUploadMaxAgeMs ?? DEFAULT_PARTIAL_UPLOAD_MAX_AGE_MS, options.partialSweepEveryMs ?? DEFAULT_PARTIAL_SWEEP_EVERY_MS, log);
    return service;
  }

  /**
   * Sweeps abandoned partial uploads now and every `everyMs`. Every coordinator does it; removing a partial is
   * idempotent, so several sweeping at once only repeat each other.
   */
  private sweepPartialsEvery(maxAgeMs: number, everyMs: number, log: (line: string) => void): void {
    if (maxAgeMs <= 0) return;
    let running = false;
    const sweep = (): void => {
      if (running) return;
      running = true;
      void this.artifacts()
        .then((a) => a.sweepPartials(maxAgeMs))
        .then((removed) => {
          const parts = Object.entries(removed).filter(([, n]) => n > 0);
          if (parts.length > 0) log(`removed abandoned partial uploads: ${parts.map(([kind, n]) => `${n} in ${kind}`).join(", ")}`);
        })
        .catch((err: unknown) => {
          if (this.partialSweeps !== undefined) log(`sweeping abandoned partial uploads: ${String(err)}`);
        })
        .finally(() => (running = false));
    };
    sweep();
    this.partialSweeps = setInterval(sweep, everyMs);
    this.partialSweeps.unref();
  }

  private async followAgents(): Promise<void> {
    // Watch first, then read what is there, so no heartbeat falls between the two.
    const watch = await this.farm.agents.watch({ include: KvWatchInclude.UpdatesOnly });
    this.agentWatch = watch;
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation === "PUT") this.agentView.set(entry.key, codecs.AgentInfo.decode(entry.value));
        else this.agentView.delete(entry.key);
      }
    })();
    for await (const key of await this.farm.agents.keys()) {
      const entry = await this.farm.agents.get(key);
      if (entry && entry.operation === "PUT" && !this.agentView.has(key)) this.agentView.set(key, codecs.AgentInfo.decode(entry.value));
    }
  }

  /**
   * Deadlines of builds submitted before this coordinator started (it may replace one that died): every coordinator
   * watches every open build's deadline; ending a build is compare-and-set, so the first one to act wins.
   */
  private async scheduleOpenDeadlines(): Promise<void> {
    for (const id of await this.store.listBuildIds()) {
      const build = await this.store.getBuild(id);
      const timeoutMs = Number(build?.options?.timeout_ms ?? 0);
      if (build && timeoutMs > 0 && !TERMINAL_BUILD_STATES.has(build.state)) this.deadlines.schedule(id, Number(build.created_at_ms) + timeoutMs);
    }
  }

  /**
   * The build's timeout passed: jobs still queued fail with ERROR_CODE_TIMEOUT; running ones are told, and their
   * agents (which also hold the deadline themselves) stop them with cleanup.
   */
  private async expire(buildId: string): Promise<void> {
    const build = await this.store.getBuild(buildId);
    if (!build || TERMINAL_BUILD_STATES.has(build.state)) return;
    const message = `The build's timeout (${formatGoDuration(Number(build.options?.timeout_ms))}) passed.`;
    await stopBuild(this.store, this.farm.js, this.nc, buildId, {
      queuedJobsEndAs: "JOB_STATE_FAILED",
      failure: { code: ErrorCode.Timeout, message, retryable: false },
    });
  }

  close(): void {
    clearInterval(this.partialSweeps);
    this.partialSweeps = undefined;
    this.deadlines.clear();
    this.deadLetters?.unsubscribe();
    this.agentWatch?.stop();
    void this.artifactLayer?.then((a) => a.close()).catch(() => undefined);
  }

  /** The artifact catalog and the farm's store, opened on first use. */
  artifacts(): Promise<Artifacts> {
    // Replicated like the farm's own streams, whichever process creates the buckets first.
    const replicas = async (): Promise<number> => (await retryTransient(() => this.farm.jsm.streams.info(EVENTS_STREAM))).config.num_replicas;
    this.artifactLayer ??= replicas().then((n) => Artifacts.open(this.farm.js, { replicas: n })).catch((err: unknown) => {
      this.artifactLayer = undefined;
      throw err;
    });
    return this.artifactLayer;
  }

  async submit(req: SubmitBuildRequest__Output): Promise<BuildStatus__Output> {
    return inSpan("coordinator.SubmitBuild", { kind: SpanKind.SERVER }, contextFromCarrier(req.trace_context), async (span) => {
      const status = await this.submitTraced(req, traceCarrier(span));
      span.setAttribute("kiln.build_id", status.build?.id ?? "");
      return status;
    });
  }

  private async submitTraced(req: SubmitBuildRequest__Output, traceContext: Record<string, string>): Promise<BuildStatus__Output> {
    const buildId = randomUUID();
    const now = Date.now();
    const datacenter = req.datacenter ? subjectToken(req.datacenter, "datacenter") : ANY_DATACENTER;
    let bundleObject = "";
    if (req.bundle.length > 0) {
      bundleObject = `bundle.${buildId}`;
      await this.farm.bundles.putBlob({ name: bundleObject }, req.bundle);
    }
    const timeoutMs = Number(req.options?.timeout_ms ?? 0);
    const deadlineMs = timeoutMs > 0 ? now + timeoutMs : 0;
    const planned = planJobs(req, {
      buildId,
      traceContext,
      datacenter,
      statics: {
        run_uuid: buildId,
        init_time_unix: String(Math.floor(now / 1000)),
        init_time_nanos: String(BigInt(now) * 1_000_000n),
        template_uuid: randomUUID(),
      },
      workspace: {
        bundle_object: bundleObject,
        template_path: req.bundle_template_path,
        local_cwd: req.local_cwd,
        local_template_dir: req.local_template_dir,
      },
    });
    if (planned.length === 0) {
      throw new InvalidArgumentError("no builds to run: -only/-except left nothing of the template's builders");
    }
    const jobs = (await fingerprintJobs(req, planned)).map((j) => ({ ...j, deadline_ms: String(deadlineMs) }));
    const cacheHits = req.bundle.length > 0 ? await findCacheHits(await this.artifacts(), jobs, req.options?.force ?? false) : new Map();
    const limit = req.options?.parallel_builds ?? 0;
    const held = limit > 0 ? jobs.filter((j) => !cacheHits.has(j.job_id)).slice(limit).map((j) => j.job_id) : [];
    const record: BuildRecord = {
      id: buildId,
      state: "BUILD_STATE_QUEUED",
      template_name: req.template_name,
      created_at_ms: now,
      job_ids: jobs.map((j) => j.job_id),
      options: req.options ?? {},
      held_job_ids: held,
      datacenter,
    };
    const jobRecords: JobRecord[] = jobs.map(queuedJobRecord);
    const revisions = await this.store.createBuild(record, jobRecords, jobs.filter((j) => held.includes(j.job_id)));
    if (deadlineMs > 0) this.deadlines.schedule(buildId, deadlineMs);
    const agents = await this.listAgents();
    for (const job of jobs) {
      if (cacheHits.has(job.job_id)) continue;
      if (!canRun(agents, datacenter, job.builder_type)) {
        await publishEvent(this.farm.js, {
          build_id: buildId,
          job_id: job.job_id,
          name: job.name,
          state: { job_state: "JOB_STATE_WAITING" },
        });
      }
      if (!held.includes(job.job_id)) await publishJob(this.farm.js, { ...job, record_revision: String(revisions.get(job.job_id) ?? 0) }, job.trace_context);
    }
    if (cacheHits.size > 0) await completeFromCache(await this.artifacts(), this.store, this.farm.js, buildId, req.template_name, jobs, cacheHits, req.options?.labels ?? {});
    return {
      build: codecs.BuildRecord.normalize(record),
      jobs: jobRecords.map((j) => withWaiting(codecs.JobRecord.normalize(j), agents)),
    };
  }

  /** A build with its jobs; queued jobs that no live agent can run are reported as WAITING, with the reason. */
  async status(buildId: string): Promise<BuildStatus__Output> {
    const status = withDerivedRunning(await this.store.status(buildId));
    const queued = status.jobs.filter((j) => j.state === "JOB_STATE_QUEUED");
    if (queued.length === 0) return status;
    const agents = await this.listAgents();
    return { ...status, jobs: status.jobs.map((j) => withWaiting(j, agents)) };
  }

  async list(limit: number): Promise<BuildStatus__Output[]> {
    const ids = await this.store.listBuildIds();
    const chosen = limit > 0 ? ids.slice(0, limit) : ids;
    return Promise.all(chosen.map((id) => this.status(id)));
  }

  async cancel(buildId: string): Promise<BuildStatus__Output> {
    await stopBuild(this.store, this.farm.js, this.nc, buildId, {
      queuedJobsEndAs: "JOB_STATE_CANCELLED",
      failure: { code: ErrorCode.Cancelled, message: "Build was cancelled.", retryable: false },
    });
    return this.status(buildId);
  }

  /** Lets the build's jobs paused at a breakpoint go on (`kiln continue`). */
  async continueBuild(buildId: string): Promise<BuildStatus__Output> {
    const { record } = await this.store.updateBuild(buildId, (b) =>
      TERMINAL_BUILD_STATES.has(b.state) ? UNCHANGED : { ...b, continue_count: b.continue_count + 1 },
    );
    if (TERMINAL_BUILD_STATES.has(record.state)) throw new InvalidArgumentError(`build ${buildId} has already ended; there is nothing to continue`);
    this.nc.publish(subjects.continue(buildId));
    return this.status(buildId);
  }

  /** Asks a live agent to drain (take no new jobs, finish the running ones, leave). */
  async drainAgent(name: string): Promise<AgentInfo__Output> {
    const agent = (await this.listAgents()).find((a) => a.name === name);
    if (!agent) throw new NotFoundError(`no live agent named '${name}' (see 'kiln agents')`);
    this.nc.publish(subjects.drain(name));
    await this.nc.flush();
    return { ...agent, draining: true };
  }

  /** Agents whose last heartbeat is younger than the agents bucket's TTL (expiries send no delete marker). */
  async listAgents(): Promise<AgentInfo__Output[]> {
    const cutoff = Date.now() - AGENT_TTL_MS;
    return [...this.agentView.values()].filter((a) => Number(a.heartbeat_at_ms) >= cutoff).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Replays a build's events after `fromSeq` (0 = from the first) and follows them until the build ends or
   * `signal` aborts. Each event carries its stream sequence, so a client that reconnects resumes without gaps.
   * When the NATS node serving the watch dies, its consumer goes silent: the watch then opens a new one after the
   * last event it yielded, so the stream goes on without a gap or a repeat.
   */
  async *watch(buildId: string, fromSeq: number, signal: AbortSignal, stopWhenCaughtUp = false): AsyncGenerator<JobEvent__Output> {
    let last = fromSeq;
    for (;;) {
      const follow = this.watchFrom(buildId, last, signal, stopWhenCaughtUp);
      let next = await follow.next();
      while (!next.done) {
        last = Number(next.value.seq);
        yield next.value;
        next = await follow.next();
      }
      if (next.value !== "stalled" || signal.aborted) return;
    }
  }

  private async *watchFrom(buildId: string, fromSeq: number, signal: AbortSignal, stopWhenCaughtUp: boolean): AsyncGenerator<JobEvent__Output, "ended" | "stalled"> {
    const ended = async (): Promise<boolean> => TERMINAL_BUILD_STATES.has((await this.store.requireBuild(buildId)).state);
    const alreadyEnded = await ended();
    const consumer = await retryTransient(() =>
      this.farm.js.consumers.get(EVENTS_STREAM, {
        filter_subjects: subjects.buildEvents(buildId),
        ...(fromSeq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq + 1 } : { deliver_policy: DeliverPolicy.All }),
      }),
    );
    // Resuming after the build's final event: nothing more will come.
    if ((alreadyEnded || stopWhenCaughtUp) && (await retryTransient(() => consumer.info(true))).num_pending === 0) return "ended";
    const messages = await consumer.consume({ expires: WATCH_PULL_EXPIRES_MS });
    const stop = (): void => void messages.close();
    signal.addEventListener("abort", stop, { once: true });
    let stalled = false;
    const reopen = (): void => {
      stalled = true;
      stop();
    };
    void (async () => {
      for await (const s of messages.status()) if (s.type === "heartbeats_missed" || s.type === "no_responders") reopen();
    })().catch(() => undefined);
    // The consumer may also go silent without a status (its node died and nats.js's own recreation stalls): a watch
    // quiet for a while after a reconnect, or after its build ended, reopens; reopening a healthy one costs a request.
    let lastMessageAt = Date.now();
    const reconnectsAtOpen = this.reconnects;
    const watchdog = setInterval(() => {
      if (Date.now() - lastMessageAt < WATCH_QUIET_MS) return;
      if (this.reconnects !== reconnectsAtOpen) return reopen();
      ended().then((yes) => yes && reopen(), () => undefined);
    }, WATCH_QUIET_MS);
    // The settler publishes the final event just after it marks the build ended; should it die in between, the
    // stream would never end, so a watch caught up with an ended build gives the event a grace period, then ends.
    let grace: NodeJS.Timeout | undefined;
    try {
      for await (const msg of messages) {
        lastMessageAt = Date.now();
        const event = { ...codecs.JobEvent.decode(msg.data), seq: String(msg.seq) };
        yield event;
        const isBuildEnd = event.job_id === "" && event.state && TERMINAL_BUILD_STATES.has(event.state.build_state);
        if (isBuildEnd) return "ended";
        if (msg.info.pending > 0) continue;
        if (stopWhenCaughtUp) return "ended";
        if (!grace && (await ended())) grace = setTimeout(stop, FINAL_EVENT_GRACE_MS);
      }
    } finally {
      clearTimeout(grace);
      clearInterval(watchdog);
      signal.removeEventListener("abort", stop);
      await messages.close();
    }
    return stalled ? "stalled" : "ended";
  }
}

/**
 * A queued build whose jobs have started is running. Agents do not write that transition (it would cost every job
 * four more round trips); readers derive it.
 */
function withDerivedRunning(status: BuildStatus__Output): BuildStatus__Output {
  const build = status.build;
  if (!build || build.state !== "BUILD_STATE_QUEUED") return status;
  const started = status.jobs.some((j) => j.state !== "JOB_STATE_QUEUED" && j.state !== "JOB_STATE_WAITING");
  return started ? { ...status, build: { ...build, state: "BUILD_STATE_RUNNING" } } : status;
}

function canRun(agents: readonly AgentInfo__Output[], datacenter: string, builderType: string): boolean {
  // A draining agent takes no new jobs.
  return agents.some((a) => !a.draining && a.builder_types.includes(builderType) && (datacenter === ANY_DATACENTER || a.datacenter === datacenter));
}

function withWaiting(job: JobRecord__Output, agents: readonly AgentInfo__Output[]): JobRecord__Output {
  if (job.state !== "JOB_STATE_QUEUED" || canRun(agents, job.datacenter, job.builder_type)) return job;
  const where = job.datacenter === ANY_DATACENTER ? "" : ` in datacenter '${job.datacenter}'`;
  return {
    ...job,
    state: "JOB_STATE_WAITING",
    waiting_reason: `no live agent${where} can run builder type '${job.builder_type}'; the job stays queued until one joins`,
  };
}
