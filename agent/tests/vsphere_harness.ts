/**
 * The vCenter simulator a vSphere test file runs against: one vcsim with a login, started before the file's tests
 * with kiln's API client logged in (and, when asked, the harness's sshd that stands in for the guest), all stopped
 * after them. Setup a file registers after `useVcsim` runs after it (vitest runs beforeAll hooks in order and
 * afterAll hooks in reverse), so it can use the simulator; setup registered before runs first (a dockerd vcsim needs).
 */
import { afterAll, beforeAll } from "vitest";
import { SshServer, TEST_PASSWORD, TEST_USER } from "../../test/src/mod.js";
import { Vcsim } from "../../test/src/vcsim.js";
import { VsphereClient, type MoRef } from "../src/vsphere/client.js";
import { text } from "../src/vsphere/soap.js";
import { TempDirs } from "./job_harness.js";

export const VCSIM_USERNAME = "kiln";

export interface VcsimFixture {
  readonly sim: Vcsim;
  readonly client: VsphereClient;
  /** The harness's sshd (only with `sshd: true`). */
  readonly sshd: SshServer;
  /** Temp dirs for the file's builds, removed after its tests. */
  readonly dirs: TempDirs;
  /** The connection settings of a vSphere builder for this simulator. */
  connection(): Record<string, unknown>;
  /** A vsphere-iso builder of VM `name` in cluster DC0_C0 (2 CPUs, 1 GiB, a thin 2 GiB pvscsi disk, vmxnet3), no communicator. */
  isoBuilder(name: string, extra?: Record<string, unknown>): Record<string, unknown>;
  /** The names of every VM and template in the simulator, sorted. */
  vmNames(): Promise<string[]>;
  /**
   * SSH settings that reach the harness's sshd (`sshd: true`) as the guest: vcsim invents no guest, so its
   * `SET.guest.ipAddress` knob reports 127.0.0.1, where the sshd listens.
   */
  sshToGuest(): Record<string, unknown>;
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
  const dirs = new TempDirs();
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
    await dirs.cleanup();
  }, 60_000);

  const fixture: VcsimFixture = {
    dirs,
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
    isoBuilder: (name, extra = {}) => ({
      type: "vsphere-iso",
      ...fixture.connection(),
      vm_name: name,
      datacenter: "DC0",
      cluster: "DC0_C0",
      datastore: "LocalDS_0",
      guest_os_type: "otherLinux64Guest",
      CPUs: 2,
      cpu_cores: 1,
      RAM: 1024,
      disk_controller_type: ["pvscsi"],
      storage: [{ disk_size: 2048, disk_thin_provisioned: true }],
      network_adapters: [{ network: "VM Network", network_card: "vmxnet3" }],
      communicator: "none",
      ...extra,
    }),
    sshToGuest: () => ({
      communicator: "ssh",
      ssh_port: fixture.sshd.port,
      ssh_username: TEST_USER,
      ssh_password: TEST_PASSWORD,
      ssh_timeout: "60s",
      configuration_parameters: { "SET.guest.ipAddress": "127.0.0.1" },
      ip_settle_timeout: "500ms",
    }),
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
