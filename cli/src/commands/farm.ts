/**
 * The farm's long-running processes and its read-only views: `kiln coordinator`, `kiln agent`, `kiln dev`,
 * `kiln builds`, `kiln logs`, `kiln cancel`, `kiln agents`.
 */
import { hostname } from "node:os";
import path from "node:path";
import { mkdir } from "node:fs/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AgentInfo__Output } from "../../../proto/src/mod.js";
import { connectFarm, InvalidArgumentError, UnavailableError, describeStore, parseLargeFileRule, parseStoreSpec } from "../../../core/src/mod.js";
import { formatBytes } from "../ui/progress.js";
import { CoordinatorGrpcServer, CoordinatorService } from "../../../coordinator/src/mod.js";
import { Agent } from "../../../agent/src/mod.js";
import { flagBool, flagCsv, flagInt, flagString, parseArgs, type FlagSpecs } from "../args.js";
import { EmbeddedFarm } from "../embedded.js";
import { parseAge } from "./artifacts.js";
import { withRemoteCoordinator, type CliIo } from "../farm_access.js";
import { followBuildEvents } from "../follow.js";
import { PackerUi } from "../ui/packer_ui.js";
import { EventRenderer } from "../ui/event_renderer.js";
import { buildJson, shortState as short } from "../ui/json.js";

async function connectNats(url: string | undefined, name: string): Promise<NatsConnection> {
  const servers = url ?? process.env["KILN_NATS"];
  if (!servers) throw new InvalidArgumentError(`--nats URL is required (or set KILN_NATS), e.g. --nats nats://127.0.0.1:4222`);
  try {
    return await connectFarm({ servers: servers.split(","), name, maxReconnectAttempts: -1, reconnectTimeWait: 1_000 });
  } catch (err) {
    throw new UnavailableError(`cannot connect to NATS at ${servers}: ${(err as Error).message}. Is nats-server running with JetStream enabled?`, { cause: err });
  }
}

const REPLICAS_FLAG = {
  kind: "string",
  help: "JetStream replicas of the farm's streams and buckets when this process creates them: 3 on a 3-node cluster (default 1).",
} as const;

function replicasFlag(args: ReturnType<typeof parseArgs>): number {
  const n = flagInt(args, "replicas", 1);
  if (n < 1 || n > 5) throw new InvalidArgumentError(`--replicas takes 1 to 5 (JetStream's limit), got ${n}: use 3 on a 3-node NATS cluster`);
  return n;
}

function jobLeaseFlag(args: ReturnType<typeof parseArgs>): number {
  const ms = flagInt(args, "job-lease", 15_000);
  if (ms < 1_000) throw new InvalidArgumentError(`--job-lease is in milliseconds and must be at least 1000, got ${ms}`);
  return ms;
}

/** Resolves when the process is asked to stop (SIGINT or SIGTERM). */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (sig: NodeJS.Signals): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve(sig);
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}

export async function coordinatorCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("coordinator", argv, {
    nats: { kind: "string", help: "NATS server URL(s), comma separated (default $KILN_NATS)." },
    listen: { kind: "string", help: "gRPC listen address host:port (default 127.0.0.1:7420)." },
    "artifact-store": { kind: "string", help: "Set the farm's artifact store: nats (default), dir:/shared/path or s3://bucket[/prefix]?endpoint=URL&region=R." },
    "artifact-store-large": { kind: "string", help: "Put artifact files of --large-threshold or more in this store instead (an s3:// or dir: spec; 'off' removes the rule)." },
    "large-threshold": { kind: "string", help: "Size from which files go to --artifact-store-large (default 64MiB)." },
    "partial-upload-max-age": { kind: "string", help: "Remove unfinished artifact uploads (an agent died mid-file) not written for this long (default 24h; 'off' keeps them)." },
    "advertise-nats": {
      kind: "bool",
      help: "Hand `kiln artifacts get` the --nats URL(s) so it reads object-store files from NATS itself (no credentials are sent; where the CLI cannot reach them it uses the coordinator's stream).",
    },
    replicas: REPLICAS_FLAG,
  });
  const partialAge = flagString(args, "partial-upload-max-age");
  const partialUploadMaxAgeMs = partialAge === undefined ? undefined : partialAge === "off" ? 0 : parseAge(partialAge, "--partial-upload-max-age");
  const storeSpec = flagString(args, "artifact-store");
  const storeConfig = storeSpec === undefined ? undefined : parseStoreSpec(storeSpec);
  const largeSpec = flagString(args, "artifact-store-large");
  const threshold = flagString(args, "large-threshold");
  if (threshold !== undefined && (largeSpec === undefined || largeSpec === "off")) {
    throw new InvalidArgumentError("kiln coordinator: --large-threshold needs --artifact-store-large SPEC (the store large files go to)");
  }
  const largeRule = largeSpec === undefined || largeSpec === "off" ? undefined : parseLargeFileRule(largeSpec, threshold);
  const nc = await connectNats(flagString(args, "nats"), `kiln-coordinator-${hostname()}`);
  const service = await CoordinatorService.open(nc, {
    log: (l) => io.stderr(`coordinator: ${l}\n`),
    replicas: replicasFlag(args),
    ...(partialUploadMaxAgeMs === undefined ? {} : { partialUploadMaxAgeMs }),
  });
  if (storeConfig) {
    await (await service.artifacts()).catalog.setStoreConfig(storeConfig);
    io.stdout(`artifact store: ${describeStore(storeConfig)}\n`);
  }
  if (largeSpec !== undefined) {
    await (await service.artifacts()).catalog.setLargeFileRule(largeRule ?? null);
    io.stdout(largeRule ? `large files (${formatBytes(largeRule.thresholdBytes)} and up): ${describeStore(largeRule.store)}\n` : "large files: in the artifact store like the rest\n");
  }
  // Credentials in a URL (nats://user:pass@host) stay with the coordinator.
  const natsUrls = (flagString(args, "nats") ?? process.env["KILN_NATS"] ?? "")
    .split(",")
    .filter((u) => u)
    .map((u) => u.replace(/^([a-z]+:\/\/)?[^@/]*@/i, "$1"));
  const server = await CoordinatorGrpcServer.start(service, flagString(args, "listen") ?? "127.0.0.1:7420", {
    advertiseNats: flagBool(args, "advertise-nats") ? natsUrls : [],
  });
  io.stdout(`kiln coordinator listening on ${server.address} (NATS ${nc.getServer()})\n`);
  await untilSignal();
  await server.stop();
  service.close();
  await nc.drain();
  return 0;
}

export async function agentCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("agent", argv, {
    nats: { kind: "string", help: "NATS server URL(s), comma separated (default $KILN_NATS)." },
    name: { kind: "string", help: "Agent name (default: host name)." },
    datacenter: { kind: "string", help: "Datacenter this agent serves (default 'default')." },
    labels: { kind: "list", help: "Labels k=v, comma separated." },
    slots: { kind: "string", help: "Jobs to run at once (default 1)." },
    "work-dir": { kind: "string", help: "Directory for job workspaces (default /var/lib/kiln/work)." },
    replicas: REPLICAS_FLAG,
    "job-lease": { kind: "string", help: "Job lease (JetStream ack_wait) in ms for routing consumers this agent creates (default 15000)." },
  });
  const labels = Object.fromEntries(
    flagCsv(args, "labels").map((kv) => {
      const eq = kv.indexOf("=");
      if (eq <= 0) throw new InvalidArgumentError(`--labels '${kv}': expected key=value`);
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
  );
  const workDir = path.resolve(flagString(args, "work-dir") ?? "/var/lib/kiln/work");
  await mkdir(workDir, { recursive: true });
  const name = flagString(args, "name") ?? hostname();
  const nc = await connectNats(flagString(args, "nats"), `kiln-agent-${name}`);
  const agent = await Agent.start(nc, {
    name,
    datacenter: flagString(args, "datacenter") ?? "default",
    labels,
    slots: flagInt(args, "slots", 1) || 1,
    workDir,
    log: (l) => io.stderr(`${l}\n`),
    replicas: replicasFlag(args),
    ...(flagString(args, "job-lease") ? { jobLeaseMs: jobLeaseFlag(args) } : {}),
  });
  io.stdout(`kiln agent ${agent.name} (datacenter ${agent.datacenter}) runs: ${agent.builderTypes.join(", ")}\n`);
  // SIGTERM (or `kiln agents drain`) drains: no new jobs, running ones finish; a second signal cancels them, with
  // their cleanup.
  const first = await Promise.race([untilSignal(), agent.stopped.then(() => undefined)]);
  if (first !== undefined) {
    io.stderr("draining: taking no new jobs, waiting for running ones to finish (signal again to cancel them)...\n");
    const second = untilSignal().then(() => agent.abortAll());
    await Promise.race([agent.drain(), second]);
  }
  await nc.drain();
  return 0;
}

export async function devCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("dev", argv, {
    listen: { kind: "string", help: "gRPC listen address host:port (default 127.0.0.1:7420)." },
    slots: { kind: "string", help: "Jobs the local agent runs at once (default 32)." },
  });
  const farm = await EmbeddedFarm.start({
    listen: flagString(args, "listen") ?? "127.0.0.1:7420",
    slots: flagInt(args, "slots", 32) || 32,
    agentLog: (l) => io.stderr(`${l}\n`),
  });
  io.stdout(`kiln dev farm running\n  coordinator: ${farm.coordinatorAddress}   (export KILN_COORDINATOR=${farm.coordinatorAddress})\n  nats:        ${farm.nats.url}\n  agent:       ${farm.agent.name} (${farm.agent.builderTypes.join(", ")})\nCtrl-C to stop.\n`);
  await untilSignal();
  await farm.stop();
  return 0;
}

const COORDINATOR_FLAG: FlagSpecs = {
  coordinator: { kind: "string", help: "Coordinator address host:port (default $KILN_COORDINATOR)." },
};

export async function buildsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("builds", argv, { ...COORDINATOR_FLAG, json: { kind: "bool", help: "JSON output." } });
  return withRemoteCoordinator(flagString(args, "coordinator"), "builds", async (client) => {
    const builds = await client.listBuilds();
    if (flagBool(args, "json")) {
      io.stdout(`${JSON.stringify(builds.map(buildJson), null, 2)}\n`);
      return 0;
    }
    io.stdout(`${"ID".padEnd(38)}${"STATE".padEnd(11)}${"JOBS".padEnd(8)}TEMPLATE\n`);
    for (const b of builds) {
      const done = b.jobs.filter((j) => ["JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"].includes(j.state)).length;
      io.stdout(`${(b.build?.id ?? "").padEnd(38)}${short(b.build?.state ?? "").padEnd(11)}${`${done}/${b.jobs.length}`.padEnd(8)}${b.build?.template_name ?? ""}\n`);
      for (const j of b.jobs) {
        const where = j.agent ? ` on ${j.agent}` : "";
        const extra = j.waiting_reason ? ` (${j.waiting_reason})` : j.failure?.message ? ` (${j.failure.message})` : "";
        io.stdout(`  ${j.name}: ${short(j.state)}${where}${j.attempt > 1 ? ` attempt ${j.attempt}` : ""}${extra}\n`);
      }
    }
    return 0;
  });
}

export async function logsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("logs", argv, {
    ...COORDINATOR_FLAG,
    f: { kind: "bool", help: "Follow the build until it ends.", aliases: ["follow"] },
    "machine-readable": { kind: "bool", help: "Produce machine-readable output." },
    color: { kind: "bool", help: "Disable color output with -color=false." },
  });
  const buildId = args.positional[0];
  if (!buildId) throw new InvalidArgumentError("kiln logs: expected a build id: kiln logs [-f] BUILD");
  return withRemoteCoordinator(flagString(args, "coordinator"), "logs", async (client) => {
    const ui = new PackerUi({
      color: flagBool(args, "color", true) && !flagBool(args, "machine-readable"),
      machineReadable: flagBool(args, "machine-readable"),
      timestamp: true,
      write: io.stdout,
    });
    const status = await client.getBuild(buildId);
    ui.start(status.jobs.map((j) => j.name));
    const renderer = new EventRenderer(ui);
    await followBuildEvents(client, buildId, {
      stopWhenCaughtUp: !flagBool(args, "f"),
      onEvent: (event) => renderer.render(event),
      onInterruption: (reason, retryInMs) => io.stderr(`kiln: lost the coordinator (${reason}); retrying in ${(retryInMs / 1000).toFixed(1)} s...\n`),
      onResumed: (afterMs) => io.stderr(`kiln: reconnected after ${(afterMs / 1000).toFixed(1)} s\n`),
    });
    return 0;
  });
}

export async function continueCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("continue", argv, COORDINATOR_FLAG);
  const buildId = args.positional[0];
  if (!buildId || args.positional.length > 1) throw new InvalidArgumentError("kiln continue: expected a build id: kiln continue BUILD");
  return withRemoteCoordinator(flagString(args, "coordinator"), "continue", async (client) => {
    await client.continueBuild(buildId);
    io.stdout(`build ${buildId}: jobs paused at a breakpoint go on\n`);
    return 0;
  });
}

export async function cancelCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("cancel", argv, COORDINATOR_FLAG);
  const buildId = args.positional[0];
  if (!buildId) throw new InvalidArgumentError("kiln cancel: expected a build id: kiln cancel BUILD");
  return withRemoteCoordinator(flagString(args, "coordinator"), "cancel", async (client) => {
    const status = await client.cancel(buildId);
    io.stdout(`build ${buildId}: ${short(status.build?.state ?? "")}${status.build?.cancel_requested ? " (cancel requested)" : ""}\n`);
    return 0;
  });
}

function agentJson(a: AgentInfo__Output): object {
  return {
    name: a.name,
    host: a.host,
    datacenter: a.datacenter,
    labels: a.labels,
    builder_types: a.builder_types,
    slots: a.slots,
    slots_in_use: a.slots_in_use,
    running_jobs: a.running_jobs,
    draining: a.draining,
    heartbeat_at: new Date(Number(a.heartbeat_at_ms)).toISOString(),
  };
}

export async function agentsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("agents", argv, { ...COORDINATOR_FLAG, json: { kind: "bool", help: "JSON output." } });
  const [verb, name, ...rest] = args.positional;
  if (verb !== undefined && (verb !== "drain" || name === undefined || rest.length > 0)) {
    throw new InvalidArgumentError("kiln agents: expected 'kiln agents [--json]' or 'kiln agents drain NAME'");
  }
  if (verb === "drain" && name !== undefined) {
    return withRemoteCoordinator(flagString(args, "coordinator"), "agents drain", async (client) => {
      const agent = await client.drainAgent(name);
      io.stdout(`agent ${agent.name} is draining: it takes no new jobs and leaves when its ${agent.slots_in_use} running job(s) end\n`);
      return 0;
    });
  }
  return withRemoteCoordinator(flagString(args, "coordinator"), "agents", async (client) => {
    const agents = await client.listAgents();
    if (flagBool(args, "json")) {
      io.stdout(`${JSON.stringify(agents.map(agentJson), null, 2)}\n`);
      return 0;
    }
    io.stdout(`${"NAME".padEnd(20)}${"DATACENTER".padEnd(14)}${"SLOTS".padEnd(8)}BUILDERS\n`);
    for (const a of agents) {
      io.stdout(`${a.name.padEnd(20)}${a.datacenter.padEnd(14)}${`${a.slots_in_use}/${a.slots}`.padEnd(8)}${a.builder_types.join(",")}${a.draining ? "  (draining)" : ""}\n`);
    }
    return 0;
  });
}
