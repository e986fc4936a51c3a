/**
 * The vmware-iso builder against VMware Workstation's documented CLI behaviour: Workstation cannot be installed
 * here, so vmrun / vmware-vdiskmanager are a recorded transcript (fixtures/desktop/*.transcript) and the test asserts
 * the exact command sequence, the generated .vmx (Packer's defaults, vmx_data, vmx_remove_ethernet_interfaces, the
 * install CD-ROM detached, VNC off), the pruned output directory, and the boot command as the VM's VNC server
 * receives it (a recording RFB server plays that server). VMware Tools' guest IP points at the harness's real sshd,
 * so the provisioners and the tools upload really run.
 */
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { parseTemplate, resolveVariables, validateWithSchema, vmwareIsoBuilderSchema, vmwareVmxBuilderSchema } from "../../core/src/mod.js";
import { TEST_USER } from "../../test/src/mod.js";
import { withHostRunner } from "../src/builders/desktop/host_runner.js";
import { TranscriptRunner } from "../src/builders/desktop/transcript.js";
import { vmwareIsoBuilder } from "../src/builders/vmware/builder.js";
import { encodeVmx, parseVmx } from "../src/builders/vmware/vmx.js";
import { implementedPluginTypes } from "../src/plugins.js";
import { localBuilderTypes, runJob } from "../src/runner.js";
import { CORPUS, FIXTURES, RecordingVncServer, boundVariables, corpusTemplate } from "./desktop_harness.js";
import { planTemplateJob, recordingContext, useSshTestResources } from "./job_harness.js";

const { dirs, startSshServer } = useSshTestResources();
const vncServers: RecordingVncServer[] = [];
const guestFiles: string[] = [];
afterEach(async () => {
  await Promise.all(vncServers.splice(0).map((v) => v.stop()));
  await Promise.all(guestFiles.splice(0).map((f) => rm(f, { force: true })));
});

const HTTP_PORT = 47814;
const run = promisify(execFile);
const fixture = (name: string): string => path.join(FIXTURES, name);

describe("vmware-iso (transcript of vmrun/vmware-vdiskmanager, real sshd as the guest)", () => {
  it("chef-bento ubuntu-22.04: exact commands and waits, the generated .vmx, the VNC keys, pruning and compaction", async () => {
    const sshd = await startSshServer();
    const dir = await dirs.make("kiln-vmware-");
    const iso = path.join(dir, "mirror", "jammy", "ubuntu-22.04.1-live-server-amd64.iso");
    await mkdir(path.dirname(iso), { recursive: true });
    await writeFile(iso, "not really an installer\n");
    const toolsIso = path.join(dir, "linux.iso");
    await writeFile(toolsIso, "VMware Tools for Linux\n");
    await mkdir(path.join(dir, "http"));

    const template = corpusTemplate("chef-bento/packer_templates__ubuntu__ubuntu-22.04-amd64.json");
    const builder = (template.builders as Record<string, unknown>[]).find((b) => b.type === "vmware-iso") as Record<string, unknown>;
    // The guest's SSH is the harness's sshd (its port, user and password); a harmless shutdown command; the HTTP
    // port pinned (the boot command types it); the tools ISO Workstation would ship under /usr/lib/vmware/isoimages.
    Object.assign(builder, {
      ssh_port: sshd.port,
      ssh_username: sshd.username,
      ssh_password: sshd.password,
      shutdown_command: "echo guest halting",
      http_port_min: HTTP_PORT,
      http_port_max: HTTP_PORT,
      tools_source_path: toolsIso,
    });
    template.provisioners = [{ type: "shell", inline: ["echo provisioned > kiln-vmware-marker"] }];
    delete template["post-processors"];
    const variables = boundVariables(template, {
      mirror: path.join(dir, "mirror"),
      iso_checksum: `sha256:${createHash("sha256").update(await readFile(iso)).digest("hex")}`,
      http_directory: path.join(dir, "http"),
      build_directory: path.join(dir, "builds"),
    });
    const home = `/home/${TEST_USER}`;
    guestFiles.push(`${home}/kiln-vmware-marker`, `${home}/linux.iso`);

    const out = path.join(dir, "builds", "packer-ubuntu-22.04-amd64-vmware");
    const vmx = path.join(out, "ubuntu-22.04-amd64.vmx");
    const runner = TranscriptRunner.fromFiles([fixture("vmware-iso-ubuntu-22.04.transcript")], { VM_NAME: "ubuntu-22.04-amd64", OUT: out });
    let vmxAtStart = "";
    runner.on("disk-created", () => writeFile(path.join(out, "disk.vmdk"), "# Disk DescriptorFile\n"));
    runner.on("vm-started", async () => {
      // What Workstation does when the VM powers on: its VNC server listens where the .vmx says, and it writes
      // its runtime files next to the .vmx.
      vmxAtStart = await readFile(vmx, "utf8");
      const vncPort = Number(parseVmx(vmxAtStart).get("remotedisplay.vnc.port"));
      vncServers.push(await RecordingVncServer.start(vncPort));
      await writeFile(path.join(out, "vmware.log"), "log\n");
      await writeFile(path.join(out, "ubuntu-22.04-amd64.nvram"), "nvram");
      await writeFile(path.join(out, "ubuntu-22.04-amd64.vmsd"), "");
      await mkdir(path.join(out, "ubuntu-22.04-amd64.vmx.lck"));
      await writeFile(path.join(out, "ubuntu-22.04-amd64.vmx.lck", "M12345.lck"), "");
    });

    const ctx = recordingContext(dir);
    const outcome = await withHostRunner(runner, () => runJob(planTemplateJob(template, "vmware-iso", { variables }), ctx));
    expect(runner.mismatch?.message, runner.actual.join("\n")).toBeUndefined();
    expect(outcome.failure?.message, ctx.lines().join("\n")).toBeUndefined();
    expect(runner.remaining()).toEqual([]);
    expect(outcome.state).toBe("succeeded");

    // While running: the install ISO on the CD-ROM, VNC on, the temporary MAC-free network card.
    const running = parseVmx(vmxAtStart);
    expect(running.get("ide0:0.filename")).toBe(iso);
    expect(running.get("ide0:0.devicetype")).toBe("cdrom-image");
    expect(running.get("remotedisplay.vnc.enabled")).toBe("TRUE");
    expect(running.get("ethernet0.pcislotnumber")).toBe("32");
    // After the build: the .vmx exactly as the fixture (Packer's defaults + vmx_data + cleaning).
    const vncPort = running.get("remotedisplay.vnc.port") ?? "";
    const expected = (await readFile(fixture("vmware-iso-ubuntu-22.04.vmx"), "utf8")).replaceAll("${VNC_PORT}", vncPort);
    expect(await readFile(vmx, "utf8")).toBe(expected);
    expect(encodeVmx(parseVmx(expected))).toBe(expected);

    // The boot command as VMware's VNC server received it (HTTP IP from vmnet8).
    const typed = vncServers[0]?.typed() ?? "";
    expect(typed).toBe(
      "     c" + "set gfxpayload=keep<enter>linux /casper/vmlinuz quiet autoinstall ds=nocloud-net\\;s=http://172.16.154.1:47814/ ---<enter>initrd /casper/initrd<enter>boot<enter>",
    );
    // Pruned as Packer does, then compacted.
    expect((await readdir(out)).sort()).toEqual(["disk.vmdk", "ubuntu-22.04-amd64.nvram", "ubuntu-22.04-amd64.vmsd", "ubuntu-22.04-amd64.vmx"]);
    expect(await readFile(`${home}/kiln-vmware-marker`, "utf8")).toBe("provisioned\n");
    expect(await readFile(`${home}/linux.iso`, "utf8")).toBe("VMware Tools for Linux\n");
    expect(ctx.artifacts[0]).toMatchObject({ builder_id: "mitchellh.vmware", id: "ubuntu-22.04-amd64" });
  }, 60_000);
});

describe("vmware-iso: kubernetes-sigs/image-builder OVA node template", () => {
  it("ubuntu-2004 with its var files: floppy_dirs on a real floppy image, scsi/lsilogic disk, vmx_data, compaction", async () => {
    const sshd = await startSshServer();
    const dir = await dirs.make("kiln-vmware-ib-");
    const iso = path.join(dir, "ubuntu-20.04.1-legacy-server-amd64.iso");
    await writeFile(iso, "legacy installer\n");
    const preseedDir = path.join(dir, "packer", "ova", "linux", "ubuntu", "http", "20.04");
    await mkdir(preseedDir, { recursive: true });
    await writeFile(path.join(preseedDir, "preseed.cfg"), "d-i debian-installer/locale string en_US\n");

    const ib = "kubernetes-sigs-image-builder/images__capi__packer__";
    const text = await readFile(path.join(CORPUS, "templates", `${ib}ova__packer-node.json`));
    const varFiles = ["config__kubernetes", "config__cni", "config__containerd", "config__ansible-args", "config__goss-args", "config__common", "ova__packer-common", "ova__ubuntu-2004"].map((n) => ({
      path: `${ib}${n}.json`,
      text: readFileSync(path.join(CORPUS, "templates", `${ib}${n}.json`)),
    }));
    // -var wins over the var files, as on Packer's command line: the ISO is a local file.
    const variables = resolveVariables({
      template: parseTemplate(text, "packer-node.json"),
      varFiles,
      vars: { iso_url: iso, iso_checksum: createHash("sha256").update(await readFile(iso)).digest("hex") },
      env: {},
    });
    const template = JSON.parse(text.toString()) as Record<string, unknown>;
    const builder = (template.builders as Record<string, unknown>[]).find((b) => b.name === "vmware-iso") as Record<string, unknown>;
    Object.assign(builder, { ssh_port: sshd.port, ssh_username: sshd.username, ssh_password: sshd.password, shutdown_command: "echo guest halting" });
    template.provisioners = [{ type: "shell", inline: ["true"] }];
    delete template["post-processors"];

    const vmName = variables.build_version ?? "";
    expect(vmName).toBe("ubuntu-2004-kube-v1.18.15");
    const out = path.join(dir, "output", vmName);
    const vmx = path.join(out, `${vmName}.vmx`);
    const runner = TranscriptRunner.fromFiles([fixture("vmware-iso-image-builder-ubuntu-2004.transcript")], { VM_NAME: vmName, OUT: out });
    let running = new Map<string, string>();
    let floppyListing = "";
    runner.on("disk-created", () => writeFile(path.join(out, `${vmName}.vmdk`), "# Disk DescriptorFile\n"));
    runner.on("vm-started", async () => {
      running = parseVmx(await readFile(vmx, "utf8"));
      vncServers.push(await RecordingVncServer.start(Number(running.get("remotedisplay.vnc.port"))));
      floppyListing = (await run("mtype", ["-i", running.get("floppy0.filename") ?? "", "::/http/20.04/preseed.cfg"])).stdout;
    });
    const ctx = recordingContext(dir);
    const outcome = await withHostRunner(runner, () => runJob(planTemplateJob(template, "vmware-iso", { variables }), ctx));
    expect(runner.mismatch?.message, runner.actual.join("\n")).toBeUndefined();
    expect(outcome.failure?.message, ctx.lines().join("\n")).toBeUndefined();
    expect(runner.remaining()).toEqual([]);

    expect(floppyListing).toBe("d-i debian-installer/locale string en_US\n");
    expect(running.get("floppy0.present")).toBe("TRUE");
    expect(running.get("ide0:0.filename")).toBe(iso);
    const vncPort = running.get("remotedisplay.vnc.port") ?? "";
    const expected = (await readFile(fixture("vmware-iso-image-builder-ubuntu-2004.vmx"), "utf8")).replaceAll("${VNC_PORT}", vncPort);
    expect(await readFile(vmx, "utf8")).toBe(expected);
    expect(vncServers[0]?.typed()).toBe(
      "<esc><esc><enter>/install/vmlinuz auto console-setup/ask_detect=false console-setup/layoutcode=us console-setup/modelcode=pc105 debconf/frontend=noninteractive debian-installer=en_US fb=false initrd=/install/initrd.gz kbd-chooser/method=us keyboard-configuration/layout=USA keyboard-configuration/variant=USA locale=en_US netcfg/get_domain=local netcfg/get_hostname=localhost grub-installer/bootdev=/dev/sda preseed/file=/media/HTTP/20.04/preseed.cfg -- <enter>",
    );
    expect((await readdir(out)).sort()).toEqual([`${vmName}.vmdk`, `${vmName}.vmx`]);
  }, 60_000);
});

describe("vmware-vmx and cancel", () => {
  it("vmware-vmx clones the source with vmrun, applies vmx_data / vmx_data_post, skips compaction, exports an OVA with ovftool", async () => {
    const sshd = await startSshServer();
    const dir = await dirs.make("kiln-vmware-vmx-");
    const src = path.join(dir, "base", "base-ubuntu-2004.vmx");
    await mkdir(path.dirname(src));
    await writeFile(src, await readFile(fixture("vmware-vmx-source.vmx")));
    const template = {
      builders: [{
        type: "vmware-vmx", name: "vmx", source_path: "base/base-ubuntu-2004.vmx", vm_name: "node", disable_vnc: true, headless: true,
        skip_compaction: true, format: "ova", ovftool_options: ["--compress=9"], display_name: "kiln node",
        vmx_data: { "ethernet0.virtualDev": "e1000e" }, vmx_data_post: { annotation: "built by kiln" },
        ssh_host: "", ssh_port: sshd.port, ssh_username: sshd.username, ssh_password: sshd.password, shutdown_command: "echo halting", output_directory: "out",
      }],
      provisioners: [{ type: "shell", inline: ["echo {{build `Host`}}:{{build `Port`}} > kiln-vmx-marker"] }],
    };
    guestFiles.push(`/home/${TEST_USER}/kiln-vmx-marker`);
    const out = path.join(dir, "out");
    const runner = TranscriptRunner.fromFiles([fixture("vmware-vmx.transcript")], { VM_NAME: "node", OUT: out, SRC: src });
    runner.on("cloned", async () => {
      // What a full clone leaves: the .vmx (disk renamed) and the disk.
      const text = (await readFile(src, "utf8")).replace("base-ubuntu-2004.vmdk", "node-cl1.vmdk");
      await writeFile(path.join(out, "node.vmx"), text);
      await writeFile(path.join(out, "node-cl1.vmdk"), "# Disk DescriptorFile\n");
    });
    const ctx = recordingContext(dir);
    const outcome = await withHostRunner(runner, () => runJob(planTemplateJob(template, "vmx"), ctx));
    expect(runner.mismatch?.message, runner.actual.join("\n")).toBeUndefined();
    expect(outcome.failure?.message, ctx.lines().join("\n")).toBeUndefined();
    expect(runner.remaining()).toEqual([]);
    const vmx = parseVmx(await readFile(path.join(out, "node.vmx"), "utf8"));
    expect(vmx.get("ethernet0.virtualdev")).toBe("e1000e");
    expect(vmx.get("ethernet0.generatedaddress")).toBeUndefined();
    expect(vmx.get("annotation")).toBe("built by kiln");
    expect(vmx.get("displayname")).toBe("kiln node");
    expect(vmx.get("msg.autoanswer")).toBe("true");
    expect(vmx.get("uuid.action")).toBe("create");
    expect(vmx.get("scsi0:0.filename")).toBe("node-cl1.vmdk");
    expect(ctx.lines()).toContain("Skipping disk compaction step...");
    expect(await readFile(`/home/${TEST_USER}/kiln-vmx-marker`, "utf8")).toBe(`127.0.0.1:${sshd.port}\n`);
  }, 60_000);

  it("a cancel while the VM runs stops it hard, deletes it with vmrun deleteVM and removes the output directory", async () => {
    const dir = await dirs.make("kiln-vmware-cancel-");
    const iso = path.join(dir, "install.iso");
    await writeFile(iso, "iso\n");
    const template = { builders: [{ type: "vmware-iso", name: "vm", vm_name: "kiln-cancel", iso_url: iso, iso_checksum: "none", disable_vnc: true, ssh_username: "u", ssh_password: "p", output_directory: "out" }] };
    const out = path.join(dir, "out");
    const runner = TranscriptRunner.fromFiles([fixture("vmware-iso-cancel.transcript")], { VM_NAME: "kiln-cancel", OUT: out });
    const ctx = recordingContext(dir);
    runner.on("vm-started", () => ctx.cancel());
    const outcome = await withHostRunner(runner, () => runJob(planTemplateJob(template, "vm"), ctx));
    expect(outcome.state).toBe("cancelled");
    expect(runner.mismatch?.message, runner.actual.join("\n")).toBeUndefined();
    expect(runner.remaining()).toEqual([]);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});

describe("vmware config", () => {
  it("applies Packer's defaults and refuses ESX and what kiln does not run, every problem at once", () => {
    const ok = validateWithSchema(vmwareIsoBuilderSchema, { iso_url: "x.iso", iso_checksum: "none", ssh_username: "u", ssh_password: "p", shutdown_command: "halt" });
    expect(ok.problems).toEqual([]);
    expect(ok.compiled).toMatchObject({ disk_size: 40000, disk_adapter_type: "lsilogic", disk_type_id: "1", guest_os_type: "other", version: 21, vnc_port_min: 5900, vnc_port_max: 6000, tools_upload_path: "{{ .Flavor }}.iso" });
    const bad = validateWithSchema(vmwareIsoBuilderSchema, { iso_url: "x.iso", iso_checksum: "none", remote_type: "esx5", disk_adapter_type: "floppy", format: "qcow2", serial: "FILE:/tmp/x", tools_upload_flavor: "beos", communicator: "winrm" });
    expect(bad.problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^remote_type is not supported by kiln: VMware ESX is not supported by the plugin as of v2.0.0/),
      expect.stringMatching(/^invalid 'disk_adapter_type' type specified: floppy/),
      "format must be one of ova, ovf, or vmx",
      expect.stringMatching(/^serial is not supported by kiln/),
      expect.stringMatching(/^invalid 'tools_upload_flavor' specified: beos/),
      expect.stringMatching(/^communicator "winrm" is not supported/),
    ]));
    expect(validateWithSchema(vmwareVmxBuilderSchema, {}).problems).toContain("source_path is blank, but is required");
  });

  it("is not advertised on this agent: vmrun and VBoxManage are not installed here", () => {
    expect(vmwareIsoBuilder.detect()).toBe(false);
    expect(implementedPluginTypes("builder")).toEqual(expect.arrayContaining(["virtualbox-iso", "virtualbox-ovf", "vmware-iso", "vmware-vmx"]));
    for (const t of ["virtualbox-iso", "virtualbox-ovf", "vmware-iso", "vmware-vmx"]) expect(localBuilderTypes()).not.toContain(t);
  });
});
