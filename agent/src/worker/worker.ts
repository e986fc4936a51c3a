/**
 * The agent's NATS side: announce capabilities with a heartbeat, pull a job only when a slot is free, claim it with
 * the attempt fencing token, keep its lease alive while it runs, turn the runner's callbacks into events, and report
 * the result. The pipeline itself is ../runner.ts.
 *
 * Pulling: one durable consumer per routing subject (kiln.jobs.<dc>.<type>), shared with every other capable agent.
 * While the agent has a free slot, each of its subjects has one long-poll pull waiting on the server, so JetStream
 * hands a new or redelivered job straight to one idle agent: no polling delay, no thundering herd. When two subjects
 * deliver at once to an agent with one free slot, the extra job is nak'ed for immediate redelivery to another agent
 * (kiln counts attempts itself, so a nak costs nothing but a delivery).
 */
import { hostname } from "node:os";
import path from "node:path";
import { mkdir, readdir, rm, rmdir } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import * as tar from "tar";
import type { Consumer, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { SpanKind, SpanStatusCode, type Span } from "@opentelemetry/api";
import { headers, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { codecs } from "../../../proto/src/mod.js";
import type { AgentInfo, Artifact, Job__Output, JobEvent, JobRecord__Output } from "../../../proto/src/mod.js";
import {
  AGENT_HEARTBEAT_MS,
  ANY_DATACENTER,
  CancelledError,
  ErrorCode,
  EVENTS_STREAM,
  Artifacts,
  FarmStore,
  InvalidArgumentError,
  JOB_ACK_WAIT_MS,
  JOB_MAX_ATTEMPTS,
  JOBS_STREAM,
  KilnError,
  TERMINAL_JOB_STATES,
  UNCHANGED,
  ensureJobConsumer,
  childContext,
  contextFromCarrier,
  ensureKilnError,
  inSpan,
  isTransientJetStreamError,
  openFarm,
  retryTransient,
  tracer,
  queuedJobRecord,
  settleBuild,
  subjectToken,
  subjects,
  formatGoDuration,
  fromFailure,
  stopBuild,
  TimeoutError,
  toFailure,
  UnavailableError,
} from "../../../core/src/mod.js";
import type { FarmHandles, Versioned } from "../../../core/src/mod.js";
import { localBuilderTypes, runJob } from "../runner.js";
import { cancellationOf, stoppedJobState } from "../util/abort.js";
import type { JobOutcome, JobRunContext, LogLevel } from "../run_types.js";
import { Slots } from "./slots.js";
import { findBuilder } from "../plugins.js";

/** Backoff before retry n (1-based): 1 s, 2 s, 4 s ... up to a minute, each with ±50% jitter. */
function retryDelayMs(attempt: number): number {
  const base = Math.min(60_000, 1_000 * 2 ** (attempt - 1));
  return Math.round(base * (0.5 + Math.random()));
}

/** How often a job paused at a breakpoint checks the build's continue count, in case it missed the message. */
const CONTINUE_POLL_MS = 2_000;
import { storeJobArtifacts } from "../upload/store_artifacts.js";

/** In-progress acks are sent this often while a job runs: a third of the lease, at most 5 s. */
const MAX_LEASE_EXTEND_MS = 5_000;
/**
 * How long a pull waits on the server. Short, because a pull still waiting when its agent fills up may receive a job
 * the agent must hand back; long enough that idle agents cost the server little.
 */
const PULL_EXPIRES_MS = 2_000;

export interface AgentOptions {
  /** @default the host name */
  name?: string;
  /** @default "default" */
  datacenter?: string;
  labels?: Record<string, string>;
  /** Jobs run at once. @default 1 */
  slots?: number;
  /** Where job workspaces are created (bundle mode). */
  workDir: string;
  /** Builder types to offer; detected from the host when unset. */
  builderTypes?: readonly string[];
  /**
   * Accept jobs whose workspace is a local directory of the submitting user (the embedded farm). A farm agent never
   * does: it cannot see the user's disk.
   */
  acceptLocalWorkspaces?: boolean;
  /** Where the agent's own diagnostics go. @default stderr */
  log?: (line: string) => void;
  /**
   * The job lease (ack_wait) of routing consumers this agent creates. Consumers are shared, so the first creator's
   * value holds farm-wide: leave the default except in tests. @default JOB_ACK_WAIT_MS (15 s)
   */
  jobLeaseMs?: number;
  /** JetStream replicas of the farm's streams and buckets when this agent creates them. @default 1 */
  replicas?: number;
}

interface RunningJob {
  readonly job: Job__Output;
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

export class Agent implements AsyncDisposable {
  readonly name: string;
  readonly datacenter: string;
  readonly builderTypes: readonly string[];
  private readonly slots: Slots;
  private readonly stopping = new AbortController();
  private readonly running = new Map<string, RunningJob>();
  private readonly pulls = new Set<{ stop(err?: Error): void }>();
  private loopDone: Promise<unknown> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private cancelSub: Subscription | undefined;
  private drainSub: Subscription | undefined;
  private draining = false;
  private stopCalled: Promise<void> | undefined;
  private markStopped: () => void = () => undefined;
  /** Resolves once the agent has stopped: by `stop`, or when a remote drain (`kiln agents drain`) completes. */
  readonly stopped: Promise<void> = new Promise((resolve) => (this.markStopped = resolve));
  private readonly startedAt = Date.now();
  /** The artifact catalog and store, opened by the first job that has artifacts to store. */
  private artifacts: Promise<Artifacts> | undefined;
  /** Counts the NATS connection's drops and returns: events sent across one may be lost. */
  private connectionEpoch = 0;
  /**
   * Whether the events stream is replicated (a NATS cluster): then a plain publish can be lost with a stream leader
   * that dies while the connection stays up, and a job's unconfirmed events are sent again before its result.
   */
  private eventsReplicated = false;
  /** The replication of the farm's streams (1 on a single server), for the artifact buckets this agent may create. */
  private farmReplicas = 1;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly farm: FarmHandles,
    private readonly store: FarmStore,
    private readonly options: AgentOptions,
  ) {
    this.name = subjectToken(options.name ?? hostname(), "agent name");
    this.datacenter = subjectToken(options.datacenter ?? "default", "datacenter");
    if (this.datacenter === ANY_DATACENTER) throw new InvalidArgumentError(`datacenter '${ANY_DATACENTER}' is reserved for unconstrained jobs`);
    this.builderTypes = [...(options.builderTypes ?? localBuilderTypes())];
    this.slots = new Slots(options.slots ?? 1);
  }

  static async start(nc: NatsConnection, options: AgentOptions): Promise<Agent> {
    const farm = await openFarm(nc, { replicas: options.replicas ?? 1 });
    const agent = new Agent(nc, farm, new FarmStore(farm.builds), options);
    await agent.begin();
    return agent;
  }

  private log(line: string): void {
    (this.options.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(`agent ${this.name}: ${line}`);
  }

  private async begin(): Promise<void> {
    // Independent of each other, so at once: reaping, and a consumer per builder type and datacenter (22 with every
    // builder; one after another, their round trips were most of an embedded farm's agent start).
    const [events, routes] = await Promise.all([
      retryTransient(() => this.farm.jsm.streams.info(EVENTS_STREAM)),
      Promise.all(
        this.builderTypes.flatMap((type) =>
          [this.datacenter, ANY_DATACENTER].map(async (dc) => {
            // A NATS cluster may still be electing leaders while agents start: ride that out rather than fail the start.
            const consumerName = await retryTransient(() => ensureJobConsumer(this.farm.jsm, dc, type, this.options.jobLeaseMs));
            return { key: subjects.job(dc, type), consumer: await retryTransient(() => this.farm.js.consumers.get(JOBS_STREAM, consumerName)) };
          }),
        ),
      ),
      this.reapLeftovers(),
    ]);
    this.farmReplicas = events.config.num_replicas;
    this.eventsReplicated = this.farmReplicas > 1;
    // One subscription for every build's cancel message rather than one per job: subscribing per job cost a SUB and
    // an UNSUB on every job, for every agent.
    this.cancelSub = this.nc.subscribe(subjects.cancelAny, {
      callback: (_err, msg) => {
        const buildId = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
        // The payload says why (a cancel, a timeout, fail-fast); an empty one is a plain cancel.
        const reason = msg.data.length > 0 ? fromFailure(codecs.Failure.decode(msg.data)) : new CancelledError();
        for (const r of this.running.values()) if (r.job.build_id === buildId) r.abort.abort(reason);
      },
    });
    this.drainSub = this.nc.subscribe(subjects.drain(this.name), {
      callback: () => {
        this.log("draining on request: taking no new jobs; leaving when the running ones end");
        void this.drain();
      },
    });
    void (async () => {
      for await (const st of this.nc.status()) if (st.type === "disconnect" || st.type === "reconnect") this.connectionEpoch++;
    })().catch(() => undefined);
    await retryTransient(() => this.heartbeat());
    this.heartbeatTimer = setInterval(() => {
      this.heartbeat().catch((err: unknown) => this.log(`heartbeat failed: ${ensureKilnError(err).message}`));
    }, AGENT_HEARTBEAT_MS);
    this.loopDone = Promise.all(routes.map((route) => this.routeLoop(route)));
  }

  /** What a previous agent process on this host left when it crashed, per advertised builder; never fails the start. */
  private async reapLeftovers(): Promise<void> {
    await this.reapWorkspaces();
    // Each builder reaps its own kind of leftover (containers, QEMU processes, domains, VMs): at once.
    await Promise.all(
      this.builderTypes.map(async (type) => {
        const builder = findBuilder(type);
        if (builder?.reapLeftovers === undefined) return;
        try {
          await builder.reapLeftovers((line) => this.log(`${type}: ${line}`));
        } catch (err) {
          this.log(`${type}: reaping what a crashed agent left failed: ${ensureKilnError(err).message}`);
        }
      }),
    );
  }

  private async heartbeat(): Promise<void> {
    const info: AgentInfo = {
      name: this.name,
      host: hostname(),
      datacenter: this.datacenter,
      labels: this.options.labels ?? {},
      builder_types: [...this.builderTypes],
      slots: this.slots.capacity,
      slots_in_use: this.slots.inUse,
      started_at_ms: this.startedAt,
      heartbeat_at_ms: Date.now(),
      version: "0.1.0",
      running_jobs: [...this.running.keys()],
      draining: this.draining,
    };
    await this.farm.agents.put(this.name, codecs.AgentInfo.encode(info));
  }

  /** One loop per routing subject: a long-poll pull waiting whenever the agent has a free slot. */
  private async routeLoop(route: { key: string; consumer: Consumer }): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      if (!(await this.slots.whenFree(signal))) break;
      let msg: JsMsg | null = null;
      try {
        msg = await this.pullOne(route.consumer);
      } catch (err) {
        if (!signal.aborted) this.log(`pull from ${route.key} failed: ${ensureKilnError(err).message}`);
        await sleep(250, undefined, { signal }).catch(() => undefined);
      }
      if (!msg) continue;
      if (signal.aborted || !this.slots.tryAcquire()) {
        msg.nak();
        continue;
      }
      this.handle(msg);
    }
  }

  /** One message or null after PULL_EXPIRES_MS; stopping the agent ends an outstanding pull at once. */
  private async pullOne(consumer: Consumer): Promise<JsMsg | null> {
    const messages = await consumer.fetch({ max_messages: 1, expires: PULL_EXPIRES_MS });
    this.pulls.add(messages);
    if (this.stopping.signal.aborted) messages.stop();
    try {
      for await (const msg of messages) return msg;
      return null;
    } finally {
      this.pulls.delete(messages);
    }
  }

  /** Runs one delivered job in its slot; never throws (failures become job results or agent log lines). */
  private handle(msg: JsMsg): void {
    let job: Job__Output;
    try {
      job = codecs.Job.decode(msg.data);
    } catch (err) {
      this.log(`dropping an undecodable job message (seq ${msg.seq}): ${ensureKilnError(err).message}`);
      msg.term("undecodable");
      this.slots.release();
      return;
    }
    const key = `${job.build_id}/${job.job_id}`;
    const abort = new AbortController();
    const done = this.execute(job, msg, abort)
      .catch((err: unknown) => this.log(`job ${key} (${job.name}): ${ensureKilnError(err).message}`))
      .finally(() => {
        this.running.delete(key);
        this.slots.release();
      });
    this.running.set(key, { job, abort, done });
  }

  private async execute(job: Job__Output, msg: JsMsg, abort: AbortController): Promise<void> {
    const attributes = { "kiln.build_id": job.build_id, "kiln.job_id": job.job_id, "kiln.builder_type": job.builder_type, "kiln.agent": this.name };
    await inSpan(`job ${job.name}`, { kind: SpanKind.CONSUMER, attributes }, contextFromCarrier(job.trace_context), (span) =>
      this.executeTraced(job, msg, abort, span),
    );
  }

  private async executeTraced(job: Job__Output, msg: JsMsg, abort: AbortController, span: Span): Promise<void> {
    const { build_id: buildId, job_id: jobId } = job;
    const maxAttempts = job.options?.max_attempts || JOB_MAX_ATTEMPTS;
    let attempt = 0;
    const revision = Number(job.record_revision);
    const asCreated = revision > 0 ? { record: codecs.JobRecord.normalize(queuedJobRecord(job)), revision } : undefined;
    const claim = await this.store.updateJob(
      buildId,
      jobId,
      (cur) => {
        if (TERMINAL_JOB_STATES.has(cur.state)) return UNCHANGED;
        attempt = cur.attempt + 1;
        return { ...cur, state: "JOB_STATE_RUNNING", attempt, agent: this.name, started_at_ms: Date.now(), failure: null };
      },
      asCreated,
    );
    span.setAttribute("kiln.attempt", attempt);
    if (!claim.changed) {
      // Already finished or cancelled: the message is a leftover of an agent that died after recording the job's end
      // and before acknowledging it, maybe before settling the build too; settling is idempotent, so finish that.
      await settleBuild(this.store, this.farm.js, buildId).catch((err: unknown) => this.log(`settling build ${buildId}: ${ensureKilnError(err).message}`));
      msg.ack();
      return;
    }
    const events = new EventChannel(this.nc, this.farm.js, job, attempt, sensitiveValues(job), () => this.connectionEpoch, this.eventsReplicated);
    const refuse = async (failure: KilnError): Promise<void> => {
      await this.finish(job, attempt, claim, events, { state: "failed", failure, artifacts: [], manifestEntries: [] });
      msg.term(failure.message);
    };
    if (attempt > maxAttempts) {
      await refuse(new KilnError(ErrorCode.AgentLost, `the job was lost or failed for want of infrastructure ${attempt - 1} times; giving up`));
      await this.farm.js.publish(subjects.dead(buildId, jobId), msg.data);
      return;
    }
    const deadline = Number(job.deadline_ms);
    if (deadline > 0 && Date.now() >= deadline) {
      await refuse(new TimeoutError(`the build's timeout (${formatGoDuration(Number(job.options?.timeout_ms))}) passed before this job could start`));
      return;
    }
    events.emit({ state: { job_state: "JOB_STATE_RUNNING", agent: this.name, attempt } });
    const stopTimer = this.timeoutTimer(job, abort);

    const leaseMs = this.options.jobLeaseMs ?? JOB_ACK_WAIT_MS;
    const lease = setInterval(() => {
      msg.working();
      // The cancel message is fire-and-forget; a job whose agent missed it (a reconnect) finds out here.
      this.store.getBuild(buildId).then(
        (b) => b?.cancel_requested && abort.abort(new CancelledError()),
        () => undefined,
      );
    }, Math.min(MAX_LEASE_EXTEND_MS, leaseMs / 3));
    // Steps report progress often; an in-progress ack a tenth of a lease apart keeps the lease just as safe.
    let lastWorkingAt = Date.now();
    const heartbeat = (): void => {
      const now = Date.now();
      if (now - lastWorkingAt < leaseMs / 10) return;
      lastWorkingAt = now;
      msg.working();
    };
    let outcome: JobOutcome;
    try {
      const ctx = await this.prepareContext(job, attempt, events, abort.signal, heartbeat, span);
      abort.signal.throwIfAborted();
      outcome = await runJob(job, ctx);
      if (outcome.state === "succeeded" && !job.workspace?.local_cwd) {
        // A remote build's files go to the farm's artifact store; the embedded farm's are in the user's directory.
        outcome = await storeJobArtifacts(await this.openArtifacts(), job, outcome, {
          workDir: ctx.workDir,
          templateDir: ctx.templateDir,
          agent: this.name,
          templateName: (await this.store.getBuild(buildId))?.template_name ?? "",
          labels: this.options.labels ?? {},
          signal: abort.signal,
          heartbeat,
          log: ctx.log,
        });
      }
    } catch (err) {
      const failure = abort.signal.aborted ? cancellationOf(abort.signal) : ensureKilnError(err);
      outcome = { state: abort.signal.aborted ? stoppedJobState(failure) : "failed", failure, artifacts: [], manifestEntries: [] };
    } finally {
      clearInterval(lease);
      clearTimeout(stopTimer);
    }
    await this.removeWorkspace(job, outcome, (text) => events.emit({ log: { text, level: "LEVEL_SAY" } }));
    span.setAttribute("kiln.outcome", outcome.state);
    if (outcome.state === "failed") span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.failure?.message ?? "" });
    const failure = outcome.failure;
    if (outcome.state === "failed" && failure?.retryable && !abort.signal.aborted && attempt < maxAttempts) {
      await this.requeue(job, attempt, claim, events, msg, failure);
      return;
    }
    if (!(await this.finish(job, attempt, claim, events, outcome))) return;
    msg.ack();
    if (outcome.state === "failed" && job.options?.fail_fast) {
      await stopBuild(this.store, this.farm.js, this.nc, buildId, {
        queuedJobsEndAs: "JOB_STATE_CANCELLED",
        failure: { code: ErrorCode.Cancelled, message: `Cancelled because build '${job.name}' failed (-fail-fast).`, retryable: false },
      }).catch((err: unknown) => this.log(`fail-fast for build ${buildId}: ${ensureKilnError(err).message}`));
    }
  }

  /** Stops the job with a TimeoutError when its own timeout or its build's passes, whichever comes first. */
  private timeoutTimer(job: Job__Output, abort: AbortController): NodeJS.Timeout | undefined {
    const now = Date.now();
    const jobTimeout = Number(job.options?.job_timeout_ms ?? 0);
    const deadline = Number(job.deadline_ms);
    const candidates: { at: number; why: string }[] = [];
    if (jobTimeout > 0) candidates.push({ at: now + jobTimeout, why: `the job's timeout (${formatGoDuration(jobTimeout)}) passed` });
    if (deadline > 0) candidates.push({ at: deadline, why: `the build's timeout (${formatGoDuration(Number(job.options?.timeout_ms))}) passed` });
    const first = candidates.sort((a, b) => a.at - b.at)[0];
    if (first === undefined) return undefined;
    // setTimeout holds at most 2^31-1 ms (24.8 days); a longer timeout is as good as none for one job.
    const delay = Math.max(0, first.at - now);
    if (delay > 2 ** 31 - 1) return undefined;
    return setTimeout(() => abort.abort(new TimeoutError(`Build '${job.name}' was stopped: ${first.why}.`)), delay);
  }

  /**
   * Puts a job that failed for want of infrastructure (a retryable error: a host service down, say) back in the queue
   * for another attempt, on any capable agent, after an exponential backoff with jitter. Template and provisioner
   * errors are never retryable and never come here.
   */
  private async requeue(job: Job__Output, attempt: number, claim: Versioned<JobRecord__Output>, events: EventChannel, msg: JsMsg, failure: KilnError): Promise<void> {
    const delayMs = retryDelayMs(attempt);
    const wire = scrubDeep(toFailure(failure), sensitiveValues(job));
    await events.store({ state: { job_state: "JOB_STATE_QUEUED", failure: wire, attempt, retry_in_ms: delayMs } }, "requeued");
    const { changed } = await this.store.updateJob(job.build_id, job.job_id, (cur) => {
      if (cur.attempt !== attempt || TERMINAL_JOB_STATES.has(cur.state)) return UNCHANGED;
      return { ...cur, state: "JOB_STATE_QUEUED", agent: "", failure: wire };
    }, claim);
    if (changed) msg.nak(delayMs);
  }

  /**
   * Reports the outcome and records it if this attempt still owns the job. The result event is stored before the job
   * record turns terminal: whoever settles the build publishes the build's final event only after every job record
   * is terminal, so a watcher always sees each result before the end. A superseded attempt's result event may exist;
   * it carries the older attempt number and readers ignore it. Returns false when a newer attempt took over.
   */
  private async finish(job: Job__Output, attempt: number, claim: Versioned<JobRecord__Output>, events: EventChannel, outcome: JobOutcome): Promise<boolean> {
    const startedAtMs = Number(claim.record.started_at_ms);
    const state = outcome.state === "succeeded" ? "JOB_STATE_SUCCEEDED" : outcome.state === "cancelled" ? "JOB_STATE_CANCELLED" : "JOB_STATE_FAILED";
    const secrets = sensitiveValues(job);
    const failure = outcome.failure ? scrubDeep(toFailure(outcome.failure), secrets) : null;
    const artifacts = scrubDeep(outcome.artifacts.map((a) => ({ ...a })), secrets);
    const manifestEntries = scrubDeep(outcome.manifestEntries.map((m) => ({ ...m })), secrets);
    const finishedAt = Date.now();
    await events.store({ result: { state, failure, artifacts, duration_ms: finishedAt - startedAtMs } }, "result");
    const { changed, record } = await this.store.updateJob(job.build_id, job.job_id, (cur) => {
      if (cur.attempt !== attempt || TERMINAL_JOB_STATES.has(cur.state)) return UNCHANGED;
      return {
        ...cur,
        state,
        finished_at_ms: finishedAt,
        failure,
        artifacts,
        manifest_entries: manifestEntries,
      };
    }, claim);
    if (!changed) {
      this.log(`job ${job.build_id}/${job.job_id}: attempt ${attempt} was superseded by attempt ${record.attempt}; dropping its result`);
      return false;
    }
    await settleBuild(this.store, this.farm.js, job.build_id, [record]);
    return true;
  }

  /** A farm job's workspace, `<workDir>/<build>/<job>`; undefined for a local one (the user's own directory). */
  private workspaceOf(job: Job__Output): string | undefined {
    return job.workspace?.local_cwd ? undefined : path.join(this.options.workDir, job.build_id, job.job_id);
  }

  /**
   * Removes a farm job's workspace once the attempt has ended: its artifacts are in the farm's store by then, and a
   * retry unpacks the bundle afresh. With -on-error=abort a failed job's workspace stays for inspection (and says
   * where) until the agent restarts.
   */
  private async removeWorkspace(job: Job__Output, outcome: JobOutcome, say: (text: string) => void): Promise<void> {
    const dir = this.workspaceOf(job);
    if (dir === undefined) return;
    if (outcome.state === "failed" && job.options?.on_error === "abort") {
      say(`-on-error=abort: the job's workspace is left on agent ${this.name} at ${dir}`);
      return;
    }
    await rm(dir, { recursive: true, force: true }).catch((err: unknown) => this.log(`removing workspace ${dir}: ${ensureKilnError(err).message}`));
  }

  /**
   * At start: removes the workspaces of jobs that have ended (a previous agent process died before removing them,
   * or kept them for -on-error=abort), then build directories left empty. A workspace whose job is still queued or
   * running, or whose record cannot be read, is kept.
   */
  private async reapWorkspaces(): Promise<void> {
    const root = this.options.workDir;
    for (const build of await readdir(root).catch(() => [] as string[])) {
      const buildDir = path.join(root, build);
      let removedAny = false;
      for (const jobId of await readdir(buildDir).catch(() => [] as string[])) {
        const record = await this.store.getJob(build, jobId).catch(() => null);
        if (record === null || !TERMINAL_JOB_STATES.has(record.state)) continue;
        const dir = path.join(buildDir, jobId);
        try {
          await rm(dir, { recursive: true, force: true });
          removedAny = true;
          this.log(`removed workspace ${dir} of ended job ${build}/${jobId}`);
        } catch (err) {
          this.log(`removing workspace ${dir}: ${ensureKilnError(err).message}`);
        }
      }
      // A build directory proven kiln's, once empty (rmdir refuses one with something in it).
      if (removedAny) await rmdir(buildDir).catch(() => undefined);
    }
  }

  private async prepareContext(
    job: Job__Output,
    attempt: number,
    events: EventChannel,
    signal: AbortSignal,
    heartbeat: () => void,
    jobSpan: Span,
  ): Promise<JobRunContext> {
    const ws = job.workspace;
    let workDir: string;
    let templateDir: string;
    if (ws?.local_cwd) {
      if (!this.options.acceptLocalWorkspaces) {
        throw new InvalidArgumentError(`agent ${this.name} cannot use a local workspace (${ws.local_cwd}): only the embedded farm's agent can`);
      }
      workDir = ws.local_cwd;
      templateDir = ws.local_template_dir || ws.local_cwd;
    } else {
      workDir = path.join(this.options.workDir, job.build_id, job.job_id);
      try {
        await mkdir(workDir, { recursive: true });
        // A NATS node lost mid-download times the read out; the whole bundle is fetched and unpacked again.
        const bundle = ws?.bundle_object;
        if (bundle) await retryTransient(() => this.unpackBundle(bundle, workDir, signal));
      } catch (err) {
        if (signal.aborted) throw err;
        // This host's disk or the farm's object store, not the template: another attempt, maybe elsewhere, may work.
        throw new UnavailableError(`agent ${this.name} could not prepare the job's workspace ${workDir}: ${ensureKilnError(err).message}`, { cause: err });
      }
      templateDir = path.dirname(path.join(workDir, ws?.template_path || "template.json"));
    }
    const stepSpans = new Map<string, Span>();
    return {
      signal,
      workDir,
      templateDir,
      attempt,
      log: (level: LogLevel, text: string) => events.emit({ log: { text, level: LOG_LEVELS[level] } }),
      step: (name, finished, outcome) => {
        events.emit({ step: { step: name, finished, outcome: outcome ?? "" } });
        if (!finished) {
          stepSpans.get(name)?.end();
          stepSpans.set(name, tracer().startSpan(`step ${name}`, {}, childContext(jobSpan)));
          return;
        }
        const stepSpan = stepSpans.get(name);
        stepSpans.delete(name);
        if (outcome && outcome !== "ok") stepSpan?.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
        stepSpan?.end();
      },
      artifact: (artifact: Artifact) => events.emit({ artifact }),
      heartbeat,
      pause: async (note: string, pauseSignal: AbortSignal) => {
        events.emit({ state: { job_state: "JOB_STATE_RUNNING", agent: this.name, attempt: events.attempt, paused: true, pause_note: note } });
        events.emit({ log: { text: `Paused. To continue, press Enter in kiln build's terminal or run: kiln continue ${job.build_id}`, level: "LEVEL_SAY" } });
        await this.waitForContinue(job.build_id, pauseSignal);
        events.emit({ state: { job_state: "JOB_STATE_RUNNING", agent: this.name, attempt: events.attempt, paused: false } });
      },
    };
  }

  /**
   * Resolves when the build is continued after this call: on the continue message, or — should the message be missed
   * (a reconnect) — when a poll sees the build's continue count grow.
   */
  private async waitForContinue(buildId: string, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    let release: () => void = () => undefined;
    const continued = new Promise<void>((resolve) => (release = resolve));
    const sub = this.nc.subscribe(subjects.continue(buildId), { callback: () => release() });
    const onAbort = (): void => release();
    signal.addEventListener("abort", onAbort, { once: true });
    const countNow = async (): Promise<number> => (await this.store.getBuild(buildId))?.continue_count ?? 0;
    let before = Number.POSITIVE_INFINITY;
    const poll = setInterval(() => {
      countNow().then((n) => n > before && release(), () => undefined);
    }, CONTINUE_POLL_MS);
    try {
      before = await countNow();
      await continued;
    } finally {
      clearInterval(poll);
      sub.unsubscribe();
      signal.removeEventListener("abort", onAbort);
    }
    if (signal.aborted) throw cancellationOf(signal);
  }

  private async unpackBundle(objectName: string, dir: string, signal: AbortSignal): Promise<void> {
    const result = await this.farm.bundles.get(objectName);
    if (!result) throw new InvalidArgumentError(`the build's bundle ${objectName} is missing from the object store`);
    const source = Readable.fromWeb(result.data as import("node:stream/web").ReadableStream<Uint8Array>);
    await pipeline(source, tar.x({ cwd: dir, strict: true }), { signal });
    const error = await result.error;
    if (error) throw error;
  }

  /** The artifact catalog and store, opened once; a failed open is not kept, so the next job opens again. */
  private openArtifacts(): Promise<Artifacts> {
    if (this.artifacts) return this.artifacts;
    const opening = retryTransient(() => Artifacts.open(this.farm.js, { replicas: this.farmReplicas }));
    this.artifacts = opening;
    opening.catch(() => {
      if (this.artifacts === opening) this.artifacts = undefined;
    });
    return opening;
  }

  /**
   * Takes no new jobs, lets the running ones finish however long they take, then leaves (what SIGTERM and
   * `kiln agents drain` do). The agent shows as draining meanwhile.
   */
  async drain(): Promise<void> {
    this.draining = true;
    await this.heartbeat().catch(() => undefined);
    await this.stop(undefined);
  }

  /**
   * Stops pulling, lets running jobs finish (or aborts them after `graceMs`; undefined waits for them), and removes
   * the agent's record. Later calls wait for the first.
   */
  stop(graceMs: number | undefined = 30_000): Promise<void> {
    this.stopCalled ??= this.stopOnce(graceMs);
    return this.stopCalled;
  }

  private async stopOnce(graceMs: number | undefined): Promise<void> {
    if (!this.stopping.signal.aborted) this.stopping.abort();
    this.drainSub?.unsubscribe();
    for (const pull of this.pulls) pull.stop();
    await this.loopDone;
    const all = Promise.all([...this.running.values()].map((r) => r.done));
    const timer =
      graceMs === undefined
        ? undefined
        : setTimeout(() => {
            for (const r of this.running.values()) r.abort.abort(new CancelledError("The agent is shutting down."));
          }, graceMs);
    await all;
    clearTimeout(timer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.cancelSub?.unsubscribe();
    await this.artifacts?.then((a) => a.close()).catch(() => undefined);
    await this.farm.agents.delete(this.name).catch(() => undefined);
    this.markStopped();
  }

  /** Aborts every running job now (their cleanups still run) and stops. */
  async abortAll(): Promise<void> {
    for (const r of this.running.values()) r.abort.abort(new CancelledError("The agent is shutting down."));
    await this.stop(0);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

const LOG_LEVELS = { say: "LEVEL_SAY", message: "LEVEL_MESSAGE", error: "LEVEL_ERROR" } as const;

function sensitiveValues(job: Job__Output): string[] {
  return job.sensitive_variables
    .map((name) => job.user_variables[name])
    .filter((v): v is string => typeof v === "string" && v.length > 0)
    .sort((a, b) => b.length - a.length);
}

/**
 * Publishes a job's events in order, scrubbing sensitive values. Emit is fire-and-forget for the runner (so a slow
 * NATS never stalls a build step). Most events go out as plain NATS publishes, which the events stream captures
 * without a per-event acknowledgement; every ACK_EVERY-th event, and every `store`d one, is published through
 * JetStream and acknowledged. The stream stores one connection's messages in order, so an acknowledged event proves
 * that every event before it was processed, and `store` is how the job's result is known to be stored.
 */
class EventChannel {
  private static readonly ACK_EVERY = 32;
  private sinceAck = 0;
  private sent = 0;
  private readonly acks: Promise<unknown>[] = [];
  private failed: unknown;
  /** Events not yet known to be stored, with the connection epoch they were sent in. */
  private unconfirmed: { subject: string; data: Uint8Array; msgID: string; epoch: number }[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly job: Job__Output,
    readonly attempt: number,
    private readonly secrets: readonly string[],
    /** Changes whenever the agent's NATS connection drops or comes back. */
    private readonly epoch: () => number = () => 0,
    /** The events stream is replicated: unconfirmed events may be lost even on a connection that stayed up. */
    private readonly replicated = false,
  ) {}

  emit(partial: Omit<JobEvent, "build_id" | "job_id" | "name" | "attempt">): void {
    const subject = subjects.events(this.job.build_id, this.job.job_id);
    const data = codecs.JobEvent.encode(this.scrubbed(partial));
    // Every event has a message id, so one re-sent after a lost connection is stored once.
    const msgID = `${this.job.build_id}.${this.job.job_id}.${this.attempt}.e${++this.sent}`;
    const entry = { subject, data, msgID, epoch: this.epoch() };
    this.unconfirmed.push(entry);
    if (++this.sinceAck < EventChannel.ACK_EVERY) {
      const h = headers();
      h.set("Nats-Msg-Id", msgID);
      this.nc.publish(subject, data, { headers: h });
      return;
    }
    this.sinceAck = 0;
    // js.publish sends synchronously; only its acknowledgement is awaited later, so order is kept. An acknowledgement
    // proves the events sent before it on the same connection stored; those sent before a reconnect stay unconfirmed.
    this.acks.push(
      this.js.publish(subject, data, { msgID }).then(
        () => {
          const upTo = this.unconfirmed.indexOf(entry);
          if (upTo >= 0 && this.unconfirmed.slice(0, upTo + 1).every((e) => e.epoch === entry.epoch)) this.unconfirmed.splice(0, upTo + 1);
        },
        (err: unknown) => (this.failed ??= err),
      ),
    );
    if (this.acks.length > 64) void this.settleAcks();
  }

  /**
   * Emits an event and resolves once it, and so every event before it, is stored; throws if any was refused. Events
   * that may have been lost with a NATS node or connection are sent again first (their message ids keep the stream
   * from storing one twice), then the event itself, retried while a NATS cluster elects a new leader.
   */
  async store(partial: Omit<JobEvent, "build_id" | "job_id" | "name" | "attempt">, key: string): Promise<void> {
    this.sinceAck = 0;
    await this.settleAcks();
    if (this.failed && !isTransientJetStreamError(this.failed)) throw this.failed;
    // Plain publishes routed to a stream leader that died are lost without the connection noticing, so the events
    // since the last acknowledgement go again, all sent before any acknowledgement is awaited (one round trip).
    // On one server with the connection up all along, the acknowledgement below proves them stored: nothing to resend.
    const now = this.epoch();
    const mayBeLost = this.replicated || this.unconfirmed.some((e) => e.epoch !== now);
    const again = this.unconfirmed.splice(0);
    if (mayBeLost) await Promise.all(again.map((e) => retryTransient(() => this.js.publish(e.subject, e.data, { msgID: e.msgID }))));
    this.failed = undefined;
    const subject = subjects.events(this.job.build_id, this.job.job_id);
    const data = codecs.JobEvent.encode(this.scrubbed(partial));
    const msgID = `${this.job.build_id}.${this.job.job_id}.${this.attempt}.${key}`;
    await retryTransient(() => this.js.publish(subject, data, { msgID }));
  }

  private async settleAcks(): Promise<void> {
    const pending = this.acks.splice(0);
    await Promise.all(pending);
  }

  private scrubbed(partial: Omit<JobEvent, "build_id" | "job_id" | "name" | "attempt">): JobEvent {
    const event: JobEvent = {
      ...partial,
      build_id: this.job.build_id,
      job_id: this.job.job_id,
      name: this.job.name,
      attempt: this.attempt,
      time_ms: Date.now(),
    };
    return scrubDeep(event, this.secrets);
  }
}

export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("<sensitive>");
  return out;
}

/**
 * Replaces sensitive values in every string of a plain value (events, failures, artifacts) before it leaves the
 * agent: whatever kiln stores or shows must never carry them.
 */
export function scrubDeep<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return scrub(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(value) as T;
}
