/**
 * The vSphere builders' `export` block (Packer 1.6.6's StepExport) against vcsim extended with kiln's ExportVm and
 * CreateDescriptor (test/src/vcsim_overlay/vm_export.go):
 *
 * - vsphere-iso and vsphere-clone write `<name>-disk-0.vmdk` byte-identical to the disk vcsim stores, a `<name>.ovf`
 *   describing the VM's hardware, and a `<name>.mf` whose hashes match the files (sha256 by default, sha512, none);
 * - an existing `<name>.ovf` fails the build before any VM is made unless `force`, which overwrites it and keeps
 *   the directory's other files (they are part of the artifact, as Packer's directory walk makes them);
 * - a cancel during the download aborts the lease and leaves no VM and no output behind;
 * - the lease itself: its device URLs serve the disk until it is aborted, and a powered-on VM cannot be exported.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, truncateSync, writeFileSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { XMLParser } from "fast-xml-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { validatePluginConfig } from "../../core/src/mod.js";
import { runJob } from "../src/runner.js";
import type { MoRef } from "../src/vsphere/client.js";
import { ExportLease } from "../src/vsphere/nfc.js";
import { child, list, moref, text, xsiType } from "../src/vsphere/soap.js";
import { useVcsim } from "./vsphere_harness.js";
import { planTemplateJob, recordingContext } from "./job_harness.js";

const PASSWORD = "kiln-vcsim-password";

const signal = new AbortController().signal;
/** The simulator's LocalDS_0 datastore directory on this host. */
let datastoreDir: string;
/** A template made by vsphere-iso with export, cloned by the later tests. */
const base = `kiln-xbase-${process.pid}`;

const vc = useVcsim({ password: PASSWORD });

beforeAll(async () => {
  datastoreDir = await vc.datastoreDir();
}, 300_000);

/** The disk vcsim stores for a VM made by CreateVM/CloneVM: `[LocalDS_0] <name>/<name>.vmdk`. */
function diskOf(name: string): string {
  return `${datastoreDir}/${name}/${name}.vmdk`;
}

/**
 * Log handler: shuts the VM down when the build asks (vsphere-iso without a communicator), and, when the export
 * starts, writes `content` into the VM's disk the way a guest would have (vcsim creates disks empty).
 */
function guest(name: string, content: Buffer, extra: (l: { text: string }) => void = () => undefined): (l: { text: string }) => void {
  return (l) => {
    if (l.text.startsWith("Please shutdown virtual machine within")) {
      void vc.vmByName(name)
        .then((vm) => vc.client.call("ShutdownGuest", vm, {}, signal))
        .catch(() => undefined);
    }
    // Synchronous: the export step's next call is ExportVm.
    if (l.text === "Starting export...") writeFileSync(diskOf(name), content);
    extra(l);
  };
}

const isoBuilder = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => vc.isoBuilder(name, extra);

function cloneBuilder(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: "vsphere-clone", ...vc.connection(), template: base, vm_name: name, host: "DC0_C0_H1", cluster: "DC0_C0", CPUs: 4, RAM: 2048, communicator: "none", ...extra };
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", removeNSPrefix: true, parseTagValue: false, isArray: (n) => ["Item", "File", "Disk", "Network"].includes(n) });

interface Ovf {
  files: { href: string; size: string }[];
  disks: { capacity: string; fileRef: string }[];
  networks: string[];
  system: string;
  items: Record<string, string>[];
}

/** The parts of an OVF envelope the tests check. */
function parseOvf(text: string): Ovf {
  const env = (xml.parse(text) as { Envelope: Record<string, unknown> }).Envelope;
  const refs = (env.References as { File?: Record<string, string>[] }).File ?? [];
  const disks = (env.DiskSection as { Disk?: Record<string, string>[] }).Disk ?? [];
  const nets = (env.NetworkSection as { Network?: Record<string, string>[] }).Network ?? [];
  const vs = env.VirtualSystem as { "@id": string; VirtualHardwareSection: { Item: Record<string, unknown>[] } };
  return {
    files: refs.map((f) => ({ href: f["@href"] ?? "", size: f["@size"] ?? "" })),
    disks: disks.map((d) => ({ capacity: d["@capacity"] ?? "", fileRef: d["@fileRef"] ?? "" })),
    networks: nets.map((n) => n["@name"] ?? ""),
    system: vs["@id"],
    items: vs.VirtualHardwareSection.Item.map((i) => Object.fromEntries(Object.entries(i).filter(([, v]) => typeof v === "string")) as Record<string, string>),
  };
}

function digest(algo: string, data: Buffer | string): string {
  return createHash(algo).update(data).digest("hex");
}

describe("vsphere export: configuration", () => {
  it("accepts Packer's export block and refuses an unknown manifest hash with Packer's message", () => {
    const ok = validatePluginConfig("builder", "vsphere-clone", { ...vc.connection(), template: "t", vm_name: "x", host: "h", communicator: "none", export: { force: true, options: ["mac"] } });
    expect(ok.problems).toEqual([]);
    const bad = validatePluginConfig("builder", "vsphere-iso", { ...isoBuilder("x"), export: { manifest: "md5" } });
    expect(bad.problems).toContain("unknown hash: md5. available options include available options being 'none', 'sha1', 'sha256', 'sha512'");
  });
});

describe("vsphere export against vcsim", () => {
  it("vsphere-iso: exports the template to output_directory: the disk as vcsim stores it, an OVF of its hardware, a sha256 manifest", async () => {
    const dir = await vc.dirs.make();
    const disk = randomBytes(1024 * 1024 + 123);
    const ctx = recordingContext(dir, { onLog: guest(base, disk) });
    const builder = isoBuilder(base, { convert_to_template: true, export: { output_directory: "out-iso", options: ["mac"] } });
    const outcome = await runJob(planTemplateJob({ builders: [builder] }, "vsphere-iso"), ctx);
    expect(outcome.failure?.message, vc.sim.log).toBeUndefined();

    const out = path.join(dir, "out-iso");
    expect((await readdir(out)).sort()).toEqual([`${base}-disk-0.vmdk`, `${base}.mf`, `${base}.ovf`]);
    expect(ctx.artifacts[0]?.files?.map((f) => f.name)).toEqual([`out-iso/${base}-disk-0.vmdk`, `out-iso/${base}.mf`, `out-iso/${base}.ovf`]);
    const vmdk = await readFile(path.join(out, `${base}-disk-0.vmdk`));
    expect(vmdk.equals(disk)).toBe(true);
    expect(vmdk.equals(await readFile(diskOf(base)))).toBe(true);

    const ovfText = await readFile(path.join(out, `${base}.ovf`), "utf8");
    const ovf = parseOvf(ovfText);
    expect(ovf.system).toBe(base);
    expect(ovf.files).toEqual([{ href: `${base}-disk-0.vmdk`, size: String(disk.length) }]);
    expect(ovf.disks).toEqual([{ capacity: String(2048 * 1024), fileRef: "file1" }]);
    expect(ovf.networks).toEqual(["VM Network"]);
    const byType = (t: string): Record<string, string>[] => ovf.items.filter((i) => i.ResourceType === t);
    expect(byType("3")[0]?.VirtualQuantity).toBe("2");
    expect(byType("4")[0]?.VirtualQuantity).toBe("1024");
    expect(byType("6")[0]?.ResourceSubType).toBe("VirtualSCSI");
    expect(byType("17")[0]?.HostResource).toBe("ovf:/disk/vmdisk1");
    expect(byType("17")[0]?.Parent).toBe(byType("6")[0]?.InstanceID);
    const [nic] = byType("10");
    expect(nic?.ResourceSubType).toBe("VmxNet3");
    expect(nic?.Connection).toBe("VM Network");
    expect(nic?.Address).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/); // options: ["mac"]

    expect(await readFile(path.join(out, `${base}.mf`), "utf8")).toBe(
      `SHA256(${base}-disk-0.vmdk)= ${digest("sha256", disk)}\nSHA256(${base}.ovf)= ${digest("sha256", ovfText)}\n`,
    );
    const lines = ctx.lines();
    expect(lines.indexOf("Convert VM into template...")).toBeLessThan(lines.indexOf("Starting export..."));
    for (const l of [`Downloading: ${base}-disk-0.vmdk`, `Exporting file: ${base}-disk-0.vmdk`, "Writing ovf...", "Creating manifest...", "Finished exporting..."]) {
      expect(lines).toContain(l);
    }
    // vcsim's OvfManager lists no export options: Packer reports them and passes them on anyway.
    expect(lines).toContain("unknown export options mac");
    expect(text((await vc.client.props(await vc.vmByName(base), ["config.template"], signal)).get("config.template"))).toBe("true");
  }, 180_000);

  it("vsphere-clone: export name and a sha512 manifest, into an absolute output_directory", async () => {
    const name = `kiln-xclone-${process.pid}`;
    const out = path.join(await vc.dirs.make(), "exported");
    const disk = randomBytes(300 * 1024);
    const ctx = recordingContext(await vc.dirs.make(), { onLog: guest(name, disk) });
    const outcome = await runJob(planTemplateJob({ builders: [cloneBuilder(name, { export: { name: "appliance", manifest: "sha512", output_directory: out } })] }, "vsphere-clone"), ctx);
    expect(outcome.failure?.message, vc.sim.log).toBeUndefined();
    expect((await readdir(out)).sort()).toEqual(["appliance-disk-0.vmdk", "appliance.mf", "appliance.ovf"]);
    expect(ctx.artifacts[0]?.files?.map((f) => f.name)).toEqual(["appliance-disk-0.vmdk", "appliance.mf", "appliance.ovf"].map((f) => path.join(out, f)));
    expect((await readFile(path.join(out, "appliance-disk-0.vmdk"))).equals(disk)).toBe(true);
    const ovfText = await readFile(path.join(out, "appliance.ovf"), "utf8");
    const ovf = parseOvf(ovfText);
    expect(ovf.system).toBe("appliance");
    expect(ovf.items.find((i) => i.ResourceType === "3")?.VirtualQuantity).toBe("4");
    expect(ovf.items.find((i) => i.ResourceType === "4")?.VirtualQuantity).toBe("2048");
    expect(ovf.items.find((i) => i.ResourceType === "10")?.Address).toBeUndefined();
    expect(await readFile(path.join(out, "appliance.mf"), "utf8")).toBe(
      `SHA512(appliance-disk-0.vmdk)= ${digest("sha512", disk)}\nSHA512(appliance.ovf)= ${digest("sha512", ovfText)}\n`,
    );
  }, 120_000);

  it("an existing <name>.ovf fails the build before any VM exists unless force, which overwrites it and keeps other files", async () => {
    const name = `kiln-xforce-${process.pid}`;
    const dir = await vc.dirs.make();
    const out = path.join(dir, "out");
    await mkdir(out);
    await writeFile(path.join(out, `${name}.ovf`), "old");
    await writeFile(path.join(out, "notes.txt"), "keep me");

    const refused = recordingContext(dir);
    const first = await runJob(planTemplateJob({ builders: [cloneBuilder(name, { export: { output_directory: "out" } })] }, "vsphere-clone"), refused);
    expect(first.state).toBe("failed");
    expect(first.failure?.message).toContain(`file already exists: out/${name}.ovf`);
    expect(await vc.vmNames()).not.toContain(name);
    expect(await readFile(path.join(out, `${name}.ovf`), "utf8")).toBe("old");

    const disk = randomBytes(4096);
    const forced = recordingContext(dir, { onLog: guest(name, disk) });
    const second = await runJob(planTemplateJob({ builders: [cloneBuilder(name, { export: { output_directory: "out", force: true, manifest: "none" } })] }, "vsphere-clone"), forced);
    expect(second.failure?.message, vc.sim.log).toBeUndefined();
    expect((await readdir(out)).sort()).toEqual([`${name}-disk-0.vmdk`, `${name}.ovf`, "notes.txt"]);
    expect(await readFile(path.join(out, `${name}.ovf`), "utf8")).toMatch(/^<\?xml/);
    expect(await readFile(path.join(out, "notes.txt"), "utf8")).toBe("keep me");
    expect(forced.artifacts[0]?.files?.map((f) => f.name)).toEqual([`out/${name}-disk-0.vmdk`, `out/${name}.ovf`, "out/notes.txt"]);
    expect(forced.lines()).not.toContain("Creating manifest...");
  }, 120_000);

  it("a cancel while the disk is downloading aborts the lease and leaves no VM and no output", async () => {
    const name = `kiln-xcancel-${process.pid}`;
    const dir = await vc.dirs.make();
    const ctx = recordingContext(dir, {
      onLog: guest(name, randomBytes(1024), (l) => {
        // A 1 GiB sparse disk takes seconds to stream: the cancel lands mid-transfer.
        if (l.text === "Starting export...") truncateSync(diskOf(name), 1024 ** 3);
        if (l.text.startsWith("Downloading: ")) setTimeout(() => ctx.cancel(), 150);
      }),
    });
    const outcome = await runJob(planTemplateJob({ builders: [cloneBuilder(name, { export: { output_directory: "out" } })] }, "vsphere-clone"), ctx);
    expect(outcome.state).toBe("cancelled");
    expect(ctx.lines()).toContain("Removing the partial export...");
    expect(ctx.lines()).toContain(`Destroying VM ${name}...`);
    expect(await vc.vmNames()).not.toContain(name);
    expect(existsSync(path.join(dir, "out"))).toBe(false);
  }, 120_000);

  it("the lease: its device URLs serve the VM's disk until aborted; a powered-on VM cannot be exported", async () => {
    // One of vcsim's own VMs (a template's devices are shared with its clones in vcsim 0.24: CloneVM_Task rewrites
    // the template's disk backing to the clone's file).
    const vm = await vc.vmByName("DC0_H0_VM1");
    await vc.client.runTask("PowerOffVM_Task", vm, {}, "powering off", signal);
    const devs = list(child((await vc.client.props(vm, ["config.hardware.device"], signal)).get("config.hardware.device"), "VirtualDevice"));
    const backing = text(child(child(devs.find((d) => xsiType(d) === "VirtualDisk"), "backing"), "fileName"));
    const stored = path.join(datastoreDir, backing.replace(/^\[LocalDS_0\] /, ""));
    await writeFile(stored, randomBytes(70_000));

    const leaseRef = moref(await vc.client.call("ExportVm", vm, {}, signal));
    expect(leaseRef?.type).toBe("HttpNfcLease");
    const lease = new ExportLease(vc.client, leaseRef as MoRef);
    const { devices } = await lease.waitReady("test", 10_000, signal);
    expect(devices.map((d) => [path.posix.basename(d.url.pathname), d.disk])).toEqual([["disk-0.vmdk", true]]);
    // The overlay's stand-in for the host's NFC service; a "*" host (vCenter's own URLs) is the host the client called.
    expect(devices[0]?.url.hostname).toBe("127.0.0.1");
    expect(vc.client.deviceUrl("https://*/nfc/52a1/disk-0.vmdk").href).toBe(`https://${vc.sim.server}/nfc/52a1/disk-0.vmdk`);
    const device = devices[0] as (typeof devices)[number];
    const file = path.join(await vc.dirs.make(), "disk.vmdk");
    expect(await lease.download(device, file, signal)).toBe(70_000);
    expect((await readFile(file)).equals(await readFile(stored))).toBe(true);
    await lease.abort();
    await expect(lease.download(device, file, signal)).rejects.toThrow(/HTTP 404/);

    await expect(vc.client.call("ExportVm", await vc.vmByName("DC0_H0_VM0"), {}, signal, "exporting")).rejects.toThrow(/InvalidPowerState/);
  }, 60_000);
});
