/**
 * The qemu builder against real QEMU (TCG where KVM does not work) booting the test guest image: boot_command typed
 * at isolinux's prompt, SSH through the forwarded port, a shell provisioner writing to /dev/vda, shutdown_command,
 * and the image read back. Plus cancel, the shared source cache across two concurrent jobs, and bad input.
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, qemuBuilderSchema, validateWithSchema } from "../../core/src/mod.js";
import { guestImage, tempDir, type GuestImage } from "../../test/src/mod.js";
import { runJob } from "../src/runner.js";
import { reapOrphanedQemu } from "../src/vm/reap.js";
import { qemuArgs } from "../src/builders/qemu/steps.js";
import { renderCore } from "../src/template.js";
import { TempDirs, planTemplateJob, recordingContext, type RecordingContext } from "./job_harness.js";

const run = promisify(execFile);
const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

let guest: GuestImage;
let cacheDir: { dir: string; cleanup: () => Promise<void> };
const previousCacheDir = process.env.KILN_CACHE_DIR;
beforeAll(async () => {
  // The agent's source cache goes to a temp dir, never to the user's ~/.cache.
  cacheDir = await tempDir("kiln-qemu-cache-");
  process.env.KILN_CACHE_DIR = cacheDir.dir;
  guest = await guestImage();
}, 120_000);
afterAll(async () => {
  if (previousCacheDir === undefined) delete process.env.KILN_CACHE_DIR;
  else process.env.KILN_CACHE_DIR = previousCacheDir;
  await cacheDir.cleanup();
});

/** The pids of QEMU processes whose command line mentions `marker`. */
async function qemuProcesses(marker: string): Promise<string[]> {
  const pids: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.startsWith("qemu-system") && cmdline.includes(marker)) pids.push(pid);
  }
  return pids;
}

function qemuBuilder(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    type: "qemu",
    name: "q",
    iso_url: guest.iso,
    iso_checksum: "none",
    disk_size: "16M",
    memory: 256,
    headless: true,
    ssh_username: guest.username,
    ssh_password: guest.password,
    ssh_timeout: "4m",
    shutdown_command: "poweroff",
    ...overrides,
  };
}

/** Resolves once the job logged a line matching `re`. */
function logged(ctx: RecordingContext, re: RegExp, timeoutMs = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      if (ctx.lines().some((l) => re.test(l))) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error(`no log line matching ${re} in:\n${ctx.lines().join("\n")}`));
      else setTimeout(tick, 100);
    };
    tick();
  });
}

describe("qemu builder", () => {
  it("types boot_command at the boot prompt, provisions over SSH, shuts down and leaves the provisioned image (-force)", async () => {
    const dir = await dirs.make();
    const vmName = `kiln-e2e-${path.basename(dir)}`;
    // -force: a stale output directory is replaced.
    await mkdir(path.join(dir, "out"));
    await writeFile(path.join(dir, "out", "stale"), "old");
    const template = {
      builders: [
        qemuBuilder({
          vm_name: vmName,
          output_directory: "out",
          boot_wait: "5s",
          boot_command: ["live kiln.marker={{ .Name }} kiln.http={{ .HTTPIP }}:{{ .HTTPPort }}<enter>"],
          http_content: { "/hello": "from-http" },
          qemuargs: [["-serial", `file:${path.join(dir, "serial.log")}`]],
        }),
      ],
      provisioners: [
        {
          type: "shell",
          inline: [
            `grep -q 'kiln.marker=${vmName}' /proc/cmdline`,
            'grep -q "kiln.http=$PACKER_HTTP_ADDR" /proc/cmdline',
            'wget -q -O /tmp/h "http://$PACKER_HTTP_ADDR/hello"',
            "printf 'KILN-PROVISIONED %s' \"$(cat /tmp/h)\" | dd of=/dev/vda bs=512 count=1 conv=sync 2>/dev/null",
            "sync",
          ],
        },
      ],
    };
    const ctx = recordingContext(dir);
    const outcome = await runJob(planTemplateJob(template, "q", { force: true }), ctx);
    const serial = await readFile(path.join(dir, "serial.log"), "utf8").catch(() => "");
    expect(outcome.failure?.message, `${ctx.lines().join("\n")}\n--- serial:\n${serial}`).toBeUndefined();
    expect(outcome.state).toBe("succeeded");
    expect(ctx.lines()).toContain("Deleting previous output directory...");
    expect(ctx.lines()).toContain("Typing the boot command over QMP...");
    expect(ctx.lines()).toContain("Gracefully halting virtual machine...");
    expect(ctx.artifacts).toHaveLength(1);
    expect(ctx.artifacts[0]).toMatchObject({ builder_id: "transcend.qemu", id: "VM" });
    expect(await readdir(path.join(dir, "out"))).toEqual([vmName]);

    const disk = path.join(dir, "out", vmName);
    const info = JSON.parse((await run("qemu-img", ["info", "--output=json", disk])).stdout) as { format: string; "virtual-size": number };
    expect(info).toMatchObject({ format: "qcow2", "virtual-size": 16 * 1024 * 1024 });
    const raw = path.join(dir, "disk.raw");
    await run("qemu-img", ["convert", "-O", "raw", disk, raw]);
    const head = (await readFile(raw)).subarray(0, 32).toString("latin1");
    expect(head).toBe("KILN-PROVISIONED from-http\0\0\0\0\0\0");
    expect(await qemuProcesses(vmName)).toEqual([]);
  }, 240_000);

  it("two concurrent jobs download the ISO once; cancelling during boot leaves no QEMU, port or directory", async () => {
    const dir = await dirs.make();
    const cache = await dirs.make("kiln-cache-");
    process.env.KILN_CACHE_DIR = cache;
    const iso = await readFile(guest.autoIso);
    const sha256 = createHash("sha256").update(iso).digest("hex");
    let hits = 0;
    const server = http.createServer((req, res) => {
      if (req.url === "/guest.iso") hits++;
      res.writeHead(req.url === "/guest.iso" ? 200 : 404).end(req.url === "/guest.iso" ? iso : undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/guest.iso`;
    try {
      const jobs = ["a", "b"].map(async (n) => {
        const vmName = `kiln-cancel-${n}-${path.basename(dir)}`;
        const template = { builders: [qemuBuilder({ name: n, iso_url: url, iso_checksum: `sha256:${sha256}`, vm_name: vmName, output_directory: `out-${n}` })] };
        const ctx = recordingContext(dir);
        const running = runJob(planTemplateJob(template, n), ctx);
        await logged(ctx, /Waiting for SSH to become available/);
        expect(await qemuProcesses(vmName)).toHaveLength(1);
        const runDir = /unix:([^,]+)\/qmp\.sock/.exec(ctx.lines().join("\n"))?.[1];
        ctx.cancel();
        const outcome = await running;
        return { outcome, vmName, runDir, ctx };
      });
      const results = await Promise.all(jobs);
      expect(hits).toBe(1);
      for (const { outcome, vmName, runDir, ctx } of results) {
        expect(outcome.state, ctx.lines().join("\n")).toBe("cancelled");
        expect(await qemuProcesses(vmName)).toEqual([]);
        expect(runDir).toBeDefined();
        expect(existsSync(runDir as string)).toBe(false);
      }
      expect(existsSync(path.join(dir, "out-a"))).toBe(false);
      expect(existsSync(path.join(dir, "out-b"))).toBe(false);
      expect((await readdir(cache, { recursive: true })).filter((f) => f.endsWith(".iso"))).toHaveLength(1);
    } finally {
      process.env.KILN_CACHE_DIR = cacheDir.dir;
      await new Promise((r) => server.close(r));
    }
  }, 240_000);

  it("refuses an existing output directory without -force, and keeps it", async () => {
    const dir = await dirs.make();
    await mkdir(path.join(dir, "out"));
    await writeFile(path.join(dir, "out", "keep"), "mine");
    const ctx = recordingContext(dir);
    const outcome = await runJob(planTemplateJob({ builders: [qemuBuilder({ output_directory: "out" })] }, "q"), ctx);
    expect(outcome.state).toBe("failed");
    expect(outcome.failure).toMatchObject({ code: ErrorCode.BuildFailed });
    expect(outcome.failure?.message).toMatch(/Output directory exists: .*out\n\nUse the force flag/);
    expect(await readFile(path.join(dir, "out", "keep"), "utf8")).toBe("mine");
  });

  it("fails clearly on a missing qemu binary, a checksum mismatch and an unreachable iso_url, leaving nothing", async () => {
    const dir = await dirs.make();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ qemu_binary: "/nonexistent/qemu-system-x86_64" }, /qemu_binary "\/nonexistent\/qemu-system-x86_64" was not found on this agent: install qemu-system-x86/],
      [{ iso_checksum: `sha256:${"0".repeat(64)}` }, /checksums didn't match/],
      [{ iso_url: "http://127.0.0.1:9/guest.iso" }, /ECONNREFUSED/],
    ];
    for (const [overrides, message] of cases) {
      const ctx = recordingContext(dir);
      const outcome = await runJob(planTemplateJob({ builders: [qemuBuilder({ output_directory: "out", ...overrides })] }, "q"), ctx);
      expect(outcome.state).toBe("failed");
      expect(outcome.failure?.message).toMatch(message);
      expect(existsSync(path.join(dir, "out"))).toBe(false);
    }
  });

  it("refuses what it does not run, and bad values, with every problem at once", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const template = {
      builders: [
        qemuBuilder({ net_bridge: "br0", floppy_files: ["a"], format: "vmdk", disk_interface: "floppy", iso_checksum: "sha256:abc", disk_size: "lots" }),
      ],
    };
    const outcome = await runJob(planTemplateJob(template, "q"), ctx);
    expect(outcome.failure).toMatchObject({ code: ErrorCode.InvalidTemplate });
    const message = outcome.failure?.message ?? "";
    for (const re of [/net_bridge is not supported by kiln/, /floppy_files is not supported by kiln/, /invalid format, only 'qcow2' or 'raw'/,
      /unrecognized disk_interface type "floppy"/, /iso_checksum "sha256:abc" is invalid/, /disk_size "lots" is invalid/]) {
      expect(message).toMatch(re);
    }
  });

  it("an agent starting after a crash kills the QEMU a dead agent process left and removes its run directory", async () => {
    // A pid that is certainly dead: a child that has exited.
    const deadPid = await new Promise<number>((resolve) => {
      const p = spawn("true");
      p.once("exit", () => resolve(p.pid as number));
    });
    const start = async (owner: number): Promise<{ pid: number; dir: string }> => {
      const dir = path.join(tmpdir(), `kiln-qemu-${owner}-reaptest${Math.random().toString(36).slice(2, 8)}`);
      await mkdir(dir);
      const qemu = spawn("qemu-system-x86_64", ["-machine", "none", "-display", "none", "-nodefaults", "-qmp", `unix:${dir}/qmp.sock,server=on,wait=off`], { stdio: "ignore" });
      for (let i = 0; i < 200 && !existsSync(path.join(dir, "qmp.sock")); i++) await new Promise((r) => setTimeout(r, 50));
      return { pid: qemu.pid as number, dir };
    };
    const orphan = await start(deadPid);
    const owned = await start(process.pid);
    try {
      const result = await reapOrphanedQemu();
      expect(result.killed).toContain(orphan.pid);
      expect(result.killed).not.toContain(owned.pid);
      expect(result.removed).toContain(orphan.dir);
      expect(existsSync(orphan.dir)).toBe(false);
      expect(existsSync(owned.dir)).toBe(true);
      expect(await qemuProcesses(`${orphan.dir}/`)).toEqual([]);
      expect(await qemuProcesses(`${owned.dir}/`)).toHaveLength(1);
    } finally {
      process.kill(owned.pid, "SIGKILL");
      await rm(owned.dir, { recursive: true, force: true });
    }
  });

  it("merges qemuargs over the defaults as Packer does, rendering their template values", () => {
    const { compiled, problems } = validateWithSchema(qemuBuilderSchema, {
      iso_url: "a.iso", iso_checksum: "none", ssh_username: "u", ssh_password: "p", headless: true, memory: 256, cpus: 2,
      qemuargs: [["-m", "1024M"], ["-serial", "file:{{ .OutputDir }}/serial-{{ .Name }}-{{ .SSHHostPort }}.log"]],
    });
    expect(problems).toEqual([]);
    const info = { workDir: "/w", buildName: "b", force: false,
      render: (t: string, data: Readonly<Record<string, unknown>>) => renderCore(t, { userVariables: {}, packerVersion: "1.6.6", statics: { initTimeUnix: 0, initTimeMs: 0, uuid: "" }, data }) };
    const args = qemuArgs(compiled as never, info, {
      diskPaths: ["/w/out/packer-b"], outputDir: "/w/out", runDir: "/tmp/r", sourcePath: "/c/a.iso", accel: "tcg",
      hostPort: { port: 3333, release: () => undefined }, vncPort: { port: 5905, release: () => undefined },
    });
    const joined = args.join(" ");
    expect(joined).toContain("-machine type=pc,accel=tcg");
    expect(joined).toContain("-netdev user,id=user.0,hostfwd=tcp:127.0.0.1:3333-:22");
    expect(joined).toContain("-drive file=/w/out/packer-b,cache=writeback,discard=ignore,format=qcow2,detect-zeroes=off,if=virtio");
    expect(joined).toContain("-cdrom /c/a.iso");
    expect(joined).toContain("-vnc 127.0.0.1:5");
    expect(joined).toContain("-smp cpus=2,sockets=2");
    expect(args.filter((a) => a === "-m")).toHaveLength(1);
    expect(joined).toContain("-m 1024M");
    expect(joined).toContain("-serial file:/w/out/serial-packer-b-3333.log");
    expect(joined).toContain("-qmp unix:/tmp/r/qmp.sock,server=on,wait=off");
  });
});
