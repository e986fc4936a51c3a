/**
 * Test harness: a real farm on ephemeral ports — nats-server (JetStream in a temp dir), coordinators serving gRPC on
 * 127.0.0.1:0 and agents with chosen capabilities — and the same client the CLI uses. Everything it starts is
 * stopped by `stop()`, which tests call in afterEach/afterAll (or through `await using`).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectFarm, NatsServer } from "../../core/src/mod.js";
import { CoordinatorGrpcServer, CoordinatorService } from "../../coordinator/src/mod.js";
import { Agent, type AgentOptions } from "../../agent/src/mod.js";
import { CoordinatorConnection } from "../../cli/src/mod.js";
import type { BuildStatus__Output, JobEvent__Output } from "../../proto/src/mod.js";

export interface TestAgentOptions extends Partial<AgentOptions> {
  name: string;
}

export class TestFarm implements AsyncDisposable {
  readonly agents = new Map<string, { agent: Agent; nc: NatsConnection }>();
  readonly coordinators: { service: CoordinatorService; server: CoordinatorGrpcServer; nc: NatsConnection }[] = [];
  private readonly clients: CoordinatorConnection[] = [];
  readonly logs: string[] = [];

  /** A directory for builds' local workspaces (what the embedded farm would use as the user's directory). */
  readonly workspace: string;

  private constructor(
    readonly nats: NatsServer,
    readonly dir: string,
  ) {
    this.workspace = path.join(dir, "workspace");
  }

  static async start(): Promise<TestFarm> {
    const nats = await NatsServer.start();
    const dir = await mkdtemp(path.join(tmpdir(), "kiln-test-farm-"));
    const farm = new TestFarm(nats, dir);
    await mkdir(farm.workspace);
    return farm;
  }

  /** `advertiseNats`: hand clients the farm's NATS URL for direct object-store downloads. */
  async addCoordinator(options: { advertiseNats?: boolean } = {}): Promise<CoordinatorConnection> {
    const nc = await connectFarm({ servers: this.nats.url, name: `test-coordinator-${this.coordinators.length}` });
    const service = await CoordinatorService.open(nc, { log: (l) => this.logs.push(`coordinator: ${l}`) });
    const server = await CoordinatorGrpcServer.start(service, "127.0.0.1:0", { advertiseNats: options.advertiseNats ? [this.nats.url] : [] });
    this.coordinators.push({ service, server, nc });
    return this.client(server.address);
  }

  client(address?: string): CoordinatorConnection {
    const target = address ?? this.coordinators[0]?.server.address;
    if (!target) throw new Error("start a coordinator first");
    const client = new CoordinatorConnection(target);
    this.clients.push(client);
    return client;
  }

  async addAgent(options: TestAgentOptions): Promise<Agent> {
    const nc = await connectFarm({ servers: this.nats.url, name: `test-agent-${options.name}` });
    const agent = await Agent.start(nc, {
      workDir: path.join(this.dir, "agents", options.name),
      acceptLocalWorkspaces: true,
      log: (l) => this.logs.push(l),
      ...options,
    });
    this.agents.set(options.name, { agent, nc });
    return agent;
  }

  async stopAgent(name: string): Promise<void> {
    const entry = this.agents.get(name);
    if (!entry) return;
    this.agents.delete(name);
    await entry.agent.stop(5_000);
    await entry.nc.close();
  }

  /**
   * Simulates an agent's host dying mid-job: its NATS connection drops first (no ack, no result, no heartbeat), then
   * its local processes are stopped so the test leaves nothing running.
   */
  async crashAgent(name: string): Promise<void> {
    const entry = this.agents.get(name);
    if (!entry) return;
    this.agents.delete(name);
    await entry.nc.close();
    await entry.agent.abortAll();
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    await Promise.all([...this.agents.keys()].map((n) => this.stopAgent(n)));
    for (const { service, server, nc } of this.coordinators) {
      await server.stop(200);
      service.close();
      await nc.close();
    }
    this.coordinators.length = 0;
    await this.nats.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** A fresh temporary directory, removed by the returned cleanup. */
export async function tempDir(prefix = "kiln-test-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** All of a build's events until it ends, and its final status. */
export async function watchToEnd(
  client: CoordinatorConnection,
  buildId: string,
): Promise<{ status: BuildStatus__Output; events: JobEvent__Output[] }> {
  const events: JobEvent__Output[] = [];
  for await (const e of client.watch(buildId, 0)) events.push(e);
  return { status: await client.getBuild(buildId), events };
}

/** Polls `fn` every 100 ms until it returns a value. */
export async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
