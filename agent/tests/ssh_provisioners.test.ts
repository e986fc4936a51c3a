import { existsSync } from "node:fs";
import { chmod, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SshServer } from "../../test/src/mod.js";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, useSshTestResources } from "./job_harness.js";

const { dirs, startSshServer } = useSshTestResources();

function sshTemplate(s: SshServer, provisioners: Record<string, unknown>[], builder: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    builders: [{ type: "null", name: "n", ssh_host: s.host, ssh_port: s.port, ssh_username: s.username, ssh_password: s.password, ...builder }],
    provisioners,
  };
}

const unique = (): string => `/tmp/kiln-prov-${process.pid}-${Math.random().toString(36).slice(2)}`;

describe("shell provisioner over SSH", () => {
  it("runs inline lines with the shebang and environment, streaming output, and removes the remote script", async () => {
    const server = await startSshServer();
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const remote = `${unique()}.sh`;
    const job = planTemplateJob(
      sshTemplate(server, [
        {
          type: "shell",
          remote_path: remote,
          environment_vars: ["GREETING=hello 'world'", "EMPTY="],
          env: { FROM_MAP: "map" },
          inline: ["echo \"$GREETING\" $FROM_MAP [$EMPTY]", "echo to-stderr >&2", "echo $PACKER_BUILD_NAME $PACKER_BUILDER_TYPE", "echo $0", "whoami"],
        },
        { type: "shell", inline: ["test -e " + remote + " && echo still-there || echo removed"] },
      ]),
      "n",
    );
    const outcome = await runJob(job, ctx);
    expect(outcome.failure?.message).toBeUndefined();
    expect(ctx.logs).toContainEqual({ level: "message", text: "hello 'world' map []" });
    expect(ctx.logs).toContainEqual({ level: "error", text: "to-stderr" });
    expect(ctx.lines()).toContain("n null");
    expect(ctx.lines()).toContain(remote);
    expect(ctx.lines()).toContain("kilntest");
    expect(ctx.lines()).toContain("removed");
    expect(ctx.lines()).toContain("Provisioning with shell script: inline script");
  });

  it("stops at a failing inline line (sh -e) with Packer's exit-status message; valid_exit_codes allows it", async () => {
    const server = await startSshServer();
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const outcome = await runJob(planTemplateJob(sshTemplate(server, [{ type: "shell", inline: ["echo before", "exit 3", "echo after"] }]), "n"), ctx);
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toBe("Script exited with non-zero exit status: 3.Allowed exit codes are: [0]");
    expect(ctx.lines()).toContain("before");
    expect(ctx.lines()).not.toContain("after");
    const ctx2 = recordingContext(dir);
    const ok = await runJob(planTemplateJob(sshTemplate(server, [{ type: "shell", inline: ["exit 3"], valid_exit_codes: [0, 3] }]), "n"), ctx2);
    expect(ok.state).toBe("succeeded");
  });

  it("uploads and runs scripts in order with execute_command", async () => {
    const server = await startSshServer();
    const dir = await dirs.make();
    await writeFile(path.join(dir, "one.sh"), "#!/bin/sh\necho one $A\n");
    await writeFile(path.join(dir, "two.sh"), "#!/bin/sh\necho two $A $(basename $0)\nexit 0\n");
    const ctx = recordingContext(dir);
    const job = planTemplateJob(
      sshTemplate(server, [
        { type: "shell", scripts: ["one.sh", "two.sh"], environment_vars: ["A=x"], remote_file: "kiln_test_script.sh" },
        { type: "shell", script: "one.sh", execute_command: "echo via-execute-command; {{.Vars}} sh {{.Path}}", environment_vars: ["A=y"] },
      ]),
      "n",
    );
    const outcome = await runJob(job, ctx);
    expect(outcome.failure?.message).toBeUndefined();
    const out = ctx.logs.filter((l) => l.level === "message").map((l) => l.text);
    expect(out).toEqual(["one x", "two x kiln_test_script.sh", "via-execute-command", "one y"]);
    expect(ctx.lines()).toContain("Provisioning with shell script: one.sh");
  });

  it("leaves the script at remote_path, executable, with skip_clean", async () => {
    const server = await startSshServer();
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const remote = `${unique()}.sh`;
    const job = planTemplateJob(
      sshTemplate(server, [
        { type: "shell", inline: ["echo kept"], remote_path: remote, skip_clean: true, execute_command: "echo cmd {{.Path}}; {{.Vars}} {{.Path}}" },
        { type: "shell", inline: [`stat -c %a ${remote}`, `cat ${remote}`, `rm -f ${remote}`] },
      ]),
      "n",
    );
    const outcome = await runJob(job, ctx);
    expect(outcome.failure?.message).toBeUndefined();
    const out = ctx.logs.filter((l) => l.level === "message").map((l) => l.text);
    expect(out).toEqual([`cmd ${remote}`, "kept", "755", "#!/bin/sh -e", "echo kept"]);
  });

  it("a dropped connection fails with Packer's hint; with expect_disconnect the next provisioner reconnects after the reboot", async () => {
    for (const expectDisconnect of [false, true]) {
      const server = await startSshServer();
      const s = server;
      const dir = await dirs.make();
      let rebooted: Promise<void> = Promise.resolve();
      const ctx = recordingContext(dir, {
        onLog: (l) => {
          if (l.text !== "rebooting") return;
          rebooted = s.crash().then(async () => {
            await new Promise((r) => setTimeout(r, 700));
            await s.restart();
          });
        },
      });
      const job = planTemplateJob(
        sshTemplate(s, [
          { type: "shell", inline: ["echo rebooting", "sleep 30"], expect_disconnect: expectDisconnect },
          { type: "shell", inline: ["echo back after reboot"] },
        ]),
        "n",
      );
      const started = Date.now();
      const outcome = await runJob(job, ctx);
      expect(Date.now() - started).toBeLessThan(10_000);
      await rebooted;
      if (expectDisconnect) {
        expect(outcome.failure?.message).toBeUndefined();
        expect(ctx.lines()).toContain("back after reboot");
      } else {
        expect(outcome.failure?.message).toBe(
          "Script disconnected unexpectedly. If you expected your script to disconnect, i.e. from a restart, you can try " +
            'adding `"expect_disconnect": true` or `"valid_exit_codes": [0, 2300218]` to the shell provisioner parameters.',
        );
      }
    }
  }, 30_000);

  it("cancels a running remote command promptly", async () => {
    const server = await startSshServer();
    const dir = await dirs.make();
    let cancel = (): void => undefined;
    const ctx = recordingContext(dir, {
      onLog: (l) => {
        if (l.text === "sleeping") cancel();
      },
    });
    cancel = () => ctx.cancel();
    const started = Date.now();
    const remotePath = `${unique()}.sh`;
    const outcome = await runJob(planTemplateJob(sshTemplate(server, [{ type: "shell", inline: ["echo sleeping", "sleep 30"], remote_path: remotePath }]), "n"), ctx);
    expect(outcome.state).toBe("cancelled");
    expect(Date.now() - started).toBeLessThan(5000);
    // The cancelled script does not stay on the machine (the test's sshd runs on this host).
    expect(existsSync(remotePath)).toBe(false);
  });

  it("reports a missing script as Packer does, before connecting", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const tpl = { builders: [{ type: "null", name: "n", ssh_host: "127.0.0.1", ssh_username: "u", ssh_password: "p" }], provisioners: [{ type: "shell", script: "nope.sh" }] };
    const outcome = await runJob(planTemplateJob(tpl, "n"), ctx);
    expect(outcome.failure?.message).toMatch(/Bad script 'nope.sh': stat nope.sh: no such file or directory/);
  });
});

describe("file provisioner over SSH", () => {
  it("uploads a file and content, then downloads them back (round trip)", async () => {
    const server = await startSshServer();
    const dir = await dirs.make();
    const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) & 0xff));
    await writeFile(path.join(dir, "payload.bin"), data);
    await chmod(path.join(dir, "payload.bin"), 0o640);
    const remote = unique();
    const ctx = recordingContext(dir);
    const job = planTemplateJob(
      sshTemplate(server, [
        { type: "file", source: "payload.bin", destination: `${remote}.bin` },
        { type: "file", content: "some content\n", destination: `${remote}.txt` },
        { type: "shell", inline: [`stat -c %a ${remote}.bin`, `cat ${remote}.txt`] },
        { type: "file", direction: "download", source: `${remote}.bin`, destination: "back/payload.bin" },
        { type: "file", direction: "download", sources: [`${remote}.txt`], destination: "back/" },
        { type: "shell", inline: [`rm -f ${remote}.bin ${remote}.txt`] },
      ]),
      "n",
    );
    const outcome = await runJob(job, ctx);
    expect(outcome.failure?.message).toBeUndefined();
    expect(ctx.lines()).toContain("640");
    expect(ctx.lines()).toContain("some content");
    expect((await readFile(path.join(dir, "back/payload.bin"))).equals(data)).toBe(true);
    expect(await readFile(path.join(dir, "back", path.basename(`${remote}.txt`)), "utf8")).toBe("some content\n");
    expect(ctx.lines()).toContain(`Uploading payload.bin => ${remote}.bin`);
  });
});

describe("file provisioner: directories", () => {
  it.each(["scp", "sftp"])("uploads a tree of 1,000 small files with Packer's trailing-slash rule and downloads it back (ssh_file_transfer_method %s)", async (method) => {
    const server = await startSshServer();
    const dir = await dirs.make();
    const { mkdir } = await import("node:fs/promises");
    for (let d = 0; d < 10; d++) {
      await mkdir(path.join(dir, "tree", `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) await writeFile(path.join(dir, "tree", `d${d}`, `f${f}.txt`), `${d}/${f}\n`);
    }
    await chmod(path.join(dir, "tree", "d0", "f0.txt"), 0o755);
    const remote = unique();
    const ctx = recordingContext(dir);
    const job = planTemplateJob(
      sshTemplate(
        server,
        [
          { type: "file", source: "tree", destination: `${remote}/a` },
          { type: "file", source: "tree/", destination: `${remote}/b` },
          { type: "shell", inline: [`find ${remote}/a -type f | wc -l`, `find ${remote}/b -type f | wc -l`, `cat ${remote}/a/tree/d3/f42.txt ${remote}/b/d9/f99.txt`] },
          // A source ending in a slash downloads the directory (scp -r / sftp walk): it lands in the destination.
          { type: "file", direction: "download", source: `${remote}/a/tree/`, destination: "down/" },
          { type: "shell", inline: [`rm -rf ${remote}`] },
        ],
        { ssh_file_transfer_method: method },
      ),
      "n",
    );
    const outcome = await runJob(job, ctx);
    expect(outcome.failure?.message).toBeUndefined();
    const out = ctx.logs.filter((l) => l.level === "message").map((l) => l.text.trim());
    expect(out).toEqual(["1000", "1000", "3/42", "9/99"]);
    const { readdir, stat } = await import("node:fs/promises");
    const downloaded = await readdir(path.join(dir, "down", "tree"), { recursive: true });
    expect(downloaded.filter((f) => f.endsWith(".txt"))).toHaveLength(1000);
    expect(await readFile(path.join(dir, "down", "tree", "d7", "f13.txt"), "utf8")).toBe("7/13\n");
    expect((await stat(path.join(dir, "down", "tree", "d0", "f0.txt"))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(dir, "down", "tree", "d0", "f1.txt"))).mode & 0o777).toBe(0o644);
  }, 90_000);

  it("a download source without the trailing slash that is a directory says to add it", async () => {
    const server = await startSshServer({ kind: "dropbear" });
    const dir = await dirs.make();
    const remote = unique();
    const ctx = recordingContext(dir);
    const job = planTemplateJob(
      sshTemplate(server, [
        { type: "shell", inline: [`mkdir -p ${remote}/x`, `echo hi > ${remote}/x/f`] },
        { type: "file", direction: "download", source: `${remote}/x`, destination: "down/" },
      ]),
      "n",
    );
    const outcome = await runJob(job, ctx);
    await runJob(planTemplateJob(sshTemplate(server, [{ type: "shell", inline: [`rm -rf ${remote}`] }]), "n"), recordingContext(dir));
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toMatch(/not a regular file: to download a directory, end the source with a slash/);
  });
});

describe("end to end: null builder + shell + file over key auth", () => {
  it("runs a build against the test sshd", async () => {
    const server = await startSshServer();
    const dir = await dirs.make();
    await writeFile(path.join(dir, "motd"), "built by kiln\n");
    const remote = unique();
    const ctx = recordingContext(dir);
    const tpl = {
      builders: [{ type: "null", name: "host", ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_private_key_file: server.clientKeyFile }],
      provisioners: [
        { type: "file", source: "motd", destination: remote },
        { type: "shell", inline: [`cat ${remote}`, `echo "$PACKER_BUILD_NAME" > ${remote}.name`, `rm -f ${remote}`] },
        { type: "file", direction: "download", source: `${remote}.name`, destination: "name.txt" },
        { type: "shell", inline: [`rm -f ${remote}.name`] },
      ],
    };
    const outcome = await runJob(planTemplateJob(tpl, "host"), ctx);
    expect(outcome.failure?.message).toBeUndefined();
    expect(outcome.state).toBe("succeeded");
    expect(ctx.lines()).toContain("built by kiln");
    expect(await readFile(path.join(dir, "name.txt"), "utf8")).toBe("host\n");
    expect(outcome.artifacts.map((a) => a.id)).toEqual(["Null"]);
  });
});
