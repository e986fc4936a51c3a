/**
 * The libvirt builder against a real libvirtd (test/src/libvirtd.ts) running real QEMU (TCG) domains: a build that
 * boots the test guest, provisions its disk over SSH and leaves the volume as the artifact; a failing provisioner
 * and a cancel mid-boot that leave no domain and no volume behind; the reaper; bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validatePluginConfig, type LibvirtBuilderConfig } from "../../core/src/mod.js";
import { domainXml, parseMark, planBuild } from "../src/builders/libvirt/domain_xml.js";
import { reapLeftovers } from "../src/builders/libvirt/mod.js";
import { createVolumesStep, defineDomainStep, startDomainStep, type LibvirtBuildState, type StepSetup } from "../src/builders/libvirt/steps.js";
import { runJob } from "../src/runner.js";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { guestImage, type GuestImage } from "../../test/src/guest_image.js";
import { Libvirtd } from "../../test/src/libvirtd.js";
import { deadPid } from "../../test/src/dead_pid.js";
import { planTemplateJob, recordingContext, TempDirs } from "./job_harness.js";

const run = promisify(execFile);

let libvirtd: Libvirtd;
let guest: GuestImage;
let pool: string;
const dirs = new TempDirs();

beforeAll(async () => {
  guest = await guestImage();
  libvirtd = await Libvirtd.start();
  pool = (await libvirtd.createPool(`kiln-test-${process.pid}`)).name;
  await libvirtd.virsh(["vol-create-as", pool, "base.raw", "16M", "--format", "raw"]);
  // The ISO that stops at isolinux's boot: prompt, as an existing volume (attached, never deleted by a build).
  const { size } = await stat(guest.iso);
  await libvirtd.virsh(["vol-create-as", pool, "prompt.iso", String(size), "--format", "raw"]);
  await libvirtd.virsh(["vol-upload", "--pool", pool, "prompt.iso", guest.iso]);
}, 180_000);

afterAll(async () => {
  await libvirtd?.stop();
  await dirs.cleanup();
}, 60_000);

/** The kiln-made domains and the volumes of the test pool (besides the base), as virsh lists them. */
async function leftovers(): Promise<{ domains: string[]; volumes: string[] }> {
  const domains = (await libvirtd.virsh(["list", "--all", "--name"])).split("\n").map((s) => s.trim()).filter((s) => s.startsWith("kiln-"));
  const volumes = (await libvirtd.virsh(["vol-list", pool]))
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n !== "" && n !== "base.raw" && n !== "prompt.iso");
  return { domains, volumes };
}

describe("libvirt builder: configuration", () => {
  it("accepts the plugin's JSON blocks and reports every problem with its field", () => {
    const ok = validatePluginConfig("builder", "libvirt", {
      libvirt_uri: "qemu:///system",
      communicator: "none",
      volume: [{ alias: "artifact", pool: "default", source: { type: "backing-store", pool: "base", volume: "debian" }, capacity: "1G", bus: "virtio", target_dev: "vda" }],
      network_interface: { type: "user", alias: "communicator" },
    });
    expect(ok.problems).toEqual([]);
    const bad = validatePluginConfig("builder", "libvirt", {
      volume: [{ source: { type: "cloud-init" }, colour: "red" }, { source: { type: "backing-store" } }],
      network_interface: [{ type: "macvtap" }],
      shutdown_mode: "yank",
      graphics: [{ type: "sdl" }],
      ssh_username: "root",
    });
    expect(bad.problems).toContain("libvirt_uri must be specified (e.g. qemu:///system)");
    expect(bad.problems).toContain(`unknown configuration key: '"volume[0].colour"'`);
    const again = validatePluginConfig("builder", "libvirt", {
      libvirt_uri: "qemu:///system",
      ssh_username: "root",
      ssh_password: "x",
      volume: [{ source: { type: "cloud-init" } }, { source: { type: "backing-store" } }],
      network_interface: [{ type: "macvtap" }],
      shutdown_mode: "yank",
      graphics: [{ type: "sdl" }],
    });
    expect(again.problems).toEqual(
      expect.arrayContaining([
        "volume[0].source: the 'cloud-init' volume source is not supported by kiln yet: use backing-store, cloning or external",
        "volume[1].source: backing-store volume source missing pool name",
        "unsupported network interface type 'macvtap' (network_interface[0].type: use user, managed or bridge)",
        "unrecognized shutdown mode 'yank': use one of auto, acpi, guest, initctl, signal, paravirt",
        `graphics[0]: sdl graphics are not supported by kiln (agents are headless): use type "vnc"`,
        "please specify an alias for a volume and set artifact_volume_alias on the builder",
      ]),
    );
  });
});

/** A build of the test guest: direct kernel boot, user network with an SSH forward, the artifact a qcow2 over base.raw. */
function guestBuilder(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "libvirt",
    name: "lv",
    libvirt_uri: libvirtd.uri,
    domain_type: "qemu",
    memory: 256,
    kernel: guest.kernel,
    initrd: guest.initrd,
    cmdline: "console=ttyS0,115200 quiet",
    ssh_username: guest.username,
    ssh_password: guest.password,
    ssh_timeout: "3m",
    shutdown_command: "poweroff",
    shutdown_timeout: "1m",
    network_interface: [{ type: "user", alias: "communicator" }],
    volume: [{ alias: "artifact", pool, source: { type: "backing-store", pool, volume: "base.raw" }, capacity: "16M", bus: "virtio", target_dev: "vda" }],
    ...extra,
  };
}

describe("libvirt builder: real libvirtd", () => {
  it("boots the guest, provisions its disk over SSH, shuts down and leaves the volume as the artifact", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const marker = `kiln-libvirt-${process.pid}-${Date.now()}`;
    const template = {
      builders: [guestBuilder({ export_path: "disk.qcow2" })],
      provisioners: [
        { type: "shell", inline: [`printf '%s' '${marker}' | dd of=/dev/vda bs=512 seek=2048 conv=fsync 2>/dev/null`, "echo provisioned {{build `ID`}}"] },
      ],
    };
    const outcome = await runJob(planTemplateJob(template, "lv"), ctx);
    expect(outcome.failure?.message).toBeUndefined();
    expect(outcome.state).toBe("succeeded");
    expect(ctx.lines()).toContain("Connected to SSH!");
    expect(ctx.lines().some((l) => /^provisioned kiln-[0-9a-f]+$/.test(l))).toBe(true);
    expect(ctx.lines()).toContain("Domain stopped");
    expect(ctx.lines().filter((l) => l.includes("destroying it"))).toEqual([]); // powered off by the guest itself
    const artifact = ctx.artifacts[0];
    expect(artifact?.builder_id).toBe("thomasklein94.libvirt");
    const volume = artifact?.state?.volume ?? "";
    expect(artifact?.id).toBe(`${pool}/${volume}`);

    // The domain is gone; the artifact volume stays in the pool, a qcow2 over base.raw holding what the guest wrote.
    expect(await leftovers()).toEqual({ domains: [], volumes: [volume] });
    const volPath = (await libvirtd.virsh(["vol-path", "--pool", pool, volume])).trim();
    const info = JSON.parse((await run("qemu-img", ["info", "--output=json", volPath])).stdout) as { format: string; "backing-filename"?: string };
    expect(info.format).toBe("qcow2");
    expect(info["backing-filename"]).toMatch(/base\.raw$/);
    const raw = path.join(dir, "disk.raw");
    await run("qemu-img", ["convert", "-O", "raw", volPath, raw]);
    const bytes = await readFile(raw);
    expect(bytes.subarray(2048 * 512, 2048 * 512 + marker.length).toString()).toBe(marker);
    // export_path: the volume downloaded next to the job.
    const exported = JSON.parse((await run("qemu-img", ["info", "--output=json", path.join(dir, "disk.qcow2")])).stdout) as { format: string };
    expect(exported.format).toBe("qcow2");
    await libvirtd.virsh(["vol-delete", "--pool", pool, volume]);
  }, 240_000);

  // One boot serves two checks (TCG boots are the slow part of CI): boot_command reaches the guest, and a failing
  // provisioner leaves no domain and no volume behind.
  it("types boot_command into the guest's boot prompt; a failing provisioner then leaves no domain and no volume", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const token = `kiln.typed=${process.pid}`;
    const template = {
      builders: [
        guestBuilder({
          kernel: undefined,
          initrd: undefined,
          cmdline: undefined,
          boot_devices: ["cdrom", "hd"],
          boot_wait: "4s",
          // isolinux waits at `boot:`; what is typed there reaches the kernel's command line.
          boot_command: [`live ${token}<enter>`],
          volume: [
            { pool, name: "prompt.iso", device: "cdrom", bus: "ide", target_dev: "hdc" },
            { alias: "artifact", pool, source: { type: "backing-store", pool, volume: "base.raw" }, capacity: "16M", bus: "virtio", target_dev: "vda" },
          ],
        }),
      ],
      provisioners: [{ type: "shell", inline: ["cat /proc/cmdline", "exit 3"] }],
    };
    const outcome = await runJob(planTemplateJob(template, "lv"), ctx);
    expect(ctx.lines()).toContain("Typing the boot command...");
    expect(ctx.lines().some((l) => l.includes(token))).toBe(true);
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toMatch(/exit status 3|non-zero exit status: 3/);
    expect(await leftovers()).toEqual({ domains: [], volumes: [] });
    // The existing ISO volume was only attached: it is still there.
    expect(await libvirtd.virsh(["vol-list", pool])).toContain("prompt.iso");
  }, 240_000);

  it("an external volume source is verified against its checksum and uploaded; a mismatch leaves nothing", async () => {
    const dir = await dirs.make();
    const marker = `kiln-external-${process.pid}`;
    const raw = path.join(dir, "src.raw");
    await run("qemu-img", ["create", "-q", "-f", "raw", raw, "4M"]);
    await run("sh", ["-c", `printf '%s' '${marker}' | dd of=${raw} bs=512 seek=100 conv=notrunc 2>/dev/null`]);
    const image = path.join(dir, "src.qcow2");
    await run("qemu-img", ["convert", "-O", "qcow2", raw, image]);
    const sha = createHash("sha256").update(await readFile(image)).digest("hex");
    const external = (checksum: string): Record<string, unknown> => ({
      type: "libvirt",
      name: "lv",
      libvirt_uri: libvirtd.uri,
      domain_type: "qemu",
      memory: 64,
      communicator: "none",
      shutdown_timeout: "1s", // no OS to answer ACPI: destroyed after the timeout
      volume: [{ pool, source: { type: "external", urls: [image], checksum }, capacity: "8M", bus: "virtio", target_dev: "vda" }],
    });

    const bad = recordingContext(dir);
    const failed = await runJob(planTemplateJob({ builders: [external(`sha256:${"0".repeat(64)}`)] }, "lv"), bad);
    expect(failed.state).toBe("failed");
    expect(failed.failure?.message).toMatch(/checksum/i);
    expect(await leftovers()).toEqual({ domains: [], volumes: [] });

    const ctx = recordingContext(dir);
    const outcome = await runJob(planTemplateJob({ builders: [external(`sha256:${sha}`)] }, "lv"), ctx);
    expect(outcome.failure?.message).toBeUndefined();
    const volume = ctx.artifacts[0]?.state?.volume ?? "";
    expect(await leftovers()).toEqual({ domains: [], volumes: [volume] });
    const volPath = (await libvirtd.virsh(["vol-path", "--pool", pool, volume])).trim();
    const info = JSON.parse((await run("qemu-img", ["info", "--output=json", volPath])).stdout) as { format: string; "virtual-size": number };
    expect(info).toMatchObject({ format: "qcow2", "virtual-size": 8 * 1024 * 1024 });
    const back = path.join(dir, "back.raw");
    await run("qemu-img", ["convert", "-O", "raw", volPath, back]);
    expect((await readFile(back)).subarray(100 * 512, 100 * 512 + marker.length).toString()).toBe(marker);
    await libvirtd.virsh(["vol-delete", "--pool", pool, volume]);
  }, 120_000);

  it("a cancel while the domain boots leaves no domain and no volume", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const template = {
      builders: [
        {
          type: "libvirt",
          name: "lv",
          libvirt_uri: libvirtd.uri,
          // domain_type unset: kvm only where a probe QEMU starts with KVM, else qemu with a warning.
          memory: 128,
          ssh_username: "root",
          ssh_password: "x",
          network_interface: [{ type: "user" }],
          volume: [{ alias: "artifact", pool, source: { type: "backing-store", pool, volume: "base.raw" }, capacity: "16M", bus: "virtio", target_dev: "vda" }],
        },
      ],
    };
    const running = runJob(planTemplateJob(template, "lv"), ctx);
    // The domain is up and the builder waits for SSH (this guest has no OS): cancel now.
    const deadline = Date.now() + 60_000;
    while (!ctx.lines().includes("Waiting for SSH to become available...") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await leftovers()).domains).toHaveLength(1);
    expect((await leftovers()).volumes).toHaveLength(1);
    const defined = ctx.lines().find((l) => l.startsWith("Defining domain "));
    expect(defined).toMatch(/^Defining domain kiln-[0-9a-f]+ \(type (kvm|qemu)\)$/);
    if (defined?.endsWith("(type qemu)") === true) expect(ctx.lines().some((l) => l.includes("TCG emulation"))).toBe(true);
    ctx.cancel();
    const outcome = await running;
    expect(outcome.state).toBe("cancelled");
    expect(await leftovers()).toEqual({ domains: [], volumes: [] });
  }, 120_000);

  it("reapLeftovers removes a kiln domain and the volumes it created after a crash, and nothing else; at agent start only a dead owner's", async () => {
    const compiled = validatePluginConfig("builder", "libvirt", {
      libvirt_uri: libvirtd.uri,
      domain_type: "qemu",
      communicator: "none",
      volume: [{ alias: "artifact", pool, source: { type: "cloning", pool, volume: "base.raw" }, bus: "virtio", target_dev: "vda" }],
    }).compiled as LibvirtBuilderConfig;
    const setup: StepSetup = { config: compiled, plan: planBuild(compiled, () => undefined), domainType: "qemu", jobId: "crashed-job", buildName: "lv", workDir: "/" };
    const state: LibvirtBuildState = { created: [], formats: new Map(), artifactKept: false };
    const ctx = { signal: new AbortController().signal, log: () => undefined, heartbeat: () => undefined };
    // The agent "crashes" after defining the domain and creating its volume: no cleanup runs.
    for (const step of [defineDomainStep(setup), createVolumesStep(setup), startDomainStep(setup)]) expect(await step.run(ctx, state)).toBe("continue");
    await state.conn?.close();
    await libvirtd.virsh(["vol-create-as", pool, "not-kiln.raw", "1M", "--format", "raw"]);
    expect(await leftovers()).toEqual({ domains: [setup.plan.domainName], volumes: expect.arrayContaining([`${setup.plan.domainName}-artifact`, "not-kiln.raw"]) as unknown });

    // Two more domains, defined only: one of an agent process that is gone, one of a live one on another "host".
    const deadOwner = `${hostname()}/${await deadPid()}`;
    const defineOnly = async (owner: string): Promise<string> => {
      const other: StepSetup = { ...setup, plan: planBuild(compiled, () => undefined), jobId: `job-of-${owner}`, owner };
      const s: LibvirtBuildState = { created: [], formats: new Map(), artifactKept: false };
      expect(await defineDomainStep(other).run(ctx, s)).toBe("continue");
      await s.conn?.close();
      return other.plan.domainName;
    };
    const dead = await defineOnly(deadOwner);
    const elsewhere = await defineOnly(`not-${hostname()}/${await deadPid()}`);
    expect(parseMark(await libvirtd.virsh(["dumpxml", "--inactive", dead]))?.owner).toBe(deadOwner);
    // What an agent does at start: only the dead owner's domain goes; this process's (alive) and the other host's stay.
    const atStart = await reapLeftovers(libvirtd.uri, { orphanedOnly: true });
    expect(atStart).toEqual({ domains: [dead], volumes: [], errors: [] });
    expect((await leftovers()).domains.sort()).toEqual([setup.plan.domainName, elsewhere].sort());

    const report = await reapLeftovers(libvirtd.uri);
    expect({ ...report, domains: [...report.domains].sort() }).toEqual({
      domains: [setup.plan.domainName, elsewhere].sort(),
      volumes: [`${pool}/${setup.plan.domainName}-artifact`],
      errors: [],
    });
    expect(await leftovers()).toEqual({ domains: [], volumes: ["not-kiln.raw"] });
    await libvirtd.virsh(["vol-delete", "--pool", pool, "not-kiln.raw"]);
  }, 120_000);

  it("generates domain XML that libvirt's schema accepts for the interfaces and devices CI cannot boot", async () => {
    const dir = await dirs.make();
    const compiled = validatePluginConfig("builder", "libvirt", {
      libvirt_uri: libvirtd.uri,
      communicator: "none",
      cpu_mode: "host-model",
      boot_devices: ["cdrom", "hd"],
      graphics: [{ type: "vnc" }, { type: "vnc", port: 5999 }],
      network_interface: [
        { type: "managed", network: "default", alias: "communicator", mac: "52:54:00:aa:bb:cc" },
        { type: "bridge", bridge: "br0", model: "e1000" },
        { type: "user" },
      ],
      volume: [
        { pool, name: "prompt.iso", device: "cdrom", bus: "sata", target_dev: "sdb" },
        { alias: "artifact", pool, source: { type: "cloning", pool, volume: "base.raw" }, bus: "virtio", target_dev: "vda", readonly: false },
      ],
    }).compiled as LibvirtBuilderConfig;
    const plan = planBuild(compiled, () => undefined);
    const formats = new Map(plan.volumes.map((v) => [`${v.pool}/${v.name}`, "raw"]));
    const mark = { jobId: "j-xml", buildName: "lv", owner: "build-host/4242", volumes: [{ pool, name: "x", kept: false }] };
    const xml = domainXml({ config: compiled, plan, domainType: "qemu", mark, diskFormats: formats, guestPort: 22 });
    const file = path.join(dir, "domain.xml");
    await writeFile(file, xml);
    await libvirtd.virsh(["define", "--validate", file]);
    try {
      const stored = await libvirtd.virsh(["dumpxml", "--inactive", plan.domainName]);
      expect(stored).toContain("<interface type='network'>");
      expect(stored).toContain("<source bridge='br0'/>");
      expect(stored).toContain("<mac address='52:54:00:aa:bb:cc'/>");
      expect(stored).toMatch(/<graphics type='vnc' port='5999' autoport='no'/);
      expect(stored).toMatch(/<disk type='volume' device='cdrom'>/);
      expect(parseMark(stored)).toEqual(mark);
    } finally {
      await libvirtd.virsh(["undefine", plan.domainName]);
    }
  }, 60_000);

  it("libvirtd down: a clear error naming what to start", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const template = {
      builders: [
        {
          type: "libvirt",
          name: "lv",
          libvirt_uri: `qemu:///system?socket=${dir}/no-such-sock`,
          domain_type: "qemu",
          communicator: "none",
          volume: [{ alias: "artifact", pool, source: { type: "cloning", pool, volume: "base.raw" } }],
        },
      ],
    };
    const outcome = await runJob(planTemplateJob(template, "lv"), ctx);
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toMatch(/cannot connect to libvirt at .*is libvirtd running\?/);
    expect(outcome.failure?.code).toBe("ERROR_CODE_UNAVAILABLE");
  }, 60_000);
});
