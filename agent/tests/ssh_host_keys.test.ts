import { createHmac, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../core/src/mod.js";
import type { SshServer } from "../../test/src/mod.js";
import { sha256Fingerprint } from "../src/communicators/host_keys.js";
import { SshCommunicator, type SshOptions } from "../src/communicators/ssh.js";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, useSshTestResources } from "./job_harness.js";

const { dirs, startSshServer } = useSshTestResources();
const comms: SshCommunicator[] = [];
afterEach(() => {
  for (const c of comms.splice(0)) c.close();
});

const signal = (): AbortSignal => new AbortController().signal;

function base(s: SshServer): SshOptions {
  return { ssh_host: s.host, ssh_port: s.port, ssh_username: s.username, ssh_password: s.password, ssh_handshake_attempts: 5 };
}

async function connect(options: SshOptions, workDir?: string): Promise<SshCommunicator> {
  const c = await SshCommunicator.connect(options, { signal: signal(), workDir });
  comms.push(c);
  return c;
}

function fingerprintOf(s: SshServer): string {
  return sha256Fingerprint(Buffer.from(s.hostKey.split(" ")[1] ?? "", "base64"));
}

/** An OpenSSH hashed known_hosts name (`ssh-keygen -H`): `|1|salt|HMAC-SHA1(salt, name)`. */
function hashedName(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
}

describe.each(["openssh", "dropbear"] as const)("SSH host-key pinning against %s", (kind) => {
  it("connects when ssh_host_key_fingerprint matches and refuses at once, with HOST_KEY_MISMATCH, when it does not", async () => {
    const server = await startSshServer({ kind });
    const ok = await connect({ ...base(server), ssh_host_key_fingerprint: fingerprintOf(server) });
    expect(await ok.start("echo pinned", { signal: signal() })).toBe(0);
    const started = Date.now();
    const wrong = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8";
    const err = await connect({ ...base(server), ssh_host_key_fingerprint: wrong }).catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ code: ErrorCode.HostKeyMismatch });
    expect((err as Error).message).toContain(`presented ${fingerprintOf(server)}, the template pins ${wrong}`);
    // Not retried like a handshake failure: a wrong key will not become right.
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("accepts the keys ssh_known_hosts_file lists for [host]:port (plain and hashed) and refuses others", async () => {
    const server = await startSshServer({ kind });
    const dir = await dirs.make();
    const name = `[${server.host}]:${server.port}`;
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    await writeFile(path.join(dir, "plain"), `# comment\n[other]:22 ${server.hostKey}\n${name},somehost ${server.hostKey} test\n`);
    await writeFile(path.join(dir, "hashed"), `${hashedName(name)} ${server.hostKey}\n`);
    await writeFile(path.join(dir, "wrong"), `${name} ${other}\n`);
    await writeFile(path.join(dir, "absent"), `[${server.host}]:1 ${server.hostKey}\n`);
    await writeFile(path.join(dir, "revoked"), `${name} ${server.hostKey}\n@revoked * ${server.hostKey}\n`);
    for (const file of ["plain", "hashed"]) {
      const c = await connect({ ...base(server), ssh_known_hosts_file: file }, dir);
      expect(await c.start("true", { signal: signal() })).toBe(0);
    }
    const fail = (file: string): Promise<Error> =>
      connect({ ...base(server), ssh_known_hosts_file: file }, dir).then(
        () => new Error("connected"),
        (e: unknown) => e as Error,
      );
    const wrong = await fail("wrong");
    expect(wrong).toMatchObject({ code: ErrorCode.HostKeyMismatch });
    expect(wrong.message).toMatch(/does not match ssh_known_hosts_file .*wrong: the server presented SHA256:.*, the file lists SHA256:/);
    const absent = await fail("absent");
    expect(absent).toMatchObject({ code: ErrorCode.HostKeyMismatch });
    expect(absent.message).toContain(`has no key for ${name}`);
    expect(absent.message).toContain(`ssh-keyscan -p ${server.port} ${server.host}`);
    expect(await fail("revoked")).toMatchObject({ code: ErrorCode.HostKeyMismatch });
    expect((await fail("missing")).message).toMatch(/^Error reading ssh_known_hosts_file .*missing: ENOENT/);
  });

  it("authenticates with ssh_private_key_file", async () => {
    const server = await startSshServer({ kind });
    const c = await connect({ ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_private_key_file: server.clientKeyFile });
    const out: string[] = [];
    expect(await c.start("id -un", { signal: signal(), onStdout: (l) => out.push(l) })).toBe(0);
    expect(out).toEqual(["kilntest"]);
  });
});

describe("SSH host-key pinning in a build", () => {
  it("a null build with a wrong pin fails with HOST_KEY_MISMATCH; a missing known_hosts file is a validation error", async () => {
    const server = await startSshServer();
    const dir = await dirs.make();
    const builder = { type: "null", name: "n", ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password };
    const wrong = { builders: [{ ...builder, ssh_host_key_fingerprint: "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8" }], provisioners: [{ type: "shell", inline: ["true"] }] };
    const outcome = await runJob(planTemplateJob(wrong, "n"), recordingContext(dir));
    expect(outcome.state).toBe("failed");
    expect(outcome.failure).toMatchObject({ code: ErrorCode.HostKeyMismatch });
    const missing = { builders: [{ ...builder, ssh_known_hosts_file: "nope" }] };
    const invalid = await runJob(planTemplateJob(missing, "n"), recordingContext(dir));
    expect(invalid.state).toBe("failed");
    expect(invalid.failure?.message).toContain("ssh_known_hosts_file is invalid: stat nope: no such file or directory");
  });
});
