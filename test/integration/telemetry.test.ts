/** One trace per build: CLI → coordinator → (NATS) → agent job → steps, asserted with an in-memory exporter. */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTelemetry } from "../../core/src/mod.js";
import { main } from "../../cli/src/mod.js";
import { TestFarm, tempDir } from "../src/mod.js";

describe("telemetry - the span tree of a build", () => {
  const exporter = new InMemorySpanExporter();
  let shutdown: () => Promise<void>;
  let farm: TestFarm;
  let work: { dir: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    shutdown = await setupTelemetry("kiln-test", [new SimpleSpanProcessor(exporter)]);
    farm = await TestFarm.start();
    work = await tempDir();
  });
  afterAll(async () => {
    await farm.stop();
    await work.cleanup();
    await shutdown();
  });

  it("links CLI, coordinator, agent job and step spans in one trace", async () => {
    await farm.addCoordinator();
    await farm.addAgent({ name: "a", builderTypes: ["file", "null"], slots: 2 });
    const templatePath = path.join(work.dir, "t.json");
    await writeFile(
      templatePath,
      JSON.stringify({
        builders: [
          { type: "file", name: "f", target: "f.txt", content: "x" },
          { type: "null", name: "n", communicator: "none" },
        ],
        provisioners: [{ type: "shell-local", inline: ["true"] }],
      }),
    );
    const out: string[] = [];
    const code = await main(["build", "-color=false", "--coordinator", farm.coordinators[0]?.server.address ?? "", templatePath], {
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
    });
    expect(code, out.join("")).toBe(0);

    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === "kiln build");
    expect(root).toBeDefined();
    const traceId = root?.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const byId = new Map(inTrace.map((s) => [s.spanContext().spanId, s]));
    const parentName = (name: string): string[] =>
      inTrace.filter((s) => s.name === name).map((s) => byId.get(s.parentSpanContext?.spanId ?? "")?.name ?? "<none>");

    expect(parentName("coordinator.SubmitBuild")).toEqual(["kiln build"]);
    expect(parentName("job f")).toEqual(["coordinator.SubmitBuild"]);
    expect(parentName("job n")).toEqual(["coordinator.SubmitBuild"]);
    const steps = inTrace.filter((s) => s.name.startsWith("step "));
    expect(steps.length).toBeGreaterThan(1);
    for (const step of steps) {
      expect(["job f", "job n"]).toContain(byId.get(step.parentSpanContext?.spanId ?? "")?.name);
    }
  });
});
