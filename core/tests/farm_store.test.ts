/** The farm's state layer against a real nats-server: idempotent setup, compare-and-set, exactly-once settling. */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FarmStore, NatsServer, UNCHANGED, openFarm, settleBuild, subjects, EVENTS_STREAM } from "../src/mod.js";
import type { FarmHandles } from "../src/mod.js";
import { codecs } from "../../proto/src/mod.js";

describe("farm - state store", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let farm: FarmHandles;
  let store: FarmStore;

  beforeAll(async () => {
    nats = await NatsServer.start();
    nc = await connect({ servers: nats.url });
    farm = await openFarm(nc);
    store = new FarmStore(farm.builds);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  async function newBuild(id: string, jobs: number): Promise<void> {
    const jobIds = Array.from({ length: jobs }, (_, i) => `j${i}`);
    await store.createBuild(
      { id, state: "BUILD_STATE_QUEUED", job_ids: jobIds, created_at_ms: Date.now() },
      jobIds.map((j) => ({ build_id: id, job_id: j, name: j, builder_type: "null", datacenter: "any", state: "JOB_STATE_QUEUED" })),
      jobIds.map((j) => ({ build_id: id, job_id: j, name: j, builder_type: "null", datacenter: "any" })),
    );
  }

  it("opens the same farm twice without error (setup is idempotent across processes)", async () => {
    const again = await openFarm(nc);
    expect((await again.jsm.streams.info(EVENTS_STREAM)).config.subjects).toEqual(["kiln.events.>"]);
  });

  it("serialises concurrent compare-and-set updates: no increment is lost", async () => {
    await newBuild("cas", 1);
    await Promise.all(
      Array.from({ length: 20 }, () => store.updateJob("cas", "j0", (cur) => ({ ...cur, attempt: cur.attempt + 1 }))),
    );
    expect((await store.getJob("cas", "j0"))?.attempt).toBe(20);
    const { changed } = await store.updateJob("cas", "j0", () => UNCHANGED);
    expect(changed).toBe(false);
  });

  it("settles a build exactly once when its last jobs finish concurrently", async () => {
    await newBuild("settle", 3);
    for (const j of ["j0", "j1", "j2"]) {
      await store.updateJob("settle", j, (cur) => ({ ...cur, state: "JOB_STATE_SUCCEEDED", finished_at_ms: Date.now() }));
    }
    const results = await Promise.all(Array.from({ length: 6 }, () => settleBuild(store, farm.js, "settle")));
    expect(results.filter((r) => r.finished)).toHaveLength(1);
    expect((await store.getBuild("settle"))?.state).toBe("BUILD_STATE_SUCCEEDED");
    // Exactly one build-level terminal event was published.
    const consumer = await farm.js.consumers.get(EVENTS_STREAM, { filter_subjects: subjects.buildEvents("settle") });
    const finals: string[] = [];
    for (;;) {
      const m = await consumer.next({ expires: 1000 });
      if (!m) break;
      const e = codecs.JobEvent.decode(m.data);
      if (e.state?.build_state) finals.push(e.state.build_state);
    }
    expect(finals).toEqual(["BUILD_STATE_SUCCEEDED"]);
  });

  it("fails the build when any job failed and merges manifest entries in finishing order", async () => {
    await newBuild("mixed", 2);
    await store.updateJob("mixed", "j1", (cur) => ({
      ...cur,
      state: "JOB_STATE_SUCCEEDED",
      finished_at_ms: 1,
      manifest_entries: [{ output: "m.json", entry_json: JSON.stringify({ name: "j1" }) }],
    }));
    await store.updateJob("mixed", "j0", (cur) => ({
      ...cur,
      state: "JOB_STATE_FAILED",
      finished_at_ms: 2,
      manifest_entries: [{ output: "m.json", entry_json: JSON.stringify({ name: "j0" }) }],
    }));
    const { build } = await settleBuild(store, farm.js, "mixed");
    expect(build.state).toBe("BUILD_STATE_FAILED");
    const doc = JSON.parse(Buffer.from(build.output_files[0]?.content ?? "").toString()) as { builds: { name: string }[]; last_run_uuid: string };
    expect(doc.builds.map((b) => b.name)).toEqual(["j1", "j0"]);
    expect(doc.last_run_uuid).toBe("mixed");
  });
});
