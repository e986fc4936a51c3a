/**
 * The virtualbox-iso and virtualbox-ovf builders against VirtualBox's documented CLI behaviour: VirtualBox cannot
 * be installed here, so VBoxManage is a recorded transcript (fixtures/desktop/*.transcript) and the test asserts the
 * exact command sequence — every VBoxManage call and every wait — for Packer's example templates. The "guest" that
 * answers SSH on the forwarded NAT port is the harness's real sshd, so the provisioners, the version file and the
 * guest additions upload really happen.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { virtualboxIsoBuilderSchema, virtualboxOvfBuilderSchema, validateWithSchema } from "../../core/src/mod.js";
import { TEST_USER } from "../../test/src/mod.js";
import { withHostRunner } from "../src/builders/desktop/host_runner.js";
import { TranscriptRunner, parseTranscript } from "../src/builders/desktop/transcript.js";
import { virtualboxIsoBuilder } from "../src/builders/virtualbox/builder.js";
import { runJob } from "../src/runner.js";
import { FIXTURES, PortForward, boundVariables, corpusTemplate } from "./desktop_harness.js";
import { planTemplateJob, recordingContext, useSshTestResources } from "./job_harness.js";

const { dirs, startSshServer } = useSshTestResources();
const forwards: PortForward[] = [];
const guestFiles: string[] = [];
afterEach(async () => {
  await Promise.all(forwards.splice(0).map((f) => f.stop()));
  await Promise.all(guestFiles.splice(0).map((f) => rm(f, { force: true })));
});

/** The fixed HTTP port the boot command types (its digits are scancodes in the transcript). */
const HTTP_PORT = 47813;
const run = promisify(execFile);
const fixture = (name: string): string => path.join(FIXTURES, name);

async function sha256(file: string): Promise<string> {
  return createHash("sha256").update(await readFile(file)).digest("hex");
}

describe("virtualbox-iso (transcript of VBoxManage, real sshd as the guest)", () => {
  it("chef-bento ubuntu-22.04: the exact VBoxManage sequence, scancodes and waits; provisions over the NAT forward; exports OVF; deletes the VM", async () => {
    const sshd = await startSshServer();
    const dir = await dirs.make("kiln-vbox-");
    const iso = path.join(dir, "mirror", "jammy", "ubuntu-22.04.1-live-server-amd64.iso");
    await mkdir(path.dirname(iso), { recursive: true });
    await writeFile(iso, "not really an installer, but checksummed like one\n");
    const gaIso = path.join(dir, "VBoxGuestAdditions.iso");
    await writeFile(gaIso, "guest additions of VirtualBox 7.0.12\n");
    await mkdir(path.join(dir, "http"));
    await writeFile(path.join(dir, "http", "user-data"), "#cloud-config\n");

    const template = corpusTemplate("chef-bento/packer_templates__ubuntu__ubuntu-22.04-amd64.json");
    const builders = template.builders as Record<string, unknown>[];
    const vbox = builders.find((b) => b.type === "virtualbox-iso") as Record<string, unknown>;
    // Pointing the guest at the harness's sshd: its user and password; a harmless shutdown command (the template's
    // `sudo shutdown` would go to the host); the HTTP port pinned because its digits are typed as scancodes.
    Object.assign(vbox, { ssh_username: sshd.username, ssh_password: sshd.password, shutdown_command: "echo guest halting", http_port_min: HTTP_PORT, http_port_max: HTTP_PORT });
    template.provisioners = [{ type: "shell", inline: ["echo provisioned-on-$(hostname) > kiln-vbox-marker", "cat .vbox_version"] }];
    delete template["post-processors"];
    const variables = boundVariables(template, {
      mirror: path.join(dir, "mirror"),
      iso_checksum: `sha256:${await sha256(iso)}`,
      http_directory: path.join(dir, "http"),
      build_directory: path.join(dir, "builds"),
    });
    const home = `/home/${TEST_USER}`;
    guestFiles.push(`${home}/kiln-vbox-marker`, `${home}/.vbox_version`, `${home}/VBoxGuestAdditions_7.0.12.iso`);

    const out = path.join(dir, "builds", "packer-ubuntu-22.04-amd64-virtualbox");
    const runner = TranscriptRunner.fromFiles(
      ["vbox-common-head.transcript", "vbox-iso-ubuntu-22.04.transcript", "vbox-stop-export.transcript", "vbox-iso-ubuntu-22.04.end.transcript"].map(fixture),
      { VM_NAME: "ubuntu-22.04-amd64", OUT: out, ISO: iso, GA_ISO: gaIso },
    );
    runner.on("vm-started", async (vars) => {
      forwards.push(await PortForward.start(Number(vars.get("HOST_PORT")), sshd.port));
    });
    runner.on("exported", async () => {
      // What VBoxManage export writes.
      await writeFile(path.join(out, "ubuntu-22.04-amd64.ovf"), "<?xml version=\"1.0\"?>\n");
      await writeFile(path.join(out, "ubuntu-22.04-amd64-disk001.vmdk"), "vmdk");
    });

    const ctx = recordingContext(dir);
    const outcome = await withHostRunner(runner, () => runJob(planTemplateJob(template, "virtualbox-iso", { variables }), ctx));
    expect(runner.mismatch?.message, runner.actual.join("\n")).toBeUndefined();
    expect(outcome.failure?.message, ctx.lines().join("\n")).toBeUndefined();
    expect(runner.remaining()).toEqual([]);
    expect(outcome.state).toBe("succeeded");
    expect(ctx.lines()).toContain("Connected to SSH!");
    expect(ctx.lines()).toContain("Typing the boot command...");
    // The provisioner, the version file and the guest additions really reached the "guest".
    expect(await readFile(`${home}/kiln-vbox-marker`, "utf8")).toMatch(/^provisioned-on-/);
    expect(await readFile(`${home}/.vbox_version`, "utf8")).toBe("7.0.12");
    expect(await readFile(`${home}/VBoxGuestAdditions_7.0.12.iso`, "utf8")).toBe("guest additions of VirtualBox 7.0.12\n");
    expect(ctx.lines()).toContain("7.0.12");
    // 22 key groups typed (the keyboardputscancode calls of the transcript), each paced by Packer's 100ms group interval.
    expect(runner.paced).toEqual({ count: 22, totalMs: 2200 });
    expect(ctx.artifacts).toHaveLength(1);
    expect(ctx.artifacts[0]).toMatchObject({ builder_id: "mitchellh.virtualbox", id: "VM" });
    expect((ctx.artifacts[0]?.files ?? []).map((f) => path.basename(f.name ?? "")).sort()).toEqual(["ubuntu-22.04-amd64-disk001.vmdk", "ubuntu-22.04-amd64.ovf"]);
    expect(existsSync(out)).toBe(true);
  }, 60_000);
});

describe("virtualbox-ovf (transcript of VBoxManage, real sshd as the guest)", () => {
  it("chef-bento amazon-2: imports the OVF, renders {{.Name}} in vboxmanage, exports and deletes", async () => {
    const sshd = await startSshServer();
    const dir = await dirs.make("kiln-vbox-ovf-");
    const ovf = path.join(dir, "amazon2.ovf");
    await writeFile(ovf, "<?xml version=\"1.0\"?><Envelope/>\n");
    const gaIso = path.join(dir, "VBoxGuestAdditions.iso");
    await writeFile(gaIso, "ga\n");
    const template = corpusTemplate("chef-bento/packer_templates__amazonlinux__amazon-2-x86_64.json");
    const vbox = (template.builders as Record<string, unknown>[]).find((b) => b.type === "virtualbox-ovf") as Record<string, unknown>;
    Object.assign(vbox, { ssh_username: sshd.username, ssh_password: sshd.password, shutdown_command: "echo guest halting" });
    template.provisioners = [{ type: "shell", inline: ["test -s .vbox_version"] }];
    delete template["post-processors"];
    const variables = boundVariables(template, { build_directory: path.join(dir, "builds"), http_directory: "" });
    const home = `/home/${TEST_USER}`;
    guestFiles.push(`${home}/.vbox_version`, `${home}/VBoxGuestAdditions_7.0.12.iso`);
    const out = path.join(dir, "builds", "packer-amazon-2-x86_64-virtualbox");
    const runner = TranscriptRunner.fromFiles(
      ["vbox-common-head.transcript", "vbox-ovf-amazon-2.transcript", "vbox-stop-export.transcript", "vbox-ovf-amazon-2.end.transcript"].map(fixture),
      { VM_NAME: "amazon-2-x86_64", OUT: out, OVF: ovf, GA_ISO: gaIso },
    );
    runner.on("vm-started", async (vars) => {
      forwards.push(await PortForward.start(Number(vars.get("HOST_PORT")), sshd.port));
    });
    const ctx = recordingContext(dir);
    const outcome = await withHostRunner(runner, () => runJob(planTemplateJob(template, "virtualbox-ovf", { variables }), ctx));
    expect(runner.mismatch?.message, runner.actual.join("\n")).toBeUndefined();
    expect(outcome.failure?.message, ctx.lines().join("\n")).toBeUndefined();
    expect(runner.remaining()).toEqual([]);
    expect(await readFile(`${home}/VBoxGuestAdditions_7.0.12.iso`, "utf8")).toBe("ga\n");
  }, 60_000);
});

describe("virtualbox-iso options, failure and cancel", () => {
  async function setup(prefix: string): Promise<{ dir: string; iso: string; gaIso: string }> {
    const dir = await dirs.make(prefix);
    const iso = path.join(dir, "install.iso");
    await writeFile(iso, "iso\n");
    const gaIso = path.join(dir, "VBoxGuestAdditions.iso");
    await writeFile(gaIso, "ga\n");
    return { dir, iso, gaIso };
  }

  it("scsi disk, sata ISO, attached guest additions, floppy_files, vboxmanage(_post) with {{.Name}}, ova with export_opts", async () => {
    const sshd = await startSshServer();
    const { dir, iso, gaIso } = await setup("kiln-vbox-opts-");
    await writeFile(path.join(dir, "preseed.cfg"), "d-i passwd/root-login boolean false\n");
    const template = {
      builders: [{
        type: "virtualbox-iso", name: "vb", vm_name: "kiln-opts", iso_url: iso, iso_checksum: "none", guest_os_type: "Debian_64",
        disk_size: 2048, hard_drive_interface: "scsi", iso_interface: "sata", guest_additions_mode: "attach", guest_additions_interface: "ide",
        floppy_files: ["preseed.cfg"], headless: true, boot_wait: "1s", boot_command: ["<esc><wait2>A<up><enter>"],
        vboxmanage: [["modifyvm", "{{.Name}}", "--vram", "33"], ["setextradata", "{{.Name}}", "kiln/name", "{{.Name}}"]],
        vboxmanage_post: [["storageattach", "{{.Name}}", "--storagectl", "SATA Controller", "--port", "2", "--device", "0", "--type", "dvddrive", "--medium", "emptydrive"]],
        format: "ova", export_opts: ["--manifest", "--vsys", "0", "--description", "kiln built"],
        ssh_username: sshd.username, ssh_password: sshd.password, shutdown_command: "echo halting", output_directory: "out",
      }],
    };
    guestFiles.push(`/home/${TEST_USER}/.vbox_version`);
    const out = path.join(dir, "out");
    const runner = TranscriptRunner.fromFiles(["vbox-common-head.transcript", "vbox-iso-features.transcript"].map(fixture), { VM_NAME: "kiln-opts", OUT: out, ISO: iso, GA_ISO: gaIso });
    let floppy = "";
    runner.on("floppy-attached", async (vars) => {
      floppy = (await run("mtype", ["-i", vars.get("FLOPPY") ?? "", "::/preseed.cfg"])).stdout;
    });
    runner.on("vm-started", async (vars) => {
      forwards.push(await PortForward.start(Number(vars.get("HOST_PORT")), sshd.port));
    });
    const ctx = recordingContext(dir);
    const outcome = await withHostRunner(runner, () => runJob(planTemplateJob(template, "vb"), ctx));
    expect(runner.mismatch?.message, runner.actual.join("\n")).toBeUndefined();
    expect(outcome.failure?.message, ctx.lines().join("\n")).toBeUndefined();
    expect(runner.remaining()).toEqual([]);
    expect(floppy).toBe("d-i passwd/root-login boolean false\n");
    // attach mode: the ISO went to the VM's drive, nothing was uploaded.
    expect(existsSync(`/home/${TEST_USER}/VBoxGuestAdditions.iso`)).toBe(false);
    // The floppy image lived in a private run directory, gone after the build.
    expect(existsSync(runner.vars.get("FLOPPY") ?? "")).toBe(false);
  }, 60_000);

  it("a cancel after the VM started powers it off, unregisters and deletes it, and removes the output directory", async () => {
    const { dir, iso, gaIso } = await setup("kiln-vbox-cancel-");
    const template = { builders: [{ type: "virtualbox-iso", name: "vb", vm_name: "kiln-cancel", iso_url: iso, iso_checksum: "none", ssh_username: "u", ssh_password: "p", output_directory: "out" }] };
    const out = path.join(dir, "out");
    const runner = TranscriptRunner.fromFiles(["vbox-common-head.transcript", "vbox-iso-cancel.transcript"].map(fixture), { VM_NAME: "kiln-cancel", OUT: out, ISO: iso, GA_ISO: gaIso });
    const ctx = recordingContext(dir);
    runner.on("vm-started", () => ctx.cancel());
    const outcome = await withHostRunner(runner, () => runJob(planTemplateJob(template, "vb"), ctx));
    expect(outcome.state).toBe("cancelled");
    expect(runner.mismatch?.message, runner.actual.join("\n")).toBeUndefined();
    expect(runner.remaining()).toEqual([]);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it("fails on a VBoxManage error with its message, and on a command the transcript does not expect with a diff", async () => {
    const { dir, iso, gaIso } = await setup("kiln-vbox-fail-");
    // No vm_name: Packer's default packer-<build>-<timestamp>.
    const template = { builders: [{ type: "virtualbox-iso", name: "vb", iso_url: iso, iso_checksum: "none", guest_os_type: "Plan9", ssh_username: "u", ssh_password: "p", output_directory: "out" }] };
    const transcript = parseTranscript([
      "$ VBoxManage createvm --name ${VM_NAME} --ostype Plan9 --register",
      "! VBoxManage: error: Guest OS type 'Plan9' is invalid",
      "! VBoxManage: error: Details: code E_INVALIDARG (0x80070057), component VirtualBoxWrap, interface IVirtualBox",
      "= 1",
    ].join("\n"));
    const headEntries = parseTranscript(await readFile(fixture("vbox-common-head.transcript"), "utf8"));
    const vars = { OUT: path.join(dir, "out"), ISO: iso, GA_ISO: gaIso };
    const runner = new TranscriptRunner([...headEntries, ...transcript], vars);
    const ctx = recordingContext(dir);
    const outcome = await withHostRunner(runner, () => runJob(planTemplateJob(template, "vb"), ctx));
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toMatch(/^VBoxManage error: VBoxManage: error: Guest OS type 'Plan9' is invalid/);
    expect(runner.vars.get("VM_NAME")).toMatch(/^packer-vb-\d{10}$/);
    // createvm failed, so nothing was registered and nothing is unregistered.
    expect(runner.mismatch).toBeUndefined();
    expect(runner.remaining()).toEqual([]);
    expect(existsSync(path.join(dir, "out"))).toBe(false);

    // A command the transcript does not expect fails the build with a diff.
    const strict = new TranscriptRunner([...headEntries, ...parseTranscript("$ VBoxManage createvm --name ${VM_NAME} --ostype Debian_64 --register")], { ...vars, VM_NAME: "kiln-fail" });
    const named = { builders: [{ ...template.builders[0], vm_name: "kiln-fail" }] };
    const again = await withHostRunner(strict, () => runJob(planTemplateJob(named, "vb"), recordingContext(dir)));
    expect(again.state).toBe("failed");
    expect(strict.mismatch?.message).toContain("- expected: $ VBoxManage createvm --name kiln-fail --ostype Debian_64 --register\n+ actual:   $ VBoxManage createvm --name kiln-fail --ostype Plan9 --register");
    expect(again.failure?.message).toBe(strict.mismatch?.message);
    expect(existsSync(path.join(dir, "out"))).toBe(false);
  }, 60_000);
});

describe("virtualbox config", () => {
  it("applies Packer's defaults", () => {
    const r = validateWithSchema(virtualboxIsoBuilderSchema, { iso_url: "x.iso", iso_checksum: "none", ssh_username: "u", ssh_password: "p" });
    expect(r.problems).toEqual([]);
    expect(r.compiled).toMatchObject({ disk_size: 40000, guest_os_type: "Other", hard_drive_interface: "ide", iso_interface: "ide", format: "ovf", guest_additions_mode: "upload", guest_additions_path: "VBoxGuestAdditions.iso", virtualbox_version_file: ".vbox_version", host_port_min: 2222, host_port_max: 4444, boot_wait: 10_000 });
    expect(r.warnings[0]).toMatch(/A shutdown_command was not specified/);
  });

  it("reports every problem at once and refuses what kiln does not run, by name", () => {
    const r = validateWithSchema(virtualboxIsoBuilderSchema, {
      iso_checksum: "md5:12",
      hard_drive_interface: "floppy",
      iso_interface: "scsi",
      format: "vmdk",
      guest_additions_mode: "sometimes",
      communicator: "winrm",
      vrdp_port_min: 5900,

    });
    expect(r.problems).toEqual(expect.arrayContaining([
      "One of iso_url or iso_urls must be specified",
      expect.stringMatching(/^iso_checksum "md5:12" is invalid/),
      "hard_drive_interface can only be ide, sata, pcie, scsi or virtio",
      "iso_interface can only be ide, sata or virtio",
      "invalid format, only 'ovf' or 'ova' are allowed",
      "guest_additions_mode is invalid. Must be one of: upload, attach, disable",
      expect.stringMatching(/^communicator "winrm" is not supported by kiln's virtualbox-iso builder/),
      expect.stringMatching(/^vrdp_port_min is not supported by kiln/),

    ]));
    expect(validateWithSchema(virtualboxOvfBuilderSchema, {}).problems).toContain("source_path is required");
    const nvme = validateWithSchema(virtualboxIsoBuilderSchema, { iso_url: "x.iso", iso_checksum: "none", hard_drive_interface: "pcie", ssh_username: "u", ssh_password: "p" });
    expect(nvme.problems).toEqual([expect.stringMatching(/^hard_drive_interface pcie is not supported by kiln/)]);
  });

  it("is not advertised on this agent: VBoxManage is not installed here", () => {
    expect(virtualboxIsoBuilder.detect()).toBe(false);
  });
});
