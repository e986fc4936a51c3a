/**
 * Reaching a farm: the coordinator named by --coordinator or KILN_COORDINATOR, or else the embedded farm, started
 * for the duration of one command and stopped after it, whatever happens.
 */
import { CoordinatorConnection } from "./client.js";
import { EmbeddedFarm } from "./embedded.js";

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export function configuredCoordinator(flag: string | undefined): string | undefined {
  const value = flag ?? process.env["KILN_COORDINATOR"];
  return value && value.trim().length > 0 ? value.trim() : undefined;
}

export async function withCoordinator<T>(
  flag: string | undefined,
  io: CliIo,
  fn: (client: CoordinatorConnection, embedded: boolean) => Promise<T>,
): Promise<T> {
  const address = configuredCoordinator(flag);
  if (address) {
    const client = new CoordinatorConnection(address);
    try {
      await client.ready();
      return await fn(client, false);
    } finally {
      client.close();
    }
  }
  const farm = await EmbeddedFarm.start({ agentLog: (line) => io.stderr(`${line}\n`) });
  const client = new CoordinatorConnection(farm.coordinatorAddress);
  try {
    return await fn(client, true);
  } finally {
    client.close();
    await farm.stop();
  }
}

/** For commands that only make sense against a running farm (builds, logs, cancel, agents). */
export async function withRemoteCoordinator<T>(flag: string | undefined, command: string, fn: (client: CoordinatorConnection) => Promise<T>): Promise<T> {
  const address = configuredCoordinator(flag);
  if (!address) {
    const { InvalidArgumentError } = await import("../../core/src/mod.js");
    throw new InvalidArgumentError(
      `kiln ${command}: no coordinator configured. Pass --coordinator HOST:PORT or set KILN_COORDINATOR (for the embedded farm, run 'kiln dev' and use the address it prints).`,
    );
  }
  const client = new CoordinatorConnection(address);
  try {
    await client.ready();
    return await fn(client);
  } finally {
    client.close();
  }
}
