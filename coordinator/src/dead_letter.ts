/**
 * The dead-letter path for jobs JetStream gave up on: when a job message reaches the consumer's max_deliver (every
 * agent that took it vanished or nak'ed it), JetStream publishes an advisory. The coordinator that receives it copies
 * the message to KILN_DEAD, removes it from the work queue and fails the job with AGENT_LOST, so the build ends
 * instead of hanging. Coordinators share one queue group, so each advisory is handled once.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { codecs } from "../../proto/src/mod.js";
import {
  JOBS_STREAM,
  TERMINAL_JOB_STATES,
  UNCHANGED,
  ensureKilnError,
  publishEvent,
  settleBuild,
  subjects,
} from "../../core/src/mod.js";
import type { FarmHandles, FarmStore } from "../../core/src/mod.js";

interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

export function watchDeadLetters(nc: NatsConnection, farm: FarmHandles, store: FarmStore, log: (line: string) => void): Subscription {
  return nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${JOBS_STREAM}.*`, {
    queue: "kiln-coordinators",
    callback: (err, msg) => {
      if (err) return;
      const advisory = msg.json<MaxDeliveriesAdvisory>();
      deadLetter(farm, store, advisory).catch((e: unknown) => log(`dead-lettering ${JOBS_STREAM} #${advisory.stream_seq} failed: ${ensureKilnError(e).message}`));
    },
  });
}

async function deadLetter(farm: FarmHandles, store: FarmStore, advisory: MaxDeliveriesAdvisory): Promise<void> {
  const stored = await farm.jsm.streams.getMessage(JOBS_STREAM, { seq: advisory.stream_seq });
  if (!stored) return;
  const job = codecs.Job.decode(stored.data);
  await farm.js.publish(subjects.dead(job.build_id, job.job_id), stored.data);
  await farm.jsm.streams.deleteMessage(JOBS_STREAM, advisory.stream_seq, false);
  const message = `the job was delivered ${advisory.deliveries} times and never completed (agents died, lost their lease or refused it)`;
  const { changed, record } = await store.updateJob(job.build_id, job.job_id, (cur) =>
    TERMINAL_JOB_STATES.has(cur.state)
      ? UNCHANGED
      : { ...cur, state: "JOB_STATE_FAILED", finished_at_ms: Date.now(), failure: { code: "ERROR_CODE_AGENT_LOST", message } },
  );
  if (changed) {
    await publishEvent(farm.js, {
      build_id: job.build_id,
      job_id: job.job_id,
      name: record.name,
      result: { state: "JOB_STATE_FAILED", failure: record.failure },
    });
    await settleBuild(store, farm.js, job.build_id);
  }
}
