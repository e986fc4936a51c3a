/**
 * Creates (idempotently) the streams, KV buckets and object store kiln needs. Every coordinator and agent calls it at
 * start; concurrent callers are fine because JetStream's create calls are idempotent for an identical config.
 */
import { AckPolicy, DiscardPolicy, jetstream, jetstreamManager, JetStreamApiError, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { JetStreamClient, JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { connect, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import { retryTransient } from "./transient.js";
import { AGENTS_BUCKET, BUILDS_BUCKET, BUNDLES_STORE, DEAD_STREAM, EVENTS_STREAM, JOBS_STREAM, jobConsumerName, subjects } from "./names.js";

/** How long a job message stays leased to an agent without a heartbeat before JetStream redelivers it. */
export const JOB_ACK_WAIT_MS = 15_000; // 15 s; agents send in-progress acks at most every 5 s while healthy
/**
 * A backstop far above kiln's own attempt limit: deliveries also count jobs an agent handed back unstarted (two
 * subjects delivered at once to its last free slot), which must not dead-letter a job.
 */
export const JOB_MAX_DELIVER = 50;
/** Attempts (claims by an agent) before a job is dead-lettered. */
export const JOB_MAX_ATTEMPTS = 3;
/** An agent record expires this long after its last heartbeat. */
export const AGENT_TTL_MS = 10_000; // 10 s
export const AGENT_HEARTBEAT_MS = 2_000; // 2 s
/** Events are kept this long so `kiln logs` and WatchBuild can replay them. */
const EVENTS_MAX_AGE_NS = 7 * 24 * 3600 * 1e9; // 7 days

/**
 * Connects to the farm's NATS with kiln's connection defaults. Every kiln process connects through here.
 * `noAsyncTraces`: nats.js otherwise builds an Error (a stack capture) for every request and timer just in case one
 * fails, which was ~9% of a busy agent's CPU; kiln's errors carry codes and say what failed without that trace.
 */
export function connectFarm(options: NodeConnectionOptions): Promise<NatsConnection> {
  return connect({ noAsyncTraces: true, ...options });
}

export interface FarmHandles {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly builds: KV;
  readonly agents: KV;
  readonly bundles: ObjectStore;
}

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== 10059) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // Another process created it between our info and add.
      if (!(addErr instanceof JetStreamApiError) || addErr.code !== 10058) throw addErr;
    }
  }
}

export interface OpenFarmOptions {
  /**
   * Copies JetStream keeps of each stream, bucket and object store: 3 on a 3-node cluster, so that losing a node loses
   * no job, event or state. It applies when they are created; existing ones keep theirs. @default 1
   */
  replicas?: number;
}

export async function openFarm(nc: NatsConnection, options: OpenFarmOptions = {}): Promise<FarmHandles> {
  const jsm = await retryTransient(() => jetstreamManager(nc));
  const js = jetstream(nc);
  const replicas = options.replicas ?? 1;
  // Every call is idempotent: retried while a NATS cluster still elects leaders (a farm starting with its cluster).
  // They are independent, so at once: one after another, their round trips were most of opening a farm.
  const kvm = new Kvm(js);
  const [, , , builds, agents, bundles] = await Promise.all([
    retryTransient(() => ensureStream(jsm, {
      name: JOBS_STREAM,
      subjects: ["kiln.jobs.>"],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: replicas,
      discard: DiscardPolicy.Old,
      duplicate_window: 120 * 1e9, // 2 min: a retried publish of the same job is dropped, not queued twice
    })),
    retryTransient(() => ensureStream(jsm, {
      name: EVENTS_STREAM,
      subjects: ["kiln.events.>"],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      max_age: EVENTS_MAX_AGE_NS,
      duplicate_window: 120 * 1e9,
    })),
    retryTransient(() => ensureStream(jsm, {
      name: DEAD_STREAM,
      subjects: ["kiln.dead.>"],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      max_age: EVENTS_MAX_AGE_NS,
    })),
    retryTransient(() => kvm.create(BUILDS_BUCKET, { history: 1, storage: StorageType.File, replicas })),
    retryTransient(() => kvm.create(AGENTS_BUCKET, { history: 1, ttl: AGENT_TTL_MS, storage: StorageType.File, replicas })),
    retryTransient(() => new Objm(js).create(BUNDLES_STORE, { storage: StorageType.File, replicas })),
  ]);
  return { js, jsm, builds, agents, bundles };
}

/**
 * Ensures the one durable pull consumer of a routing subject exists. `ackWaitMs` is the job lease; it is fixed by
 * whoever creates the consumer first, so a farm sets it the same everywhere (the default, unless testing).
 */
export async function ensureJobConsumer(
  jsm: JetStreamManager,
  datacenter: string,
  builderType: string,
  ackWaitMs = JOB_ACK_WAIT_MS,
  maxDeliver = JOB_MAX_DELIVER,
): Promise<string> {
  const name = jobConsumerName(datacenter, builderType);
  try {
    await jsm.consumers.info(JOBS_STREAM, name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== 10014) throw err;
    try {
      await jsm.consumers.add(JOBS_STREAM, {
        durable_name: name,
        filter_subject: subjects.job(datacenter, builderType),
        ack_policy: AckPolicy.Explicit,
        ack_wait: ackWaitMs * 1e6,
        max_deliver: maxDeliver,
        max_ack_pending: -1,
      });
    } catch (addErr) {
      // Created concurrently by another agent with the same config.
      if (!(addErr instanceof JetStreamApiError) || ![10148, 10013].includes(addErr.code)) throw addErr;
    }
  }
  return name;
}
