/**
 * The vsphere-iso and vsphere-clone builders against VMware's own vCenter simulator (vcsim from Debian's govmomi
 * 0.24, test/src/vcsim.ts), checked through kiln's vim25 client reading the VM's properties back:
 *
 * - vsphere-iso creates the VM with the requested CPU, RAM, disk controller, disk, NIC and CD-ROM, powers it on,
 *   waits for the guest IP (vcsim reports the address set with its `SET.guest.ipAddress` extraConfig knob, through
 *   Packer's `configuration_parameters`: here 127.0.0.1, where a real sshd of the test harness listens, so the SSH
 *   communicator and a shell provisioner run for real), shuts down through VMware Tools' API, snapshots and converts
 *   to a template;
 * - vsphere-clone clones that template, resizes CPU, RAM and the disk;
 * - a cancel while waiting for the IP and a failing provisioner leave no VM in the inventory;
 * - bad credentials, a missing datastore and folder, and an unreachable vCenter give one-line errors with codes.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, validatePluginConfig } from "../../core/src/mod.js";
import { TEST_USER, freePort } from "../../test/src/mod.js";
import { vcsimToolchain } from "../../test/src/vcsim.js";
import { runJob } from "../src/runner.js";
import type { MoRef } from "../src/vsphere/client.js";
import { child, list, moref, text, xsiType } from "../src/vsphere/soap.js";
import { VCSIM_USERNAME, useVcsim } from "./vsphere_harness.js";
import { planTemplateJob, recordingContext } from "./job_harness.js";

const PASSWORD = "kiln-vcsim-password";

const signal = new AbortController().signal;
let isoPath: string;
/** The simulator's LocalDS_0 datastore directory on this host. */
let datastoreDir: string;

const vc = useVcsim({ password: PASSWORD, sshd: true });

beforeAll(async () => {
  // An ISO on the simulator's datastore (a directory on this host), for iso_paths.
  const dir = await vc.datastoreDir();
  datastoreDir = dir;
  await mkdir(`${dir}/iso`, { recursive: true });
  await writeFile(`${dir}/iso/installer.iso`, Buffer.alloc(64 * 1024));
  isoPath = "[LocalDS_0] iso/installer.iso";
}, 300_000);

/**
 * What a user does for a vsphere-iso build without a communicator (Packer 1.6.6 waits for it): shut the VM down when
 * the build asks. Returns a recordingContext `onLog` handler.
 */
function shutdownWhenAsked(name: string): (l: { text: string }) => void {
  return (l) => {
    if (!l.text.startsWith("Please shutdown virtual machine within")) return;
    void vc.vmByName(name)
      .then((vm) => vc.client.call("ShutdownGuest", vm, {}, signal))
      .catch(() => undefined);
  };
}

/** The CD-ROMs of a VM: backing type and file. */
async function cdroms(name: string): Promise<{ backing: string; file: string; connected: string }[]> {
  const devices = list(child((await vc.client.props(await vc.vmByName(name), ["config.hardware.device"], signal)).get("config.hardware.device"), "VirtualDevice"));
  return devices
    .filter((d) => xsiType(d) === "VirtualCdrom")
    .map((d) => ({ backing: xsiType(child(d, "backing")), file: text(child(child(d, "backing"), "fileName")), connected: text(child(child(d, "connectable"), "startConnected")) }));
}

function isoBuilder(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return vc.isoBuilder(name, { iso_paths: [isoPath], ...extra });
}

/** SSH to the harness's sshd at the address vcsim reports as the guest's. */
const sshToGuest = (): Record<string, unknown> => vc.sshToGuest();

describe("vsphere builders: the vcsim harness", () => {
  it("names the Debian package when Go is missing", async () => {
    await expect(vcsimToolchain({ PATH: "/nonexistent" })).rejects.toThrow(/apt-get install golang-go\b.*Go is a test-only dependency/);
    await expect(vcsimToolchain()).resolves.toMatch(/^go version go1\.\S+ .* govmomi 0\.24/);
  });
});

describe("vsphere builders: configuration", () => {
  it("reports every problem at once and refuses what kiln does not run, by name", () => {
    const r = validatePluginConfig("builder", "vsphere-iso", {
      CPUs: 1,
      storage: [{ disk_thin_provisioned: true }],
      network_adapters: [{ network: "VM Network" }],
      export: { force: true, manifest: "md5" },
      iso_urls: ["http://example.com/x.iso"],
      floppy_files: ["a.txt"],
      communicator: "none",
    });
    expect(r.problems).toEqual(
      expect.arrayContaining([
        "'vcenter_server' is required",
        "'username' is required",
        "'password' is required",
        "'vm_name' is required",
        "'host' or 'cluster' is required",
        "storage[0].'disk_size' is required",
        "network_adapters[0].'network_card' is required",
      ]),
    );
    expect(r.problems).toContain("unknown hash: md5. available options include available options being 'none', 'sha1', 'sha256', 'sha512'");
    expect(r.problems).toContain('A checksum must be specified: iso_checksum ("none" to skip the check)');
    expect(r.problems).toContain("floppy_files is not supported by kiln's vSphere builders yet: remove it or build with Packer");
    const clone = validatePluginConfig("builder", "vsphere-clone", { ...vc.connection(), vm_name: "x", host: "h", communicator: "none" });
    expect(clone.problems).toEqual(["'template' is required"]);
  });
});

describe("vsphere builders against vcsim", () => {
  it("vsphere-iso: creates the VM as asked, gets its IP, provisions over SSH, snapshots and converts it to a template", async () => {
    const name = `kiln-iso-${process.pid}`;
    // While the guest is up, its CD-ROM holds the ISO; after shutdown the build ejects it, as Packer does.
    let mounted: Promise<unknown> = Promise.resolve(undefined);
    const ctx = recordingContext(await vc.dirs.make(), {
      onLog: (l) => {
        if (l.text === "Connected to SSH!") mounted = cdroms(name);
      },
    });
    const template = {
      builders: [isoBuilder(name, { ...sshToGuest(), create_snapshot: true, convert_to_template: true, notes: "built by kiln" })],
      provisioners: [{ type: "shell", inline: ["echo provisioned-$(id -un) {{build `ID`}}"] }],
    };
    const outcome = await runJob(planTemplateJob(template, "vsphere-iso"), ctx);
    expect(outcome.failure?.message).toBeUndefined();
    expect(outcome.state).toBe("succeeded");
    expect(ctx.lines()).toContain("IP address: 127.0.0.1");
    expect(ctx.lines()).toContain("Connected to SSH!");
    expect(ctx.lines()).toContain(`provisioned-${TEST_USER} ${name}`);
    expect(ctx.artifacts[0]).toMatchObject({ builder_id: "jetbrains.vsphere", id: name });

    const vm = await vc.vmByName(name);
    const props = await vc.client.props(
      vm,
      ["config.hardware.numCPU", "config.hardware.numCoresPerSocket", "config.hardware.memoryMB", "config.template", "config.guestId", "config.annotation", "config.extraConfig", "runtime.powerState", "snapshot"],
      signal,
    );
    expect(text(props.get("config.hardware.numCPU"))).toBe("2");
    expect(text(props.get("config.hardware.numCoresPerSocket"))).toBe("1");
    expect(text(props.get("config.hardware.memoryMB"))).toBe("1024");
    expect(text(props.get("config.template"))).toBe("true");
    expect(text(props.get("config.guestId"))).toBe("otherLinux64Guest");
    expect(text(props.get("config.annotation"))).toBe("built by kiln");
    expect(text(props.get("runtime.powerState"))).toBe("poweredOff");
    expect(text(child(child(props.get("snapshot"), "rootSnapshotList"), "name"))).toBe("Created by Packer");

    const devices = list(child((await vc.client.props(vm, ["config.hardware.device"], signal)).get("config.hardware.device"), "VirtualDevice"));
    const ofType = (t: string): unknown[] => devices.filter((d) => xsiType(d) === t);
    const [controller] = ofType("ParaVirtualSCSIController");
    expect(controller).toBeDefined();
    const [disk, extraDisk] = ofType("VirtualDisk");
    expect(extraDisk).toBeUndefined();
    expect(text(child(disk, "capacityInKB"))).toBe(String(2048 * 1024));
    expect(text(child(disk, "controllerKey"))).toBe(text(child(controller, "key")));
    expect(text(child(child(disk, "backing"), "thinProvisioned"))).toBe("true");
    const [nic] = ofType("VirtualVmxnet3");
    expect(text(child(child(nic, "backing"), "deviceName"))).toBe("VM Network");
    const [cdrom] = ofType("VirtualCdrom");
    const ide = ofType("VirtualIDEController").map((d) => text(child(d, "key")));
    expect(ide).toContain(text(child(cdrom, "controllerKey")));
    expect(await mounted).toEqual([{ backing: "VirtualCdromIsoBackingInfo", file: isoPath, connected: "true" }]);
    expect(await cdroms(name)).toEqual([{ backing: "VirtualCdromRemotePassthroughBackingInfo", file: "", connected: "false" }]);
    expect(ctx.lines()).toContain("Eject CD-ROM drives...");
  }, 180_000);

  it("vsphere-iso: iso_url is verified against iso_checksum, uploaded to the datastore once, and mounted after iso_paths", async () => {
    const dir = await vc.dirs.make();
    const iso = randomBytes(200 * 1024);
    const isoName = `kiln-upload-${process.pid}.iso`;
    await writeFile(`${dir}/${isoName}`, iso);
    const sha = createHash("sha256").update(iso).digest("hex");
    const name = `kiln-upload-${process.pid}`;

    const bad = await runJob(
      planTemplateJob({ builders: [isoBuilder(`${name}-bad`, { iso_url: isoName, iso_checksum: `sha256:${"0".repeat(64)}` })] }, "vsphere-iso"),
      recordingContext(dir),
    );
    expect(bad.state).toBe("failed");
    expect(bad.failure?.message).toMatch(/checksum/i);
    expect(existsSync(`${datastoreDir}/packer_cache/${isoName}`)).toBe(false);

    const builds = [name, `${name}-again`].map((vm) => isoBuilder(vm, { iso_url: isoName, iso_checksum: `sha256:${sha}` }));
    let mounted: Promise<unknown> = Promise.resolve(undefined);
    const first = recordingContext(dir, {
      onLog: (l) => {
        if (l.text.startsWith("Please shutdown")) mounted = cdroms(name);
        shutdownWhenAsked(name)(l);
      },
    });
    expect((await runJob(planTemplateJob({ builders: [builds[0]] }, "vsphere-iso"), first)).failure?.message).toBeUndefined();
    expect(first.lines()).toContain(`Uploading ${isoName} to [LocalDS_0] packer_cache/${isoName}`);
    expect((await readFile(`${datastoreDir}/packer_cache/${isoName}`)).equals(iso)).toBe(true);
    expect(((await mounted) as { file: string }[]).map((c) => c.file)).toEqual([isoPath, `[LocalDS_0] packer_cache/${isoName}`]);

    const second = recordingContext(dir, { onLog: shutdownWhenAsked(`${name}-again`) });
    expect((await runJob(planTemplateJob({ builders: [builds[1]] }, "vsphere-iso"), second)).failure?.message).toBeUndefined();
    expect(second.lines()).toContain("File already uploaded; continuing");
    expect(await vc.vmNames()).not.toContain(`${name}-bad`);
  }, 120_000);

  it("vsphere-clone: clones a template into the cluster and resizes CPU, RAM and disk; the template is untouched", async () => {
    const base = `kiln-base-${process.pid}`;
    const madeCtx = recordingContext(await vc.dirs.make(), { onLog: shutdownWhenAsked(base) });
    const baseBuilder = isoBuilder(base, { convert_to_template: true, create_snapshot: true, remove_cdrom: true });
    const made = await runJob(planTemplateJob({ builders: [baseBuilder] }, "vsphere-iso"), madeCtx);
    expect(made.failure?.message).toBeUndefined();
    expect(madeCtx.lines()).toContain("Deleting CD-ROM drives...");
    expect(madeCtx.lines()).toContain("Please shutdown virtual machine within 5m0s.");
    const baseDevices = list(child((await vc.client.props(await vc.vmByName(base), ["config.hardware.device"], signal)).get("config.hardware.device"), "VirtualDevice"));
    expect(baseDevices.filter((d) => xsiType(d) === "VirtualCdrom")).toEqual([]);

    const name = `kiln-clone-${process.pid}`;
    const ctx = recordingContext(await vc.dirs.make());
    const template = {
      builders: [
        {
          type: "vsphere-clone",
          ...vc.connection(),
          template: base,
          vm_name: name,
          host: "DC0_C0_H1",
          cluster: "DC0_C0",
          CPUs: 4,
          RAM: 2048,
          disk_size: 4096,
          network: "DC0_DVPG0",
          mac_address: "00:50:56:12:34:56",
          notes: "cloned by kiln",
          communicator: "none",
        },
      ],
    };
    const outcome = await runJob(planTemplateJob(template, "vsphere-clone"), ctx);
    expect(outcome.failure?.message, vc.sim.log).toBeUndefined();
    expect(ctx.artifacts[0]).toMatchObject({ builder_id: "jetbrains.vsphere", id: name });
    const clone = await vc.client.props(
      await vc.vmByName(name),
      ["config.hardware.numCPU", "config.hardware.memoryMB", "config.template", "config.hardware.device", "config.annotation", "runtime.host"],
      signal,
    );
    expect(text(clone.get("config.annotation"))).toBe("cloned by kiln");
    // Packer 1.6.6: vsphere-clone without a communicator never starts the VM.
    expect(ctx.lines()).not.toContain("Power on VM...");
    // The first NIC moved to the distributed port group, with the fixed MAC.
    const nic = list(child(clone.get("config.hardware.device"), "VirtualDevice")).find((d) => xsiType(d) === "VirtualVmxnet3");
    expect(xsiType(child(nic, "backing"))).toBe("VirtualEthernetCardDistributedVirtualPortBackingInfo");
    const portgroup = (await vc.client.descendants(vc.client.content.rootFolder, "DistributedVirtualPortgroup", signal)).find((p) => p.name === "DC0_DVPG0");
    expect(text(child(child(child(nic, "backing"), "port"), "portgroupKey"))).toBe(portgroup?.ref.value);
    expect(text(child(nic, "macAddress"))).toBe("00:50:56:12:34:56");
    expect(text(clone.get("config.hardware.numCPU"))).toBe("4");
    expect(text(clone.get("config.hardware.memoryMB"))).toBe("2048");
    expect(text(clone.get("config.template"))).toBe("false");
    const disk = list(child(clone.get("config.hardware.device"), "VirtualDevice")).find((d) => xsiType(d) === "VirtualDisk");
    expect(text(child(disk, "capacityInKB"))).toBe(String(4096 * 1024));
    const host = moref(clone.get("runtime.host"));
    expect(host?.type).toBe("HostSystem");
    const hostName = text((await vc.client.props(host as MoRef, ["name"], signal)).get("name"));
    // vcsim 0.24 ignores a clone's location.host and picks any host of the pool's cluster.
    expect(hostName).toMatch(/^DC0_C0_H\d$/);

    const original = await vc.client.props(await vc.vmByName(base), ["config.hardware.numCPU", "config.template"], signal);
    expect(text(original.get("config.hardware.numCPU"))).toBe("2");
    expect(text(original.get("config.template"))).toBe("true");

    // A linked clone of the template's snapshot; artifice with keep_input_artifact false destroys the builder's
    // artifact, the VM, through the artifact's Destroy().
    const linked = `kiln-linked-${process.pid}`;
    const dir = await vc.dirs.make();
    await writeFile(`${dir}/out.txt`, "x");
    const linkedCtx = recordingContext(dir);
    const linkedTemplate = {
      builders: [{ type: "vsphere-clone", ...vc.connection(), template: base, vm_name: linked, cluster: "DC0_C0", linked_clone: true, communicator: "none" }],
      "post-processors": [{ type: "artifice", files: ["out.txt"], keep_input_artifact: false }],
    };
    const linkedOutcome = await runJob(planTemplateJob(linkedTemplate, "vsphere-clone"), linkedCtx);
    expect(linkedOutcome.failure?.message).toBeUndefined();
    expect(linkedCtx.lines()).toContain("Cloning VM...");
    expect(await vc.vmNames()).not.toContain(linked);
    expect(await vc.vmNames()).toContain(base);

    // linked_clone needs a snapshot: the clone just made has none.
    const noSnapshot = await runJob(
      planTemplateJob({ builders: [{ type: "vsphere-clone", ...vc.connection(), template: name, vm_name: `${linked}-2`, host: "DC0_H0", linked_clone: true, communicator: "none" }] }, "vsphere-clone"),
      recordingContext(await vc.dirs.make()),
    );
    expect(noSnapshot.failure?.code).toBe(ErrorCode.InvalidArgument);
    expect(noSnapshot.failure?.message).toBe(`template '${name}' has no snapshot: linked_clone needs one (create_snapshot on the build that made it)`);
  }, 180_000);

  it("a cancel while waiting for the guest IP leaves no VM behind", async () => {
    const name = `kiln-cancel-${process.pid}`;
    const ctx = recordingContext(await vc.dirs.make(), {
      onLog: (l) => {
        if (l.text === "Waiting for IP...") setTimeout(() => ctx.cancel(), 300);
      },
    });
    const { configuration_parameters: _unused, ...noIp } = sshToGuest();
    const outcome = await runJob(planTemplateJob({ builders: [isoBuilder(name, noIp)] }, "vsphere-iso"), ctx);
    expect(outcome.state).toBe("cancelled");
    expect(ctx.lines()).toContain(`Destroying VM ${name}...`);
    expect(await vc.vmNames()).not.toContain(name);

    // A cancel while CreateVM_Task is in flight: whether or not vCenter made the VM, none is left.
    for (const delay of [0, 2, 5]) {
      const early = recordingContext(await vc.dirs.make(), {
        onLog: (l) => {
          if (l.text === "Creating VM...") setTimeout(() => early.cancel(), delay);
        },
      });
      const cancelled = await runJob(planTemplateJob({ builders: [isoBuilder(`${name}-${delay}`, noIp)] }, "vsphere-iso"), early);
      expect(cancelled.state).toBe("cancelled");
      expect(await vc.vmNames()).not.toContain(`${name}-${delay}`);
    }
  }, 120_000);

  it("a failing provisioner and an IP wait that times out leave no VM behind", async () => {
    const name = `kiln-fail-${process.pid}`;
    const ctx = recordingContext(await vc.dirs.make());
    const template = { builders: [isoBuilder(name, sshToGuest())], provisioners: [{ type: "shell", inline: ["exit 3"] }] };
    const outcome = await runJob(planTemplateJob(template, "vsphere-iso"), ctx);
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toMatch(/exit status 3|non-zero exit status: 3/);
    expect(await vc.vmNames()).not.toContain(name);

    // An address outside ip_wait_address never counts: the IP wait times out, and the VM goes too.
    const timedOut = await runJob(
      planTemplateJob({ builders: [isoBuilder(`${name}-ip`, { ...sshToGuest(), ip_wait_address: "10.0.0.0/8", ip_wait_timeout: "2s" })] }, "vsphere-iso"),
      recordingContext(await vc.dirs.make()),
    );
    expect(timedOut.failure?.code).toBe(ErrorCode.Timeout);
    expect(timedOut.failure?.message).toBe("Timeout waiting for IP. (ip_wait_timeout 2s)");
    expect(await vc.vmNames()).not.toContain(`${name}-ip`);
  }, 120_000);

  it("bad credentials, a missing datastore and folder, and an unreachable vCenter fail with one-line errors", async () => {
    const before = await vc.vmNames();
    const run = async (builder: Record<string, unknown>) => runJob(planTemplateJob({ builders: [builder] }, String(builder.type)), recordingContext(await vc.dirs.make()));

    const badLogin = await run(isoBuilder("kiln-bad-login", { password: "wrong" }));
    expect(badLogin.failure?.code).toBe(ErrorCode.InvalidArgument);
    expect(badLogin.failure?.message).toBe(`cannot log in to vCenter ${vc.sim.server} as '${VCSIM_USERNAME}': incorrect user name or password (check username and password)`);

    const missing = await run(isoBuilder("kiln-missing", { datastore: "NoSuchDS", folder: "no/such/folder" }));
    expect(missing.failure?.code).toBe(ErrorCode.NotFound);
    expect(missing.failure?.message.split("\n")).toEqual([
      "datastore 'NoSuchDS' not found (no Datastore of that name under DC0/datastore)",
      "folder 'no/such/folder' not found (no Folder at inventory path DC0/vm/no/such/folder)",
    ]);

    const untrusted = await run(isoBuilder("kiln-tls", { insecure_connection: false }));
    expect(untrusted.failure?.code).toBe(ErrorCode.InvalidArgument);
    expect(untrusted.failure?.message).toMatch(/TLS certificate is not trusted .*insecure_connection/);

    const closed = await freePort();
    const unreachable = await run(isoBuilder("kiln-unreachable", { vcenter_server: `127.0.0.1:${closed}` }));
    expect(unreachable.failure?.code).toBe(ErrorCode.Unavailable);
    expect(unreachable.failure?.message).toMatch(new RegExp(`^cannot reach vCenter at 127\\.0\\.0\\.1:${closed} \\(vcenter_server\\): .*ECONNREFUSED`));

    expect(await vc.vmNames()).toEqual(before);
  }, 120_000);
});
