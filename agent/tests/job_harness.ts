/**
 * Test doubles for the job runner: a recording JobRunContext, temporary working directories that are always
 * removed, and a small planner that turns a Packer JSON template into the Job of one build (enough for tests; the
 * real planner lives in core/src/template).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import { SshServer } from "../../test/src/mod.js";
import { codecs, type Artifact, type Job__Output } from "../../proto/src/mod.js";
import type { JobRunContext, LogLevel } from "../src/run_types.js";

export interface RecordedLog {
  readonly level: LogLevel;
  readonly text: string;
}

export interface RecordingContext extends JobRunContext {
  readonly logs: RecordedLog[];
  readonly steps: string[];
  readonly artifacts: Artifact[];
  readonly heartbeats: { count: number };
  /** Aborts the job with the worker's reason. */
  cancel(): void;
  /** The log texts, one per line. */
  lines(): string[];
}

export function recordingContext(workDir: string, options: { signal?: AbortSignal; onLog?: (l: RecordedLog) => void } = {}): RecordingContext {
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
  const logs: RecordedLog[] = [];
  const steps: string[] = [];
  const artifacts: Artifact[] = [];
  const heartbeats = { count: 0 };
  return {
    signal,
    workDir,
    templateDir: workDir,
    logs,
    steps,
    artifacts,
    heartbeats,
    log(level, text) {
      const entry = { level, text };
      logs.push(entry);
      options.onLog?.(entry);
    },
    step(name, finished, outcome) {
      steps.push(finished ? `${name}:${outcome ?? ""}` : `${name}:start`);
    },
    artifact(a) {
      artifacts.push(a);
    },
    heartbeat() {
      heartbeats.count++;
    },
    cancel() {
      // The worker aborts with a CancelledError; a plain reason is enough here since the runner types it.
      controller.abort(new Error("cancelled by test"));
    },
    lines() {
      return logs.map((l) => l.text);
    },
  };
}

/** Temporary directories removed after each test (call `cleanup` in afterEach). */
export class TempDirs {
  private readonly dirs: string[] = [];
  async make(prefix = "kiln-agent-"): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }
  async cleanup(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

type Json = Record<string, unknown>;

const PROVISIONER_META = ["type", "only", "except", "override", "pause_before", "max_retries", "timeout"];
const PP_META = ["type", "name", "only", "except", "keep_input_artifact"];

function without(obj: Json, keys: readonly string[]): Json {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
}

function provisioner(p: Json): Json {
  return {
    type: String(p.type),
    config_json: JSON.stringify(without(p, PROVISIONER_META)),
    pause_before: typeof p.pause_before === "string" ? p.pause_before : "",
    max_retries: p.max_retries === undefined ? "" : String(p.max_retries),
    timeout: typeof p.timeout === "string" ? p.timeout : "",
  };
}

function applies(x: Json, name: string): boolean {
  if (Array.isArray(x.only)) return x.only.includes(name);
  if (Array.isArray(x.except)) return !x.except.includes(name);
  return true;
}

export interface PlanOptions {
  readonly runUuid?: string;
  readonly onError?: string;
  /** `-force`. */
  readonly force?: boolean;
  readonly variables?: Record<string, string>;
}

/** The Job for build `name` of a (simple) Packer JSON template: only/except honoured, no override. */
export function planTemplateJob(template: Json, name: string, options: PlanOptions = {}): Job__Output {
  const builders = (template.builders as Json[]) ?? [];
  const builder = builders.find((b) => (b.name ?? b.type) === name);
  if (builder === undefined) throw new Error(`no build ${name}`);
  const provisioners = ((template.provisioners as Json[] | undefined) ?? []).filter((p) => applies(p, name)).map(provisioner);
  const chains = ((template["post-processors"] as unknown[] | undefined) ?? []).map((entry) => {
    const list = Array.isArray(entry) ? entry : [entry];
    const steps = list
      .map((x) => (typeof x === "string" ? { type: x } : (x as Json)))
      .filter((x) => applies(x, name))
      .map((x) => ({
        type: String(x.type),
        name: typeof x.name === "string" ? x.name : "",
        config_json: JSON.stringify(without(x, PP_META)),
        has_keep_input_artifact: typeof x.keep_input_artifact === "boolean",
        keep_input_artifact: x.keep_input_artifact === true,
      }));
    return { steps };
  });
  const cleanup = template["error-cleanup-provisioner"] as Json | undefined;
  const now = Date.now();
  return codecs.Job.normalize({
    build_id: "build-1",
    job_id: "j0",
    name,
    builder_type: String(builder.type),
    builder_config_json: JSON.stringify(without(builder, ["type", "name"])),
    provisioners,
    error_cleanup_provisioner: cleanup ? provisioner(cleanup) : null,
    has_error_cleanup_provisioner: cleanup !== undefined,
    post_processor_chains: chains.filter((c) => c.steps.length > 0),
    user_variables: options.variables ?? {},
    options: { on_error: options.onError ?? "", force: options.force ?? false },
    statics: {
      run_uuid: options.runUuid ?? "6d5d3185-0000-4000-8000-000000000001",
      init_time_unix: Math.floor(now / 1000),
      init_time_nanos: String(BigInt(now) * 1_000_000n),
      template_uuid: "0f0f0f0f-0000-4000-8000-000000000002",
    },
  });
}

/**
 * For a test file that starts SSH servers and temp dirs: returns them and stops / removes every one after each test.
 */
export function useSshTestResources(): { dirs: TempDirs; startSshServer: (options?: Parameters<typeof SshServer.start>[0]) => Promise<SshServer> } {
  const dirs = new TempDirs();
  const servers: SshServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await dirs.cleanup();
  });
  return {
    dirs,
    startSshServer: async (options) => {
      const server = await SshServer.start(options);
      servers.push(server);
      return server;
    },
  };
}
