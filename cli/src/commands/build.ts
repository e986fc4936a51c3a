/**
 * `kiln build`: Packer's `build` command, on a farm. Everything Packer resolves on the machine where the command
 * runs — the template, -var-file files, `env` in variable defaults — is read here, from the user's disk and
 * environment; the coordinator receives resolved variables. Without a coordinator the embedded farm runs in-process.
 */
import path from "node:path";
import { createInterface } from "node:readline";
import type { BuildStatus__Output, SubmitBuildRequest } from "../../../proto/src/mod.js";
import { SpanKind, SpanStatusCode, type Span } from "@opentelemetry/api";
import { InvalidArgumentError, assertValid, parseGoDuration, traceCarrier, tracer, validateParsed } from "../../../core/src/mod.js";
import { flagBool, flagCsv, flagInt, flagLabels, flagList, flagString, parseArgs, type FlagSpecs, type ParsedArgs } from "../args.js";
import { packBundle } from "../bundle.js";
import { externalFileDigests } from "../external_files.js";
import type { CoordinatorConnection } from "../client.js";
import { PackerUi, type BuildOutcomeForUi } from "../ui/packer_ui.js";
import { EventRenderer } from "../ui/event_renderer.js";
import { buildJson } from "../ui/json.js";
import { loadTemplateInputs } from "../template_inputs.js";
import { writeOutputFiles } from "../output_files.js";
import { withCoordinator, type CliIo } from "../farm_access.js";
import { followBuildEvents } from "../follow.js";
import { downloadArtifacts } from "./artifacts.js";

export const BUILD_FLAGS: FlagSpecs = {
  var: { kind: "list", help: "Variable for templates, can be used multiple times (-var 'key=value')." },
  "var-file": { kind: "list", help: "JSON file containing user variables, can be used multiple times." },
  only: { kind: "list", help: "Build only the specified builds (comma separated)." },
  except: { kind: "list", help: "Build all builds other than these (comma separated)." },
  "parallel-builds": { kind: "string", help: "Number of builds to run in parallel. 0 means no limit (default 0)." },
  "on-error": { kind: "string", help: "If the build fails do: clean up (default), abort, or run-cleanup-provisioner." },
  force: { kind: "bool", help: "Force a build to continue if artifacts exist, deletes existing artifacts." },
  "machine-readable": { kind: "bool", help: "Produce machine-readable output." },
  "timestamp-ui": { kind: "bool", help: "Enable prefixing of each ui output with an RFC3339 timestamp." },
  color: { kind: "bool", help: "Disable color output with -color=false (on by default)." },
  debug: { kind: "bool", help: "Debug mode enabled for builds (not supported on a farm)." },
  coordinator: { kind: "string", help: "Coordinator address host:port (default $KILN_COORDINATOR; unset: embedded farm)." },
  datacenter: { kind: "string", help: "Run every build of this template in this datacenter." },
  json: { kind: "bool", help: "Print only the final result as JSON (the shape of `kiln builds --json`, with artifacts)." },
  timeout: { kind: "string", help: "Fail the whole build if it has not ended after this long (e.g. 2h, 45m). Default: none." },
  "job-timeout": { kind: "string", help: "Fail each build (job) that runs longer than this (e.g. 30m). Default: none." },
  "max-attempts": { kind: "string", help: "Attempts per build after infrastructure failures (agent lost, host errors; never template errors). Default 3." },
  "fail-fast": { kind: "bool", help: "Cancel the other builds as soon as one fails." },
  download: { kind: "bool", help: "On a remote farm, fetch the build's stored artifact files to the paths the template names." },
  label: { kind: "list", help: "Label k=v recorded on every artifact of the build, can be used multiple times (kiln artifacts ls --label k=v)." },
};

/** A -timeout style flag as milliseconds (0 when unset); Go duration syntax, like Packer's own durations. */
function durationFlag(args: ParsedArgs, name: string): number {
  const text = flagString(args, name);
  if (text === undefined) return 0;
  let ms: number;
  try {
    ms = parseGoDuration(text);
  } catch {
    throw new InvalidArgumentError(`kiln build: -${name} '${text}' is not a duration; write it like 90s, 45m or 2h30m`);
  }
  if (ms <= 0) throw new InvalidArgumentError(`kiln build: -${name} must be positive, got '${text}'`);
  return ms;
}

const ON_ERROR_VALUES = ["cleanup", "abort", "run-cleanup-provisioner"] as const;

export async function buildCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("build", argv, BUILD_FLAGS);
  const [templatePath, ...extra] = args.positional;
  if (templatePath === undefined || extra.length > 0) {
    throw new InvalidArgumentError("kiln build: expected exactly one template file: kiln build [options] TEMPLATE");
  }
  const template: string = templatePath;
  const labels = flagLabels(args, "label");
  const onError = flagString(args, "on-error") ?? "cleanup";
  if (!(ON_ERROR_VALUES as readonly string[]).includes(onError)) {
    const hint = onError === "ask" ? " ('ask' needs a terminal on the agent's host; a farm cannot ask)" : "";
    throw new InvalidArgumentError(`kiln build: -on-error must be one of ${ON_ERROR_VALUES.join(", ")}, got '${onError}'${hint}`);
  }
  if (flagBool(args, "debug")) {
    throw new InvalidArgumentError("kiln build: -debug (step-by-step pauses) is not supported on a farm; use -on-error=abort to inspect a failed build");
  }
  const inputs = await loadTemplateInputs({
    templatePath,
    varFiles: flagList(args, "var-file"),
    vars: flagList(args, "var"),
    env: process.env,
  });
  // Packer prepares every build before it runs any: a template that would fail is rejected here, with every problem.
  assertValid(
    validateParsed(inputs.template, {
      resolvedVariables: inputs.variables,
      only: flagCsv(args, "only"),
      except: flagCsv(args, "except"),
      templateDir: inputs.templateDir,
      pwd: process.cwd(),
    }),
  );
  const parallel = flagInt(args, "parallel-builds", 0);
  const timeoutMs = durationFlag(args, "timeout");
  const jobTimeoutMs = durationFlag(args, "job-timeout");
  const maxAttempts = flagInt(args, "max-attempts", 0);
  if (maxAttempts < 0 || maxAttempts > 20) throw new InvalidArgumentError(`kiln build: -max-attempts must be between 1 and 20, got ${maxAttempts}`);
  const json = flagBool(args, "json");
  const ui = new PackerUi({
    color: flagBool(args, "color", true) && !flagBool(args, "machine-readable"),
    machineReadable: flagBool(args, "machine-readable"),
    timestamp: flagBool(args, "timestamp-ui"),
    // With --json, stdout carries one JSON document; the live log goes nowhere (kiln logs BUILD replays it).
    write: json ? () => undefined : io.stdout,
  });

  return withCoordinator(flagString(args, "coordinator"), io, async (client, embedded) => {
    const span = tracer().startSpan("kiln build", { kind: SpanKind.CLIENT, attributes: { "kiln.template": templatePath, "kiln.embedded": embedded } });
    try {
      const code = await submitAndFollow(client, embedded, span);
      if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR });
      return code;
    } finally {
      span.end();
    }
  });

  async function submitAndFollow(client: CoordinatorConnection, embedded: boolean, span: Span): Promise<number> {
    const request: SubmitBuildRequest = {
      trace_context: traceCarrier(span),
      template_json: inputs.templateText,
      template_name: template,
      variables: inputs.variables,
      only: flagCsv(args, "only"),
      except: flagCsv(args, "except"),
      options: {
        on_error: onError,
        force: flagBool(args, "force"),
        parallel_builds: parallel,
        timestamp_ui: flagBool(args, "timestamp-ui"),
        timeout_ms: timeoutMs,
        job_timeout_ms: jobTimeoutMs,
        max_attempts: maxAttempts,
        fail_fast: flagBool(args, "fail-fast"),
        labels,
      },
      datacenter: flagString(args, "datacenter") ?? "",
    };
    if (embedded) {
      request.local_cwd = process.cwd();
      request.local_template_dir = path.dirname(path.resolve(template));
    } else {
      request.bundle = await packBundle(inputs.templateDir);
      request.bundle_template_path = path.basename(template);
      request.external_files = await externalFileDigests(inputs.templateText, inputs.templateDir, inputs.variables);
    }
    const started = Date.now();
    const submitted = await client.submit(request);
    const buildId = submitted.build?.id ?? "";
    span.setAttribute("kiln.build_id", buildId);
    ui.start(submitted.jobs.map((j) => j.name));
    const final = await followBuild(client, buildId, ui, io);
    await writeOutputFiles(final.build?.output_files ?? [], { cwd: process.cwd(), runUuid: buildId, force: flagBool(args, "force") });
    const outcomes: BuildOutcomeForUi[] = final.jobs.map((j) => ({
      name: j.name,
      ...(j.state === "JOB_STATE_SUCCEEDED" ? {} : { error: j.failure?.message || j.state }),
      artifacts: j.artifacts,
    }));
    if (flagBool(args, "download") && !embedded && final.build?.state === "BUILD_STATE_SUCCEEDED") {
      // Relative names land where a local `packer build` would put them: relative to this working directory.
      const records = await client.listArtifacts(buildId);
      await downloadArtifacts(client, records, (name) => path.resolve(process.cwd(), name), { stdout: json ? () => undefined : io.stdout, stderr: io.stderr });
    }
    const cancelled = final.build?.state === "BUILD_STATE_CANCELLED";
    ui.finish(Date.now() - started, outcomes, cancelled);
    if (json) io.stdout(`${JSON.stringify(buildJson(final), null, 2)}\n`);
    return final.build?.state === "BUILD_STATE_SUCCEEDED" ? 0 : 1;
  }
}

/**
 * At a breakpoint, with a terminal on stdin, Packer's "Press enter to continue." works as in Packer: Enter sends
 * `kiln continue` for the build. Without a terminal the agent's message says how to continue it.
 */
function offerContinue(client: CoordinatorConnection, buildId: string, name: string, ui: PackerUi, io: CliIo): void {
  if (!process.stdin.isTTY) return;
  ui.say(name, "Press enter to continue.");
  const rl = createInterface({ input: process.stdin });
  rl.once("line", () => {
    rl.close();
    client.continueBuild(buildId).catch((err: unknown) => io.stderr(`kiln: continue failed: ${String(err)}\n`));
  });
}

/**
 * Renders the build's events until it ends. The first Ctrl-C cancels the build and keeps following it so cleanup is
 * shown; a second one stops waiting. A dropped stream (a coordinator restart) is resumed from the last event seen.
 */
async function followBuild(client: CoordinatorConnection, buildId: string, ui: PackerUi, io: CliIo): Promise<BuildStatus__Output> {
  const renderer = new EventRenderer(ui);
  const stopWaiting = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      io.stderr("Cancelling build after receiving interrupt; waiting for cleanup (Ctrl-C again to stop waiting)...\n");
      client.cancel(buildId).catch((err: unknown) => io.stderr(`cancel failed: ${String(err)}\n`));
    } else {
      stopWaiting.abort();
    }
  };
  process.on("SIGINT", onSigint);
  try {
    const ended = await followBuildEvents(client, buildId, {
      signal: stopWaiting.signal,
      onEvent: (event) => {
        renderer.render(event);
        if (event.state?.paused) offerContinue(client, buildId, event.name, ui, io);
      },
      onInterruption: (reason, retryInMs) => io.stderr(`kiln: lost the coordinator (${reason}); retrying in ${(retryInMs / 1000).toFixed(1)} s...\n`),
      onResumed: (afterMs) => io.stderr(`kiln: reconnected after ${(afterMs / 1000).toFixed(1)} s; resuming the build's events where they stopped\n`),
    });
    return ended ?? (await client.getBuild(buildId));
  } finally {
    process.off("SIGINT", onSigint);
  }
}
