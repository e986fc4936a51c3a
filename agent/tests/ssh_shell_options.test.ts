import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chown, mkdir, readdir, rm } from "node:fs/promises";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { render, validatePluginConfig, type ShellConfig } from "../../core/src/mod.js";
import { TEST_USER, type SshServer } from "../../test/src/mod.js";
import { SshCommunicator } from "../src/communicators/ssh.js";
import { runShell } from "../src/provisioners/shell.js";
import type { PluginContext } from "../src/plugin_api.js";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, useSshTestResources } from "./job_harness.js";

const { dirs, startSshServer } = useSshTestResources();
const remoteDirs: string[] = [];
afterEach(async () => {
  await Promise.all(remoteDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function sshTemplate(s: SshServer, provisioners: Record<string, unknown>[]): Record<string, unknown> {
  return {
    builders: [{ type: "null", name: "n", ssh_host: s.host, ssh_port: s.port, ssh_username: s.username, ssh_password: s.password }],
    provisioners,
  };
}

/** A directory under /tmp for the test user's remote files (the servers run on this machine). */
async function remoteDir(create: boolean): Promise<string> {
  const dir = `/tmp/kiln-shell-${process.pid}-${randomUUID().slice(0, 8)}`;
  remoteDirs.push(dir);
  if (create) await makeUserDir(dir);
  return dir;
}

async function makeUserDir(dir: string): Promise<void> {
  const { stdout } = await promisify(execFile)("id", ["-u", TEST_USER]);
  await mkdir(dir, { recursive: true });
  await chown(dir, Number(stdout.trim()), 0);
}

describe("shell provisioner: start_retry_timeout", () => {
  it("retries the upload until the remote folder exists, then runs the script", async () => {
    const server = await startSshServer();
    const dir = await remoteDir(false);
    // The machine becomes usable a second after the provisioner started: the folder appears (a first-boot script).
    let appear: Promise<void> = Promise.resolve();
    const ctx = recordingContext(await dirs.make(), {
      onLog: (l) => {
        if (l.text.startsWith("Provisioning with shell script")) appear = new Promise((r) => setTimeout(r, 1000)).then(() => makeUserDir(dir));
      },
    });
    const outcome = await runJob(
      planTemplateJob(sshTemplate(server, [{ type: "shell", remote_folder: dir, start_retry_timeout: "30s", inline: ["echo ran-after-retry"] }]), "n"),
      ctx,
    );
    await appear;
    expect(outcome.failure?.message).toBeUndefined();
    expect(ctx.lines()).toContain("ran-after-retry");
    expect(ctx.lines().some((l) => /^Retrying to start the script \(attempt 1 failed: Error uploading script: /.test(l))).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it("gives up after start_retry_timeout with the last error", async () => {
    const server = await startSshServer({ kind: "dropbear" });
    const ctx = recordingContext(await dirs.make());
    const dir = await remoteDir(false);
    const started = Date.now();
    const outcome = await runJob(planTemplateJob(sshTemplate(server, [{ type: "shell", remote_folder: dir, start_retry_timeout: "1s", inline: ["true"] }]), "n"), ctx);
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toMatch(/^Error uploading script: .* \(still failing after \d+ attempts within start_retry_timeout 1s\)$/);
    expect(Date.now() - started).toBeLessThan(6000);
  });
});

describe("shell provisioner: use_env_var_file", () => {
  it.each(["openssh", "dropbear"] as const)("uploads the variables as an export file the default execute_command sources (%s), then removes it", async (kind) => {
    const server = await startSshServer({ kind });
    const ctx = recordingContext(await dirs.make());
    const dir = await remoteDir(true);
    const outcome = await runJob(
      planTemplateJob(
        sshTemplate(server, [
          { type: "shell", remote_folder: dir, use_env_var_file: true, environment_vars: ["GREETING=it's me", "B=2"], inline: ['echo "$GREETING" $B $PACKER_BUILD_NAME'] },
          {
            type: "shell",
            remote_folder: dir,
            use_env_var_file: true,
            environment_vars: ["A=1"],
            execute_command: "cat {{.EnvVarFile}}; . {{.EnvVarFile}} && sh {{.Path}}",
            inline: ["echo A is $A"],
          },
        ]),
        "n",
      ),
      ctx,
    );
    expect(outcome.failure?.message).toBeUndefined();
    const out = ctx.logs.filter((l) => l.level === "message").map((l) => l.text);
    expect(out).toEqual(["it's me 2 n", "export A='1'", "export PACKER_BUILDER_TYPE='null'", "export PACKER_BUILD_NAME='n'", "A is 1"]);
    // The script and the variable file are gone.
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("shell provisioner: PACKER_HTTP_ADDR", () => {
  it("is set when the builder provides an HTTP address and left out when it does not", async () => {
    const server = await startSshServer();
    const comm = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password },
      { signal: new AbortController().signal },
    );
    try {
      const config = validatePluginConfig("provisioner", "shell", { inline: ['echo "addr=${PACKER_HTTP_ADDR-unset}"'] }).compiled as ShellConfig;
      const engine = { userVariables: {}, packerVersion: "1.6.6", statics: { initTimeUnix: 0, initTimeMs: 0, uuid: randomUUID() } };
      for (const [addr, want] of [
        ["10.0.2.2:8123", "addr=10.0.2.2:8123"],
        ["ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER", "addr=unset"],
      ] as const) {
        const lines: string[] = [];
        const ctx: PluginContext = {
          signal: new AbortController().signal,
          workDir: await dirs.make(),
          build: { name: "b", builderType: "qemu", runUuid: randomUUID(), jobId: "j" },
          generatedData: { PackerHTTPAddr: addr },
          communicator: comm,
          log: (level, text) => {
            if (level === "message") lines.push(text);
          },
          heartbeat: () => undefined,
          render: (text, data) => render(text, { ...engine, data }),
        };
        await runShell(config, ctx);
        expect(lines).toEqual([want]);
      }
    } finally {
      comm.close();
    }
  });
});
