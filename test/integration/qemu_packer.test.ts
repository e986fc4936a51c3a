/**
 * One qemu template built by `kiln build` (the CLI on its embedded farm) and by `packer build` 1.6.6, side by side:
 * both boot the test guest's ISO under TCG, type the same boot_command at isolinux's prompt, fetch a file from the
 * builder's HTTP server, write to /dev/vda over SSH and shut down. The two output directories must agree: the same
 * files, the same image format and size, the same first sector.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { guestImage, runKiln, runPacker, tempDir, type GuestImage } from "../src/mod.js";

const run = promisify(execFile);

let guest: GuestImage;
beforeAll(async () => {
  guest = await guestImage();
}, 120_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

function template(iso: string): Record<string, unknown> {
  return {
    builders: [
      {
        type: "qemu",
        iso_url: iso,
        iso_checksum: "none",
        // Packer picks kvm whenever /dev/kvm exists, even when it hangs: both tools get TCG explicitly.
        accelerator: "tcg",
        disk_size: "16M",
        memory: 256,
        headless: true,
        output_directory: "out",
        vm_name: "disk.qcow2",
        http_directory: "http",
        boot_wait: "5s",
        boot_command: ["live kiln.marker={{ .Name }} kiln.http={{ .HTTPIP }}:{{ .HTTPPort }}<enter>"],
        ssh_username: guest.username,
        ssh_password: guest.password,
        ssh_timeout: "4m",
        shutdown_command: "poweroff",
      },
    ],
    provisioners: [
      {
        type: "shell",
        inline: [
          "grep -q kiln.marker=disk.qcow2 /proc/cmdline",
          'grep -q "kiln.http=$PACKER_HTTP_ADDR" /proc/cmdline',
          'wget -q -O /tmp/h "http://$PACKER_HTTP_ADDR/hello.txt"',
          "printf 'BUILT %s' \"$(cat /tmp/h)\" | dd of=/dev/vda bs=512 count=1 conv=sync 2>/dev/null",
          "sync",
        ],
      },
    ],
  };
}

async function workspace(prefix: string): Promise<string> {
  const { dir, cleanup } = await tempDir(prefix);
  cleanups.push(cleanup);
  await writeFile(path.join(dir, "t.json"), JSON.stringify(template(guest.iso), null, 2));
  await mkdir(path.join(dir, "http"));
  await writeFile(path.join(dir, "http", "hello.txt"), "over-http");
  // A stale output directory that -force replaces.
  await mkdir(path.join(dir, "out"));
  await writeFile(path.join(dir, "out", "stale"), "old");
  return dir;
}

async function describeImage(dir: string): Promise<{ files: string[]; format: string; size: number; sector: string }> {
  const disk = path.join(dir, "out", "disk.qcow2");
  const info = JSON.parse((await run("qemu-img", ["info", "--output=json", disk])).stdout) as { format: string; "virtual-size": number };
  await run("qemu-img", ["convert", "-O", "raw", disk, path.join(dir, "disk.raw")]);
  const sector = (await readFile(path.join(dir, "disk.raw"))).subarray(0, 16).toString("latin1");
  return { files: (await readdir(path.join(dir, "out"))).sort(), format: info.format, size: info["virtual-size"], sector };
}

describe("qemu: kiln build vs packer build", () => {
  it("builds the same image from the same template", async () => {
    const kilnDir = await workspace("kiln-qemu-cli-");
    const packerDir = await workspace("kiln-qemu-packer-");
    const [kiln, packer] = await Promise.all([
      runKiln(["build", "-force", "-color=false", "t.json"], { cwd: kilnDir, timeoutMs: 200_000, env: { KILN_CACHE_DIR: path.join(kilnDir, "cache") } }),
      runPacker(["build", "-force", "-color=false", "t.json"], { cwd: packerDir, timeoutMs: 200_000, env: { PACKER_CACHE_DIR: path.join(packerDir, "cache") } }),
    ]);
    expect(packer.code, `packer:\n${packer.stdout}\n${packer.stderr}`).toBe(0);
    expect(kiln.code, `kiln:\n${kiln.stdout}\n${kiln.stderr}`).toBe(0);
    expect(kiln.stdout).toContain("--> qemu: VM files in directory: out");
    expect(packer.stdout).toContain("--> qemu: VM files in directory: out");
    const [k, p] = await Promise.all([describeImage(kilnDir), describeImage(packerDir)]);
    expect(k).toEqual(p);
    expect(k).toEqual({ files: ["disk.qcow2"], format: "qcow2", size: 16 * 1024 * 1024, sector: "BUILT over-http\0" });
  }, 240_000);
});
