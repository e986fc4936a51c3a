/**
 * Provisioning inside a real "guest": vcsim backs a VM with a container when its extraConfig has `RUN.container`
 * (govmomi's simulator/container.go: `docker run` on power-on, `docker stop` on power-off, `docker rm` on destroy).
 * The test's private dockerd (test/src/dockerd.ts) runs a busybox image with this host's dropbear, scp and libraries
 * mounted read-only, in the host's network namespace on a free loopback port (the test dockerd has no bridge), and
 * vcsim's `SET.guest.ipAddress` knob reports 127.0.0.1. vsphere-iso then connects over SSH to the container, runs
 * the shell provisioner there (its file lands in the container's file system, not the host's), shuts the "guest"
 * down through VMware Tools' API (the container stops) and leaves the VM; destroying the artifact removes the
 * container. This is vcsim's container support, not a VMware guest: no VMware Tools, no boot, no real hardware.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerDaemon } from "../../test/src/dockerd.js";
import { freePort } from "../../test/src/mod.js";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext } from "./job_harness.js";
import { useVcsim } from "./vsphere_harness.js";

const run = promisify(execFile);
const IMAGE = "kiln-vcsim-guest:latest";
const PASSWORD = "kiln-container-pw";

let docker: DockerDaemon;
let keys: string;
const signal = new AbortController().signal;

beforeAll(async () => {
  docker = await DockerDaemon.start();
  await docker.importBusyboxImage(IMAGE);
  keys = await mkdtemp(path.join(tmpdir(), "kiln-vcsim-guest-"));
  // The guest's host key and root's authorized key (dropbear checks ~/.ssh's owner and mode).
  await mkdir(path.join(keys, "dropbear"));
  await run("dropbearkey", ["-t", "ed25519", "-f", path.join(keys, "dropbear", "dropbear_ed25519_host_key")]);
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(keys, "id_ed25519")]);
  await mkdir(path.join(keys, "ssh"), { mode: 0o700 });
  await run("cp", [path.join(keys, "id_ed25519.pub"), path.join(keys, "ssh", "authorized_keys")]);
  await chmod(path.join(keys, "ssh", "authorized_keys"), 0o600);
}, 300_000);

afterAll(async () => {
  // dockerd bind-mounts the host network namespace under its exec root for --network=host containers and leaves it
  // there on exit, which would keep its directory from being removed.
  if (docker !== undefined) await run("umount", ["--lazy", path.join(docker.dir, "exec", "netns", "default")]).catch(() => undefined);
  await docker?.stop();
  if (keys !== undefined) await rm(keys, { recursive: true, force: true });
}, 120_000);

// vcsim runs `docker` (the CLI) against the engine named in its environment, and its DMI helper image. Registered
// after the dockerd setup above, so vcsim starts after dockerd and stops before it.
const vc = useVcsim({ password: PASSWORD, env: () => ({ DOCKER_HOST: docker.host, VCSIM_BUSYBOX: IMAGE }) });

/** `docker run` arguments after vcsim's own (`-d --name ... -v <dmi volume>`): joined with spaces into a shell line. */
function guestContainer(port: number): string[] {
  const ro = (p: string, at = p): string[] => ["-v", `${p}:${at}:ro`];
  return [
    "--network=host",
    // vcsim mounts a DMI volume at /sys/class/dmi/id, which this host's read-only sysfs may lack.
    "--tmpfs=/sys/class",
    ...ro("/usr/sbin/dropbear"),
    ...ro("/usr/bin/scp"),
    ...ro("/lib/x86_64-linux-gnu"),
    ...ro("/lib64"),
    ...ro(path.join(keys, "dropbear"), "/etc/dropbear"),
    ...ro(path.join(keys, "ssh"), "/root/.ssh"),
    IMAGE,
    "/usr/sbin/dropbear",
    "-F",
    "-E",
    "-p",
    `127.0.0.1:${port}`,
  ];
}

describe("vsphere-iso provisions a vcsim container-backed VM", () => {
  it("runs the shell provisioner inside the container, and destroying the artifact removes it", async () => {
    for (const tool of ["/usr/sbin/dropbear", "/usr/bin/dropbearkey", "/usr/bin/scp", "/usr/bin/ssh-keygen"]) {
      expect(existsSync(tool), `${tool} is missing: install the Debian packages dropbear-bin and openssh-client`).toBe(true);
    }
    const cli = await run("sh", ["-c", "command -v docker"]).catch(() => undefined);
    expect(cli, "vcsim runs the docker CLI, which is missing: install the Debian package docker.io").toBeDefined();
    const port = await freePort();
    const name = `kiln-container-${process.pid}`;
    const ctx = recordingContext(await vc.dirs.make());
    const template = {
      builders: [
        {
          type: "vsphere-iso",
          ...vc.connection(),
          vm_name: name,
          host: "DC0_H0",
          communicator: "ssh",
          ssh_port: port,
          ssh_username: "root",
          ssh_private_key_file: path.join(keys, "id_ed25519"),
          ssh_timeout: "60s",
          configuration_parameters: { "RUN.container": JSON.stringify(guestContainer(port)), "SET.guest.ipAddress": "127.0.0.1" },
          ip_settle_timeout: "100ms",
          shutdown_timeout: "60s",
        },
      ],
      provisioners: [{ type: "shell", inline: ["echo provisioned > /root/proof", "cat /root/proof", "test -d /usr/share/doc && echo host file system || echo guest file system"] }],
    };
    const outcome = await runJob(planTemplateJob(template, "vsphere-iso"), ctx);
    expect(outcome.state, `${outcome.failure?.message}\n${vc.sim.log}`).toBe("succeeded");
    expect(ctx.lines()).toEqual(expect.arrayContaining(["provisioned", "guest file system"]));
    expect(existsSync("/root/proof")).toBe(false); // written in the container, not on this host

    // The container is the guest: stopped with the VM, the file in its file system.
    const containers = await docker.docker.listContainers({ all: true });
    const guest = containers.find((c) => c.Names.some((n) => n.startsWith(`/vcsim-${name}-`)));
    expect(guest?.State).toBe("exited");
    const archive = await docker.docker.getContainer(guest?.Id ?? "").getArchive({ path: "/root/proof" });
    const chunks: Buffer[] = [];
    for await (const chunk of archive) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString("latin1")).toContain("provisioned\n");

    // Destroying the artifact (the VM) removes the container.
    const vm = (await vc.client.descendants(vc.client.content.rootFolder, "VirtualMachine", signal)).find((v) => v.name === name);
    expect(vm).toBeDefined();
    await vc.client.runTask("Destroy_Task", vm?.ref as NonNullable<typeof vm>["ref"], {}, "destroying", signal);
    expect((await docker.docker.listContainers({ all: true })).filter((c) => c.Names.some((n) => n.startsWith(`/vcsim-${name}-`)))).toEqual([]);
  }, 240_000);
});
