/**
 * The vCenter simulator a vSphere test file runs against: one vcsim with a login, started before the file's tests
 * with kiln's API client logged in (and, when asked, the harness's sshd that stands in for the guest), all stopped
 * after them. Setup a file registers after `useVcsim` runs after it (vitest runs beforeAll hooks in order and
 * afterAll hooks in reverse), so it can use the simulator; setup registered before runs first (a dockerd vcsim needs).
 */
import { afterAll, beforeAll } from "vitest";
import { SshServer } from "../../test/src/mod.js";
import { Vcsim } from "../../test/src/vcsim.js";
import { VsphereClient, type MoRef } from "../src/vsphere/client.js";
import { text } from "../src/vsphere/soap.js";

export const VCSIM_USERNAME = "kiln";

export interface VcsimFixture {
  readonly sim: Vcsim;
  readonly client: VsphereClient;
  /** The harness's sshd (only with `sshd: true`). */
  readonly sshd: SshServer;
  /** The connection settings of a vSphere builder for this simulator. */
  connection(): Record<string, unknown>;
  /** The names of every VM and template in the simulator, sorted. */
  vmNames(): Promise<string[]>;
  /** The VM or template of that name, or undefined. */
  findVm(name: string): Promise<MoRef | undefined>;
  /** The VM or template of that name. @throws when there is none */
  vmByName(name: string): Promise<MoRef>;
  /** The LocalDS_0 datastore's directory on this host. */
  datastoreDir(): Promise<string>;
}

export interface VcsimFixtureOptions {
  readonly password: string;
  readonly sshd?: boolean;
  /** Extra environment for vcsim, read when it starts (after the setup registered before `useVcsim`). */
  readonly env?: () => Readonly<Record<string, string>>;
}

export function useVcsim(options: VcsimFixtureOptions): VcsimFixture {
  const signal = new AbortController().signal;
  let sim: Vcsim | undefined;
  let client: VsphereClient | undefined;
  let sshd: SshServer | undefined;
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not running (used outside the test file's tests?)`);
    return value;
  };

  beforeAll(async () => {
    sim = await Vcsim.start({ username: VCSIM_USERNAME, password: options.password, ...(options.env ? { env: options.env() } : {}) });
    if (options.sshd) sshd = await SshServer.start();
    client = await VsphereClient.connect({ server: sim.server, username: VCSIM_USERNAME, password: options.password, insecure: true }, signal);
  }, 300_000);

  afterAll(async () => {
    await client?.close();
    await sshd?.stop();
    await sim?.stop();
  }, 60_000);

  const fixture: VcsimFixture = {
    get sim() {
      return started(sim, "vcsim");
    },
    get client() {
      return started(client, "the vSphere client");
    },
    get sshd() {
      return started(sshd, "the harness's sshd (useVcsim({ sshd: true }))");
    },
    connection: () => ({ vcenter_server: fixture.sim.server, username: VCSIM_USERNAME, password: options.password, insecure_connection: "true" }),
    async vmNames() {
      const c = fixture.client;
      return (await c.descendants(c.content.rootFolder, "VirtualMachine", signal)).map((v) => v.name).sort();
    },
    async findVm(name) {
      const c = fixture.client;
      return (await c.descendants(c.content.rootFolder, "VirtualMachine", signal)).find((v) => v.name === name)?.ref;
    },
    async vmByName(name) {
      const found = await fixture.findVm(name);
      if (found === undefined) throw new Error(`no VM ${name}`);
      return found;
    },
    async datastoreDir() {
      const c = fixture.client;
      const ds = (await c.descendants(c.content.rootFolder, "Datastore", signal)).find((d) => d.name === "LocalDS_0");
      if (ds === undefined) throw new Error("vcsim has no datastore LocalDS_0");
      return text((await c.props(ds.ref, ["info.url"], signal)).get("info.url")).replace(/^ds:\/\//, "");
    },
  };
  return fixture;
}
