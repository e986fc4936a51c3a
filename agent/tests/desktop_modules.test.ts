/**
 * The pieces under the desktop-hypervisor builders: the real host runner (execFile, exit codes, a missing binary,
 * cancel), the transcript format and its matching, PC/XT scancodes and RFB keysyms, .vmx parsing and writing.
 */
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../core/src/mod.js";
import { execHostRunner, formatCommand } from "../src/builders/desktop/host_runner.js";
import { keyEventSteps, scancodeSteps, scancodes } from "../src/builders/desktop/keyboard.js";
import { TranscriptRunner, parseTranscript } from "../src/builders/desktop/transcript.js";
import { diskLayout, encodeVmx, parseVmx } from "../src/builders/vmware/vmx.js";
import { parseBootCommand } from "../src/vm/boot_command.js";

const signal = (): AbortSignal => new AbortController().signal;

describe("desktop - the real host runner", () => {
  it("runs the binary and returns stdout, stderr and a non-zero exit as a result", async () => {
    const r = await execHostRunner.run("sh", ["-c", "echo out; echo err >&2; exit 3"], { signal: signal(), install: "x" });
    expect(r).toEqual({ stdout: "out\n", stderr: "err\n", exitCode: 3 });
  });

  it("names the install step for a missing binary, and honours the AbortSignal", async () => {
    await expect(execHostRunner.run("VBoxManage-not-here", ["--version"], { signal: signal(), install: "install VirtualBox" })).rejects.toMatchObject({
      code: ErrorCode.BuildFailed,
      message: "VBoxManage-not-here was not found on this agent: install VirtualBox",
    });
    const ac = new AbortController();
    const started = Date.now();
    const p = execHostRunner.run("sleep", ["30"], { signal: ac.signal, install: "x" });
    setTimeout(() => ac.abort(), 100);
    await expect(p).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("desktop - transcripts", () => {
  it("parses commands, output, exit codes, events and waits", () => {
    const entries = parseTranscript("# c\n$ VBoxManage showvminfo x --machinereadable\n> VMState=\"running\"\n! warn\n= 2\n@ ev\n~ 1m30s\n");
    expect(entries).toEqual([
      { kind: "command", line: "VBoxManage showvminfo x --machinereadable", stdout: 'VMState="running"\n', stderr: "warn\n", exitCode: 2, events: ["ev"] },
      { kind: "wait", ms: 90_000, text: "1m30s" },
    ]);
    expect(() => parseTranscript("> orphan output")).toThrow(/does not follow a command/);
  });

  it("binds unbound variables on first use, requires bound ones to match, and substitutes them into output", async () => {
    const runner = new TranscriptRunner(parseTranscript("$ tool --port ${PORT} --name '${NAME}'\n> port ${PORT}\n$ tool ${PORT}\n"), { NAME: "vm 1" });
    expect(formatCommand("tool", ["--port", "2345", "--name", "vm 1"])).toBe("tool --port 2345 --name 'vm 1'");
    expect((await runner.run("tool", ["--port", "2345", "--name", "vm 1"], { signal: signal() })).stdout).toBe("port 2345\n");
    await expect(runner.run("tool", ["2346"], { signal: signal() })).rejects.toThrow(/- expected: \$ tool 2345\n\+ actual:   \$ tool 2346/);
    expect(runner.remaining()).toEqual(["$ tool 2345"]);
  });

  it("checks waits and counts keystroke pacing without replaying it", async () => {
    const runner = new TranscriptRunner(parseTranscript("~ 5s\n"));
    await runner.pace(100, signal());
    await runner.sleep(5000, signal());
    expect(runner.paced).toEqual({ count: 1, totalMs: 100 });
    await expect(runner.sleep(1000, signal())).rejects.toThrow(/expected: \(end of transcript\)/);
  });
});

describe("desktop - keyboards", () => {
  it("PC/XT scancodes: make and break codes, E0-prefixed extended keys, chunks of 25 flushed before waits", () => {
    expect(scancodes("a", true)).toEqual(["1e"]);
    expect(scancodes("a", false)).toEqual(["9e"]);
    expect(scancodes("f12", true)).toEqual(["58"]);
    expect(scancodes("up", false)).toEqual(["e0", "c8"]);
    expect(scancodes("meta_l", true)).toEqual(["e0", "5b"]);
    const steps = scancodeSteps(parseBootCommand("abcdefghijklm<wait3>Z<leftCtrlOn>c<leftCtrlOff>"));
    expect(steps).toEqual([
      { type: "send", codes: ["1e", "9e", "30", "b0", "2e", "ae", "20", "a0", "12", "92", "21", "a1", "22", "a2", "23", "a3", "17", "97", "24", "a4", "25", "a5", "26", "a6", "32"] },
      { type: "send", codes: ["b2"] },
      { type: "wait", ms: 3000 },
      { type: "send", codes: ["2a", "2c", "ac", "aa", "1d", "2e", "ae", "9d"] },
    ]);
  });

  it("RFB key events: keysyms, shift as its own key, waits in between", () => {
    expect(keyEventSteps(parseBootCommand(":<enter><wait>"))).toEqual([
      { type: "key", keysym: 0xffe1, down: true },
      { type: "key", keysym: 0x3b, down: true },
      { type: "key", keysym: 0x3b, down: false },
      { type: "key", keysym: 0xffe1, down: false },
      { type: "key", keysym: 0xff0d, down: true },
      { type: "key", keysym: 0xff0d, down: false },
      { type: "wait", ms: 1000 },
    ]);
  });
});

describe("desktop - .vmx files", () => {
  it("reads keys case-insensitively and writes them sorted and quoted, as Packer does", () => {
    const data = parseVmx('.encoding = "UTF-8"\n// a comment\ndisplayName = "a b"\nScsi0:0.FileName="disk.vmdk"\nnumvcpus = 2\n');
    expect([...data.entries()]).toEqual([[".encoding", "UTF-8"], ["displayname", "a b"], ["scsi0:0.filename", "disk.vmdk"], ["numvcpus", "2"]]);
    expect(encodeVmx(data)).toBe('.encoding = "UTF-8"\ndisplayname = "a b"\nnumvcpus = "2"\nscsi0:0.filename = "disk.vmdk"\n');
  });

  it("places disk and CD-ROM by adapter type", () => {
    expect(diskLayout("lsilogic", undefined)).toMatchObject({ diskType: "scsi", scsiAdapter: "lsilogic", cdromType: "ide", cdromUnit: "0" });
    expect(diskLayout("pvscsi", undefined)).toMatchObject({ diskType: "scsi", scsiAdapter: "pvscsi" });
    expect(diskLayout("ide", undefined)).toMatchObject({ diskType: "ide", scsiPresent: false, cdromType: "ide", cdromUnit: "1" });
    expect(diskLayout("sata", undefined)).toMatchObject({ diskType: "sata", sataPresent: true, cdromType: "sata", cdromUnit: "1" });
    expect(diskLayout("nvme", "ide")).toMatchObject({ diskType: "nvme", nvmePresent: true, sataPresent: false, cdromType: "ide", cdromUnit: "0" });
  });
});
