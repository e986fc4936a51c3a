import { describe, expect, it } from "vitest";
import { BuildFailedError, ErrorCode } from "../../core/src/mod.js";
import {
  OnErrorPolicy,
  parseOnErrorPolicy,
  runPipeline,
  type PipelineContext,
  type PipelineState,
  type Step,
  type StepOutcome,
} from "../src/pipeline/mod.js";

interface TestState extends PipelineState {
  readonly events: string[];
}

/** A step that records run and cleanup (packer's TestStepAcc). */
function recordingStep(name: string, behaviour: "continue" | "halt" | "throw" = "continue", extra: Partial<Step<TestState>> = {}): Step<TestState> {
  return {
    name,
    async run(_ctx, state) {
      state.events.push(`run ${name}`);
      if (behaviour === "throw") throw new BuildFailedError(`${name} broke`);
      if (behaviour === "halt") state.error = new BuildFailedError(`${name} halted`);
      return behaviour === "halt" ? "halt" : "continue";
    },
    async cleanup(state, outcome) {
      state.events.push(`cleanup ${name} ${outcome}`);
    },
    ...extra,
  };
}

function context(signal = new AbortController().signal): PipelineContext & { logs: string[]; stepEvents: string[] } {
  const logs: string[] = [];
  const stepEvents: string[] = [];
  return {
    signal,
    logs,
    stepEvents,
    log: (level, text) => logs.push(`${level}: ${text}`),
    heartbeat: () => undefined,
    step: (name, finished, outcome) => stepEvents.push(finished ? `${name} ${outcome ?? ""}` : `${name} start`),
  };
}

describe("pipeline - order and cleanup", () => {
  it("runs steps in order and cleans up in reverse with outcome ok", async () => {
    const state: TestState = { events: [] };
    const ctx = context();
    const result = await runPipeline([recordingStep("a"), recordingStep("b"), recordingStep("c")], state, ctx);
    expect(result).toEqual({ outcome: "ok" });
    expect(state.events).toEqual(["run a", "run b", "run c", "cleanup c ok", "cleanup b ok", "cleanup a ok"]);
    expect(ctx.stepEvents).toEqual(["a start", "a ok", "b start", "b ok", "c start", "c ok"]);
  });

  it("stops at a halt; only the steps that started are cleaned up", async () => {
    const state: TestState = { events: [] };
    const result = await runPipeline([recordingStep("a"), recordingStep("b", "halt"), recordingStep("c")], state, context());
    expect(result.outcome).toBe("halted");
    expect(result.error).toMatchObject({ code: ErrorCode.BuildFailed, message: "b halted" });
    expect(state.events).toEqual(["run a", "run b", "cleanup b halted", "cleanup a halted"]);
  });

  it("turns a thrown error into a halt with that error", async () => {
    const state: TestState = { events: [] };
    const result = await runPipeline([recordingStep("a", "throw"), recordingStep("b")], state, context());
    expect(result.outcome).toBe("halted");
    expect(result.error?.message).toBe("a broke");
    expect(state.events).toEqual(["run a", "cleanup a halted"]);
  });

  it("calls each cleanup once and keeps going when one throws", async () => {
    const state: TestState = { events: [] };
    const ctx = context();
    const bad = recordingStep("bad", "continue", {
      async cleanup(s) {
        s.events.push("cleanup bad");
        throw new Error("boom");
      },
    });
    await runPipeline([recordingStep("a"), bad, recordingStep("c")], state, ctx);
    expect(state.events).toEqual(["run a", "run bad", "run c", "cleanup c ok", "cleanup bad", "cleanup a ok"]);
    expect(ctx.logs).toEqual([`error: cleanup of step "bad" failed: boom`]);
  });

  it("checks the signal between steps", async () => {
    const controller = new AbortController();
    const state: TestState = { events: [] };
    const cancelling = recordingStep("a", "continue", {
      async run(_ctx, s) {
        s.events.push("run a");
        controller.abort(new Error("stop"));
        return "continue";
      },
    });
    const result = await runPipeline([cancelling, recordingStep("b")], state, context(controller.signal));
    expect(result.outcome).toBe("cancelled");
    expect(result.error?.code).toBe(ErrorCode.Cancelled);
    expect(state.events).toEqual(["run a", "cleanup a cancelled"]);
  });

  it("reports cancelled when the signal fires in the middle of a step", async () => {
    const controller = new AbortController();
    const state: TestState = { events: [] };
    const waiting: Step<TestState> = {
      name: "wait",
      run: (ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener("abort", () => resolve("halt"), { once: true });
        }),
      async cleanup(s, outcome) {
        s.events.push(`cleanup wait ${outcome}`);
      },
    };
    const ctx = context(controller.signal);
    const running = runPipeline([waiting, recordingStep("never")], state, ctx);
    setTimeout(() => controller.abort(new Error("user")), 20);
    const result = await running;
    expect(result.outcome).toBe("cancelled");
    expect(state.events).toEqual(["cleanup wait cancelled"]);
    expect(ctx.stepEvents).toEqual(["wait start", "wait cancelled"]);
  });
});

describe("pipeline - on-error policy", () => {
  const steps = (): Step<TestState>[] => [
    recordingStep("create"),
    recordingStep("provision", "continue", { runsCleanupProvisioner: true }),
    recordingStep("shutdown", "halt"),
  ];

  it("cleanup (default) runs every cleanup", async () => {
    const state: TestState = { events: [] };
    await runPipeline(steps(), state, context(), { onError: OnErrorPolicy.Cleanup });
    expect(state.events.filter((e) => e.startsWith("cleanup"))).toEqual([
      "cleanup shutdown halted",
      "cleanup provision halted",
      "cleanup create halted",
    ]);
  });

  it("abort skips every cleanup after a halt, with Packer's messages", async () => {
    const state: TestState = { events: [] };
    const ctx = context();
    const result = await runPipeline(steps(), state, ctx, { onError: OnErrorPolicy.Abort });
    expect(result.outcome).toBe("halted");
    expect(state.events).toEqual(["run create", "run provision", "run shutdown"]);
    expect(ctx.logs).toEqual([
      "error: shutdown halted",
      `error: Step "shutdown" failed, aborting...`,
      `error: aborted: skipping cleanup of step "provision"`,
      `error: aborted: skipping cleanup of step "create"`,
    ]);
  });

  it("abort still cleans up after a success", async () => {
    const state: TestState = { events: [] };
    await runPipeline([recordingStep("a"), recordingStep("b")], state, context(), { onError: OnErrorPolicy.Abort });
    expect(state.events).toEqual(["run a", "run b", "cleanup b ok", "cleanup a ok"]);
  });

  it("abort after a cancel says Interrupted", async () => {
    const controller = new AbortController();
    const state: TestState = { events: [] };
    const ctx = context(controller.signal);
    const cancelling = recordingStep("first", "continue", {
      async run(_ctx, st) {
        st.events.push("run first");
        controller.abort(new Error("user"));
        return "continue";
      },
    });
    const result = await runPipeline([cancelling, recordingStep("second")], state, ctx, { onError: OnErrorPolicy.Abort });
    expect(result.outcome).toBe("cancelled");
    expect(state.events).toEqual(["run first"]);
    expect(ctx.logs).toEqual(["error: Interrupted, aborting..."]);
  });

  it("run-cleanup-provisioner keeps only the provision step's cleanup", async () => {
    const state: TestState = { events: [] };
    await runPipeline(steps(), state, context(), { onError: OnErrorPolicy.RunCleanupProvisioner });
    expect(state.events.filter((e) => e.startsWith("cleanup"))).toEqual(["cleanup provision halted"]);
  });

  it("parses the policy from BuildOptions", () => {
    expect(parseOnErrorPolicy("")).toBe("cleanup");
    expect(parseOnErrorPolicy("abort")).toBe("abort");
    expect(parseOnErrorPolicy("run-cleanup-provisioner")).toBe("run-cleanup-provisioner");
    expect(() => parseOnErrorPolicy("ask")).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });
});

describe("pipeline - typed state", () => {
  it("lets steps share a typed state object", async () => {
    interface DiskState extends PipelineState {
      diskPath?: string;
      outcomes: StepOutcome[];
    }
    const create: Step<DiskState> = {
      name: "create-disk",
      async run(_ctx, state) {
        state.diskPath = "/tmp/disk.qcow2";
        return "continue";
      },
      async cleanup(state, outcome) {
        state.outcomes.push(outcome);
      },
    };
    const use: Step<DiskState> = {
      name: "use-disk",
      async run(_ctx, state) {
        return state.diskPath?.endsWith(".qcow2") ? "continue" : "halt";
      },
    };
    const state: DiskState = { outcomes: [] };
    expect((await runPipeline([create, use], state, context())).outcome).toBe("ok");
    expect(state.outcomes).toEqual(["ok"]);
  });
});
