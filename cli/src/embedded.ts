/**
 * The embedded farm: what `kiln build` runs when no coordinator is configured, and what `kiln dev` keeps in the
 * foreground. A private nats-server (JetStream in a temp dir, free port), a coordinator on a free loopback port and
 * one local agent, all in this process except the server. The local agent accepts local workspaces, so outputs land
 * in the user's directory exactly where `packer build` puts them.
 *
 * The server's and the agent's directories are marked with this process's pid (`kiln-embedded-<pid>-…`, core's
 * orphans): if kiln is killed outright (SIGKILL, OOM) its nats-server runs on, so each embedded farm first stops the
 * servers and removes the directories that earlier, dead kiln processes left.
 */
import { mkdtemp, rm } from "node:fs/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectFarm, NatsServer, ownedTempPrefix, reapOrphans } from "../../core/src/mod.js";
import { CoordinatorGrpcServer, CoordinatorService } from "../../coordinator/src/mod.js";
import { Agent } from "../../agent/src/mod.js";

export interface EmbeddedFarmOptions {
  /** Jobs the local agent runs at once. Packer runs every build in parallel by default. @default 32 */
  slots?: number;
  /** @default "127.0.0.1:0" */
  listen?: string;
  agentLog?: (line: string) => void;
}

/** The name that marks the embedded farm's temporary directories (see the module comment). */
const EMBEDDED_DIR = "kiln-embedded";

export class EmbeddedFarm implements AsyncDisposable {
  private constructor(
    readonly nats: NatsServer,
    private readonly connections: NatsConnection[],
    readonly grpc: CoordinatorGrpcServer,
    readonly agent: Agent,
    private readonly workDir: string,
  ) {}

  get coordinatorAddress(): string {
    return this.grpc.address;
  }

  static async start(options: EmbeddedFarmOptions = {}): Promise<EmbeddedFarm> {
    // Alongside the server's start-up (the /proc scan takes 5-35 ms; it never throws, and never touches a live
    // process's server, this one's included).
    const [nats] = await Promise.all([
      NatsServer.start({ tempDirPrefix: ownedTempPrefix(EMBEDDED_DIR) }),
      reapOrphans(EMBEDDED_DIR, "nats-server", { what: "nats-server", owner: "kiln process" }, (line) => options.agentLog?.(`kiln: ${line}`)),
    ]);
    const connections: NatsConnection[] = [];
    const workDir = await mkdtemp(ownedTempPrefix(EMBEDDED_DIR));
    try {
      const coordinatorNc = await connectFarm({ servers: nats.url, name: "kiln-embedded-coordinator" });
      connections.push(coordinatorNc);
      // Its NATS store lives as long as the command: nothing is left to sweep.
      const service = await CoordinatorService.open(coordinatorNc, { partialUploadMaxAgeMs: 0 });
      // Its server is on this host: the CLI reads object-store downloads from it itself.
      const grpc = await CoordinatorGrpcServer.start(service, options.listen ?? "127.0.0.1:0", { advertiseNats: [nats.url] });
      const agentNc = await connectFarm({ servers: nats.url, name: "kiln-embedded-agent" });
      connections.push(agentNc);
      const agent = await Agent.start(agentNc, {
        name: "local",
        datacenter: "local",
        slots: options.slots ?? 32,
        workDir,
        acceptLocalWorkspaces: true,
        ...(options.agentLog ? { log: options.agentLog } : {}),
      });
      return new EmbeddedFarm(nats, connections, grpc, agent, workDir);
    } catch (err) {
      await Promise.allSettled(connections.map((nc) => nc.close()));
      await nats.stop();
      await rm(workDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Stops agent, coordinator and server, and removes every temporary file. Idempotent. */
  async stop(): Promise<void> {
    await this.agent.stop(5_000);
    await this.grpc.stop(500);
    await Promise.allSettled(this.connections.map((nc) => nc.drain()));
    // Its store lives as long as the command (see start): nothing in it is worth an orderly shutdown.
    await this.nats.stop({ discard: true });
    await rm(this.workDir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
