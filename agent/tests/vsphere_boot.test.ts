/**
 * `boot_command` of the vSphere builders against vcsim extended with VirtualMachine.PutUsbScanCodes
 * (test/src/vcsim_overlay/usb_scancodes.go records every key event a VM receives in its extraConfig entry
 * `kiln.usbScanCodes`, as `0x<usbHidCode>/lc=<0|1>/ls=..../la=...`):
 *
 * - differential: the same vsphere-iso template built by `packer build` 1.6.6 and by `kiln build` against one vcsim;
 *   the key event sequences the two VMs received must be identical (special keys, held modifiers, waits, the
 *   `{{ .HTTPIP }}:{{ .HTTPPort }}` of the HTTP server, the IP discovered by each tool), and both HTTP servers serve
 *   `http_directory` while the VM runs;
 * - kiln alone: the typed text decodes back to the rendered command (with `{{ .Name }}`), vsphere-clone types it
 *   before waiting for the IP, a cancel while typing leaves no VM and no HTTP server, and the extension refuses keys
 *   for a powered-off VM as vCenter does.
 *
 * This is a simulator extended per the vSphere API reference, not a real vCenter: what a real guest does with the
 * keys is not covered.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { validatePluginConfig } from "../../core/src/mod.js";
import { SshServer, TEST_PASSWORD, TEST_USER, freePort, runKiln, runPacker, tempDir } from "../../test/src/mod.js";
import { usbKeyEvents } from "../src/builders/vsphere/boot_command.js";
import { runJob } from "../src/runner.js";
import { parseBootCommand } from "../src/vm/boot_command.js";
import type { MoRef } from "../src/vsphere/client.js";
import { child, list, text } from "../src/vsphere/soap.js";
import { useVcsim } from "./vsphere_harness.js";
import { planTemplateJob, recordingContext } from "./job_harness.js";

const PASSWORD = "kiln-boot-pw";
const KICKSTART = "install\nreboot\n";

const signal = new AbortController().signal;

const vc = useVcsim({ password: PASSWORD });

/** The key events the VM received, as the vcsim extension recorded them. */
async function receivedKeys(name: string): Promise<string[]> {
  const vm = await vc.findVm(name);
  if (vm === undefined) throw new Error(`no VM ${name}`);
  const extra = list(child((await vc.client.props(vm, ["config.extraConfig"], signal)).get("config.extraConfig"), "OptionValue"));
  const entry = extra.find((o) => text(child(o, "key")) === "kiln.usbScanCodes");
  return text(child(entry, "value")).split(" ").filter((e) => e !== "");
}

const HID_TO_CHAR: Record<number, [string, string]> = {
  ...Object.fromEntries(Array.from({ length: 26 }, (_, i) => [0x04 + i, [String.fromCharCode(97 + i), String.fromCharCode(65 + i)]])),
  ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [0x1e + i, ["1234567890"[i], "!@#$%^&*()"[i]]])),
  0x2c: [" ", " "], 0x2d: ["-", "_"], 0x2e: ["=", "+"], 0x2f: ["[", "{"], 0x30: ["]", "}"], 0x31: ["\\", "|"],
  0x33: [";", ":"], 0x34: ["'", '"'], 0x35: ["`", "~"], 0x36: [",", "<"], 0x37: [".", ">"], 0x38: ["/", "?"],
  0x28: ["<enter>", "<enter>"], 0x29: ["<esc>", "<esc>"],
};

/** What a US-layout guest would read from the recorded events (characters, `<enter>`, `<esc>`). */
function decode(events: readonly string[]): string {
  return events
    .map((e) => {
      const m = /^0x([0-9a-f]{4})0007\/lc=([01])\/ls=([01])\/la=([01])$/.exec(e);
      if (m === null) throw new Error(`unexpected event ${e}`);
      const pair = HID_TO_CHAR[parseInt(m[1] as string, 16)];
      if (pair === undefined) throw new Error(`no character for ${e}`);
      return pair[m[3] === "1" ? 1 : 0];
    })
    .join("");
}

/** The boot command under test: characters, special keys, held modifiers, toggles and waits. */
const BOOT_COMMAND = [
  "<esc><wait>linux ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg<enter><wait100ms>",
  "<leftShiftOn>ab1<leftShiftOff>C_~<leftCtrlOn>c<leftCtrlOff><leftAltOn><f2><leftAltOff>",
  "<tab><spacebar><bs><del><up><home><rightShift><leftSuper><cOn><cOff><QOn><QOff><enter>",
];

describe("vsphere boot_command: the USB key events", () => {
  it("maps keys and modifiers as Packer's USB driver (one event per key)", () => {
    const events = usbKeyEvents(parseBootCommand("aA<enter><leftShiftOn>b<leftShiftOff><leftCtrlOn>c<leftCtrlOff><f1On><f1Off><cOn>"));
    const keys = events.map((e) => (e.type === "key" ? `${e.usage.toString(16)}${e.ctrl ? "C" : ""}${e.shift ? "S" : ""}${e.alt ? "A" : ""}` : "w"));
    // Packer's quirks kept: `<leftShiftOn>` and `<f1On>` carry shift; `<leftCtrlOn>` holds ctrl (and shifts itself).
    expect(keys).toEqual(["4", "4S", "28", "e1S", "5S", "e1", "e0CS", "6C", "e0", "3aS", "3a", "6"]);
  });

  it("validates: boot_command and http_* are accepted, a bad port range is refused", () => {
    const base = { ...{ vcenter_server: "vc", username: "u", password: "p" }, vm_name: "x", host: "h", communicator: "none" };
    const ok = validatePluginConfig("builder", "vsphere-iso", { ...base, boot_command: ["<enter>"], boot_wait: "2s", http_directory: "http", http_ip: "10.0.0.1" });
    expect(ok.problems).toEqual([]);
    const bad = validatePluginConfig("builder", "vsphere-clone", { ...base, template: "t", http_port_min: 9000, http_port_max: 8000 });
    expect(bad.problems).toEqual(["http_port_min must be less than http_port_max"]);
  });
});

describe("vsphere boot_command against vcsim", () => {
  it("kiln build types the same key events as packer build 1.6.6, with the HTTP server serving http_directory", async () => {
    const port = await freePort();
    const names = { packer: `packer-boot-${process.pid}`, kiln: `kiln-boot-${process.pid}` };
    const served: Record<string, string> = {};
    const httpIps: Record<string, string> = {};
    for (const tool of ["packer", "kiln"] as const) {
      const dir = await tempDir();
      try {
        await mkdir(path.join(dir.dir, "http"));
        await writeFile(path.join(dir.dir, "http", "ks.cfg"), KICKSTART);
        const template = {
          builders: [
            {
              type: "vsphere-iso",
              ...vc.connection(),
              vm_name: names[tool],
              cluster: "DC0_C0",
              datastore: "LocalDS_0",
              guest_os_type: "otherLinux64Guest",
              // Packer 1.6.6 refuses a vsphere-iso VM without a disk or a NIC.
              storage: [{ disk_size: 1024, disk_thin_provisioned: true }],
              network_adapters: [{ network: "VM Network", network_card: "e1000" }],
              communicator: "none",
              shutdown_timeout: "60s",
              boot_wait: "20ms",
              boot_keygroup_interval: "1ms",
              http_directory: "http",
              // No http_ip: both tools pick this host's first non-loopback IPv4 address for {{ .HTTPIP }}.
              http_port_min: port,
              http_port_max: port,
              boot_command: BOOT_COMMAND,
            },
          ],
        };
        await writeFile(path.join(dir.dir, "template.json"), JSON.stringify(template));
        let asked = false;
        const onStdout = (stdout: string): void => {
          if (asked || !stdout.includes("Please shutdown virtual machine within")) return;
          asked = true;
          // What the guest would do with the typed URL, then what a user does: shut the VM down.
          void fetch(`http://127.0.0.1:${port}/ks.cfg`)
            .then(async (r) => (served[tool] = `${r.status} ${await r.text()}`))
            .catch((err: unknown) => (served[tool] = String(err)))
            .then(() => vc.findVm(names[tool]))
            .then((vm) => (vm === undefined ? undefined : vc.client.call("ShutdownGuest", vm, {}, signal)))
            .catch(() => undefined);
        };
        const args = ["build", "-color=false", "template.json"];
        const options = { cwd: dir.dir, timeoutMs: 120_000, onStdout };
        const r = tool === "kiln" ? await runKiln(args, options) : await runPacker(args, options);
        expect(r.code, `${tool}:\n${r.stdout}\n${r.stderr}`).toBe(0);
        expect(r.stdout).toContain("Typing boot command...");
        httpIps[tool] = new RegExp(`HTTP server is working at http://([0-9.]+):${port}/`).exec(r.stdout)?.[1] ?? "";
      } finally {
        await dir.cleanup();
      }
    }
    expect(served).toEqual({ packer: `200 ${KICKSTART}`, kiln: `200 ${KICKSTART}` });
    const packer = await receivedKeys(names.packer);
    expect(httpIps.kiln).not.toBe("");
    expect(httpIps.kiln).not.toMatch(/^127\./);
    expect(httpIps.kiln).toBe(httpIps.packer);
    const url = `linux ks=http://${httpIps.kiln}:${port}/ks.cfg`;
    expect(decode(packer.slice(0, url.length + 2))).toBe(`<esc>${url}<enter>`);
    expect(packer).toContain("0x00e10007/lc=0/ls=1/la=0"); // <leftShiftOn>
    expect(packer).toHaveLength(url.length + 29); // every key of BOOT_COMMAND arrived, one event each
    expect(await receivedKeys(names.kiln)).toEqual(packer);
  }, 300_000);

  it("vsphere-iso: the typed text is the rendered command, {{ .Name }} included; keys need a powered-on VM", async () => {
    const name = `kiln-boot-name-${process.pid}`;
    const dir = await vc.dirs.make();
    await mkdir(path.join(dir, "www"));
    await writeFile(path.join(dir, "www", "preseed.cfg"), KICKSTART);
    let served = "";
    const ctx = recordingContext(dir, {
      onLog: (l) => {
        if (!l.text.startsWith("Please shutdown virtual machine within")) return;
        const url = /HTTP server is working at (\S+)/.exec(ctx.lines().join("\n"))?.[1] ?? "";
        void fetch(`${url}preseed.cfg`)
          .then((r) => r.text())
          .then((t) => (served = t))
          .catch(() => undefined)
          .then(() => vc.findVm(name))
          .then((vm) => (vm === undefined ? undefined : vc.client.call("ShutdownGuest", vm, {}, signal)))
          .catch(() => undefined);
      },
    });
    const template = {
      builders: [
        {
          type: "vsphere-iso",
          ...vc.connection(),
          vm_name: name,
          host: "DC0_H0",
          communicator: "none",
          shutdown_timeout: "60s",
          boot_wait: "10ms",
          boot_keygroup_interval: "1ms",
          http_directory: "www",
          http_ip: "127.0.0.1",
          boot_command: ["<esc>auto url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/preseed.cfg hostname={{ .Name }}<enter>"],
        },
      ],
    };
    const outcome = await runJob(planTemplateJob(template, "vsphere-iso"), ctx);
    expect(outcome.state, outcome.failure?.message).toBe("succeeded");
    const port = /HTTP server is working at http:\/\/127\.0\.0\.1:(\d+)\//.exec(ctx.lines().join("\n"))?.[1];
    expect(decode(await receivedKeys(name))).toBe(`<esc>auto url=http://127.0.0.1:${port}/preseed.cfg hostname=${name}<enter>`);
    expect(served).toBe(KICKSTART);
    expect(ctx.lines()).toEqual(expect.arrayContaining(["Waiting 10ms for boot...", "Typing boot command..."]));
    // The VM is off now: the simulator refuses keys, as vCenter does.
    const vm = (await vc.findVm(name)) as MoRef;
    const put = vc.client.call("PutUsbScanCodes", vm, { spec: { keyEvents: [{ usbHidCode: (0x28 << 16) | 7 }] } }, signal);
    await expect(put).rejects.toThrow(/InvalidPowerState|power/i);
  }, 120_000);

  it("vsphere-clone: types the boot command after power-on, before waiting for the IP", async () => {
    await using sshd = await SshServer.start();
    const name = `kiln-boot-clone-${process.pid}`;
    const ctx = recordingContext(await vc.dirs.make());
    const template = {
      builders: [
        {
          type: "vsphere-clone",
          ...vc.connection(),
          vm_name: name,
          template: "DC0_H0_VM0",
          host: "DC0_H0",
          communicator: "ssh",
          ssh_port: sshd.port,
          ssh_username: TEST_USER,
          ssh_password: TEST_PASSWORD,
          ssh_timeout: "60s",
          configuration_parameters: { "SET.guest.ipAddress": "127.0.0.1" },
          ip_settle_timeout: "100ms",
          boot_wait: "10ms",
          boot_keygroup_interval: "1ms",
          http_ip: "127.0.0.1",
          boot_command: ["root<enter><wait100ms>poweroff<enter>"],
          shutdown_command: "true",
          shutdown_timeout: "30s",
        },
      ],
    };
    // vcsim's guest does not run the shutdown command: power the VM off through the API when the build runs it.
    const log: typeof ctx.log = (level, t) => {
      ctx.log(level, t);
      if (t !== "Executing shutdown command...") return;
      void vc.findVm(name)
        .then((vm) => (vm === undefined ? undefined : vc.client.call("PowerOffVM_Task", vm, {}, signal)))
        .catch(() => undefined);
    };
    const result = await runJob(planTemplateJob(template, "vsphere-clone"), { ...ctx, log });
    expect(result.state, result.failure?.message).toBe("succeeded");
    expect(decode(await receivedKeys(name))).toBe("root<enter>poweroff<enter>");
    const lines = ctx.lines();
    expect(lines.indexOf("Typing boot command...")).toBeGreaterThan(lines.indexOf("Power on VM..."));
    expect(lines.indexOf("Typing boot command...")).toBeLessThan(lines.indexOf("Waiting for IP..."));
  }, 120_000);

  it("a cancel while typing stops the build, destroys the VM and closes the HTTP server", async () => {
    const name = `kiln-boot-cancel-${process.pid}`;
    const dir = await vc.dirs.make();
    await mkdir(path.join(dir, "www"));
    let typing = false;
    const ctx = recordingContext(dir, {
      onLog: (l) => {
        if (l.text !== "Typing boot command..." || typing) return;
        typing = true;
        setTimeout(() => ctx.cancel(), 300);
      },
    });
    const template = {
      builders: [
        {
          type: "vsphere-iso",
          ...vc.connection(),
          vm_name: name,
          host: "DC0_H0",
          communicator: "none",
          boot_wait: "10ms",
          boot_keygroup_interval: "100ms",
          http_directory: "www",
          http_ip: "127.0.0.1",
          boot_command: ["a long boot command typed slowly<enter>"],
        },
      ],
    };
    const outcome = await runJob(planTemplateJob(template, "vsphere-iso"), ctx);
    expect(outcome.state).toBe("cancelled");
    const port = Number(/HTTP server is working at http:\/\/127\.0\.0\.1:(\d+)\//.exec(ctx.lines().join("\n"))?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(await vc.findVm(name)).toBeUndefined();
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  }, 120_000);
});
