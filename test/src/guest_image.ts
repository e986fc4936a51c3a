/**
 * A tiny bootable Linux guest for VM tests, made from this host's Debian packages and cached between runs:
 *
 * - the kernel `/boot/vmlinuz-*` (linux-image-amd64) and its virtio modules, loaded in dependency order (read from
 *   modules.dep) so `eth0` and `/dev/vda` exist;
 * - an initramfs (cpio written here, no `cpio` needed) with busybox-static as init and shell, dropbear with
 *   pre-generated RSA and ed25519 host keys (key generation under TCG takes minutes), `scp` and `sftp-server`
 *   from OpenSSH, root's password {@link GUEST_PASSWORD} and an authorized ed25519 key;
 * - a static address for QEMU's user network: 10.0.2.15/24 via 10.0.2.2, dropbear on port 22;
 * - two ISOs (isolinux): `iso` stops at a `boot:` prompt until something is typed (for `boot_command` tests:
 *   type `live<enter>`, with extra kernel arguments after the label), `autoIso` boots `live` after 1 s.
 *
 * Under TCG it answers SSH about 10 s after QEMU starts. `poweroff` powers the VM off (busybox init handles it).
 * A missing package makes {@link guestImage} throw naming the Debian package to install.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Bump when the image's content changes, so cached images are rebuilt. */
const GUEST_IMAGE_VERSION = 1;

export const GUEST_USER = "root";
export const GUEST_PASSWORD = "kiln-guest";
/** `openssl passwd -6 -salt kilnguest kiln-guest`: the password hash in the guest's /etc/shadow. */
const GUEST_PASSWORD_HASH = "$6$kilnguest$gAlymLk2Uzsp50f/ixqQXIFeVNV4z36FN7mpXehidxv5dwDmqmQWgkUnAnckReHN5FOTPe40ylMrXbK0.AV8l0";
/** The guest's address on QEMU's user network, and the host as the guest sees it. */
export const GUEST_IP = "10.0.2.15";
export const GUEST_GATEWAY = "10.0.2.2";
/** The kernel arguments the ISOs boot with (console on the first serial port). */
export const GUEST_CMDLINE = "console=ttyS0,115200 quiet";

export interface GuestImage {
  /** The cache directory holding everything below. */
  readonly dir: string;
  readonly kernel: string;
  readonly initrd: string;
  /** Waits at isolinux's `boot:` prompt: type `live<enter>` (optionally `live extra.args<enter>`). */
  readonly iso: string;
  /** Boots `live` by itself after 1 s. */
  readonly autoIso: string;
  readonly username: string;
  readonly password: string;
  /** An ed25519 private key authorized for root. */
  readonly privateKeyFile: string;
  readonly kernelVersion: string;
}

/** A host file the image needs, and the Debian package that provides it. */
const NEEDS: readonly (readonly [string, string])[] = [
  ["/bin/busybox", "busybox-static"],
  ["/usr/sbin/dropbear", "dropbear-bin"],
  ["/usr/bin/dropbearkey", "dropbear-bin"],
  ["/usr/bin/scp", "openssh-client"],
  ["/usr/bin/ssh-keygen", "openssh-client"],
  ["/usr/lib/openssh/sftp-server", "openssh-sftp-server"],
  ["/usr/bin/xorriso", "xorriso"],
  ["/usr/lib/ISOLINUX/isolinux.bin", "isolinux"],
  ["/usr/lib/syslinux/modules/bios/ldlinux.c32", "syslinux-common"],
];

/** The modules the guest needs; their dependencies come from modules.dep. */
const WANTED_MODULES = ["virtio_pci", "virtio_net", "virtio_blk"];

let building: Promise<GuestImage> | undefined;

/**
 * The guest image, built on first use and cached under `$KILN_TEST_CACHE` (default `<tmpdir>/kiln-test-cache`),
 * keyed by kernel version, the package binaries and {@link GUEST_IMAGE_VERSION}. Safe to call concurrently, from
 * several test processes too (each builds in a temp dir and renames atomically).
 * @throws Error naming the Debian package to install when something is missing
 */
export function guestImage(): Promise<GuestImage> {
  building ??= buildCached().catch((err: unknown) => {
    building = undefined;
    throw err;
  });
  return building;
}

async function buildCached(): Promise<GuestImage> {
  const missing = NEEDS.filter(([file]) => !existsSync(file));
  const kernels = (await readdir("/boot").catch(() => [])).filter((f) => f.startsWith("vmlinuz-")).sort();
  const kernelFile = kernels[kernels.length - 1];
  if (kernelFile === undefined) missing.push(["/boot/vmlinuz-*", "linux-image-amd64"]);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map(([, p]) => p))];
    throw new Error(`the test guest image needs ${missing.map(([f]) => f).join(", ")}: apt-get install ${pkgs.join(" ")} (deploy/install.sh installs them)`);
  }
  const kernelVersion = (kernelFile as string).slice("vmlinuz-".length);
  const fingerprint = createHash("sha256");
  fingerprint.update(`v${GUEST_IMAGE_VERSION} ${kernelVersion}`);
  for (const [file] of NEEDS) {
    const st = await stat(file);
    fingerprint.update(`${file}:${st.size}:${st.mtimeMs}`);
  }
  const root = process.env.KILN_TEST_CACHE ?? path.join(tmpdir(), "kiln-test-cache");
  const dir = path.join(root, `guest-${fingerprint.digest("hex").slice(0, 16)}`);
  const image = describe(dir, kernelVersion);
  if (existsSync(path.join(dir, "complete"))) return image;
  await mkdir(root, { recursive: true });
  const work = await mkdtemp(path.join(root, "building-"));
  try {
    await build(work, kernelVersion);
    await writeFile(path.join(work, "complete"), new Date().toISOString());
    await rename(work, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another process finished first: use its image.
      if (!existsSync(path.join(dir, "complete"))) throw err;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return image;
}

function describe(dir: string, kernelVersion: string): GuestImage {
  return {
    dir,
    kernel: path.join(dir, "vmlinuz"),
    initrd: path.join(dir, "initrd"),
    iso: path.join(dir, "prompt.iso"),
    autoIso: path.join(dir, "auto.iso"),
    username: GUEST_USER,
    password: GUEST_PASSWORD,
    privateKeyFile: path.join(dir, "id_ed25519"),
    kernelVersion,
  };
}

async function build(work: string, kernelVersion: string): Promise<void> {
  const cpio = new CpioWriter();
  for (const d of ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "usr/lib", "usr/lib/openssh", "usr/libexec", "lib", "lib64",
    "lib/x86_64-linux-gnu", "lib/modules", "etc", "etc/dropbear", "root", "proc", "sys", "dev", "run", "var", "var/run", "var/log", "mnt"]) {
    cpio.dir(d, 0o755);
  }
  cpio.dir("root/.ssh", 0o700);
  cpio.dir("tmp", 0o1777);

  cpio.file("bin/busybox", await readFile("/bin/busybox"), 0o755);
  const { stdout: applets } = await run("/bin/busybox", ["--list-full"]);
  for (const applet of applets.split("\n").filter((a) => a !== "" && a !== "bin/busybox")) {
    cpio.symlink(applet, "/bin/busybox");
  }
  cpio.symlink("init", "/bin/busybox");

  // Dynamically linked programs and their libraries (ldd), at the paths the dynamic loader looks in.
  const programs: [string, string][] = [
    ["/usr/sbin/dropbear", "usr/sbin/dropbear"],
    ["/usr/bin/scp", "usr/bin/scp"],
    ["/usr/lib/openssh/sftp-server", "usr/lib/openssh/sftp-server"],
  ];
  const libs = new Map<string, string>();
  for (const [host, guest] of programs) {
    cpio.file(guest, await readFile(host), 0o755);
    const { stdout } = await run("ldd", [host]);
    for (const m of stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) {
      const lib = m[1] as string;
      const name = path.basename(lib);
      libs.set(lib.includes("ld-linux") ? `lib64/${name}` : `lib/x86_64-linux-gnu/${name}`, lib);
    }
  }
  for (const [guest, host] of libs) cpio.file(guest, await readFile(await realpath(host)), 0o755);
  cpio.symlink("usr/libexec/sftp-server", "/usr/lib/openssh/sftp-server");

  // Kernel modules, dependencies first.
  const moduleDir = path.join("/lib/modules", kernelVersion);
  const order = await moduleOrder(moduleDir, WANTED_MODULES);
  for (const rel of order) cpio.file(`lib/modules/${path.basename(rel)}`, await readFile(path.join(moduleDir, rel)), 0o644);
  const insmods = order.map((rel) => `insmod /lib/modules/${path.basename(rel)}`).join("\n");

  // Keys, made on the host (fast here, minutes under TCG).
  for (const type of ["rsa", "ed25519"]) {
    const key = path.join(work, `dropbear_${type}_host_key`);
    await run("/usr/bin/dropbearkey", ["-t", type, ...(type === "rsa" ? ["-s", "2048"] : []), "-f", key]);
    cpio.file(`etc/dropbear/dropbear_${type}_host_key`, await readFile(key), 0o600);
    await rm(key);
  }
  const privateKey = path.join(work, "id_ed25519");
  await run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kiln-test-guest", "-f", privateKey]);
  cpio.file("root/.ssh/authorized_keys", await readFile(`${privateKey}.pub`), 0o600);

  cpio.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644);
  cpio.file("etc/shadow", `root:${GUEST_PASSWORD_HASH}:19000:0:99999:7:::\n`, 0o600);
  cpio.file("etc/group", "root:x:0:\n", 0o644);
  cpio.file("etc/shells", "/bin/sh\n", 0o644);
  cpio.file("etc/hostname", "kiln-guest\n", 0o644);
  cpio.file("etc/inittab", "::sysinit:/etc/rcS\n::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/sync\n", 0o644);
  cpio.file(
    "etc/rcS",
    [
      "#!/bin/sh",
      "export PATH=/usr/sbin:/usr/bin:/sbin:/bin",
      "mount -t proc proc /proc",
      "mount -t sysfs sysfs /sys",
      "mount -t devtmpfs devtmpfs /dev",
      "mkdir -p /dev/pts && mount -t devpts devpts /dev/pts",
      "hostname kiln-guest",
      insmods,
      "ip link set lo up",
      `ip addr add ${GUEST_IP}/24 dev eth0`,
      "ip link set eth0 up",
      `ip route add default via ${GUEST_GATEWAY}`,
      "dropbear -r /etc/dropbear/dropbear_rsa_host_key -r /etc/dropbear/dropbear_ed25519_host_key -p 22 -P /var/run/dropbear.pid",
      'echo "kiln-guest: up, cmdline: $(cat /proc/cmdline)" > /dev/console',
      "",
    ].join("\n"),
    0o755,
  );

  await copyFile(`/boot/vmlinuz-${kernelVersion}`, path.join(work, "vmlinuz"));
  await writeFile(path.join(work, "initrd"), cpio.finish());
  await rename(privateKey, path.join(work, "id_ed25519"));
  await chmod(path.join(work, "id_ed25519"), 0o600);
  await rm(`${privateKey}.pub`, { force: true });

  await makeIso(work, "prompt.iso", 0);
  await makeIso(work, "auto.iso", 10);
}

/** Builds an isolinux ISO with the kernel and initrd; `timeout` in tenths of a second (0: wait at the prompt). */
async function makeIso(work: string, name: string, timeout: number): Promise<void> {
  const tree = await mkdtemp(path.join(work, "iso-"));
  await mkdir(path.join(tree, "isolinux"));
  await copyFile("/usr/lib/ISOLINUX/isolinux.bin", path.join(tree, "isolinux", "isolinux.bin"));
  await copyFile("/usr/lib/syslinux/modules/bios/ldlinux.c32", path.join(tree, "isolinux", "ldlinux.c32"));
  await copyFile(path.join(work, "vmlinuz"), path.join(tree, "vmlinuz"));
  await copyFile(path.join(work, "initrd"), path.join(tree, "initrd"));
  await writeFile(
    path.join(tree, "isolinux", "isolinux.cfg"),
    ["SERIAL 0 115200", "PROMPT 1", `TIMEOUT ${timeout}`, "DEFAULT live", "SAY kiln-guest: type live and press enter", "LABEL live",
      "  KERNEL /vmlinuz", `  APPEND initrd=/initrd ${GUEST_CMDLINE}`, ""].join("\n"),
  );
  await run("/usr/bin/xorriso", ["-as", "mkisofs", "-quiet", "-o", path.join(work, name), "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
    "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", "-V", "KILNGUEST", tree]);
  await rm(tree, { recursive: true, force: true });
}

/** The module files (relative to moduleDir) for `wanted`, each after its dependencies. */
async function moduleOrder(moduleDir: string, wanted: readonly string[]): Promise<string[]> {
  const deps = new Map<string, string[]>();
  for (const line of (await readFile(path.join(moduleDir, "modules.dep"), "utf8")).split("\n")) {
    const [mod, rest] = line.split(":");
    if (mod === undefined || rest === undefined) continue;
    deps.set(mod, rest.trim() === "" ? [] : rest.trim().split(/\s+/));
  }
  const byName = new Map([...deps.keys()].map((k) => [path.basename(k).replace(/\.ko(\.\w+)?$/, "").replace(/-/g, "_"), k]));
  const order: string[] = [];
  const visit = (mod: string): void => {
    if (order.includes(mod)) return;
    for (const d of deps.get(mod) ?? []) visit(d);
    order.push(mod);
  };
  for (const name of wanted) {
    const mod = byName.get(name);
    // Built into the kernel: nothing to load.
    if (mod !== undefined) visit(mod);
  }
  if (order.some((m) => !m.endsWith(".ko"))) throw new Error(`compressed kernel modules (${order.join(", ")}) are not supported by the test guest image`);
  return order;
}

/** A newc ("070701") cpio archive, every entry owned by root. */
class CpioWriter {
  private readonly parts: Buffer[] = [];
  private ino = 1;

  dir(name: string, mode: number): void {
    this.entry(name, 0o040000 | mode, Buffer.alloc(0));
  }
  file(name: string, data: Buffer | string, mode: number): void {
    this.entry(name, 0o100000 | mode, typeof data === "string" ? Buffer.from(data) : data);
  }
  symlink(name: string, target: string): void {
    this.entry(name, 0o120777, Buffer.from(target));
  }
  finish(): Buffer {
    this.entry("TRAILER!!!", 0, Buffer.alloc(0));
    return Buffer.concat(this.parts);
  }

  private entry(name: string, mode: number, data: Buffer): void {
    const nameBuf = Buffer.from(`${name}\0`);
    const fields = [this.ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0];
    const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, "0")).join("")}`);
    this.parts.push(header, nameBuf, pad(header.length + nameBuf.length), data, pad(data.length));
  }
}

function pad(n: number): Buffer {
  return Buffer.alloc((4 - (n % 4)) % 4);
}
