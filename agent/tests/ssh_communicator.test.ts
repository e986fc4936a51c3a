import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SshServer, freePort } from "../../test/src/mod.js";
import { Client } from "ssh2";
import { CMD_DISCONNECT, SshCommunicator, canNudgeAcks } from "../src/communicators/ssh.js";
import { TempDirs } from "./job_harness.js";

const dirs = new TempDirs();
let server: SshServer | undefined;
let comm: SshCommunicator | undefined;
afterEach(async () => {
  comm?.close();
  comm = undefined;
  await server?.stop();
  server = undefined;
  await dirs.cleanup();
});

const signal = (): AbortSignal => new AbortController().signal;

async function run(c: SshCommunicator, command: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await c.start(command, { signal: signal(), onStdout: (l) => out.push(l), onStderr: (l) => err.push(l) });
  return { code, out, err };
}

describe.each(["openssh", "dropbear"] as const)("SSH communicator against %s", (kind) => {
  it("authenticates with a password and streams stdout and stderr lines", async () => {
    server = await SshServer.start({ kind });
    comm = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password },
      { signal: signal() },
    );
    const r = await run(comm, "echo one; echo two >&2; printf 'no newline'; whoami >&2");
    expect(r).toEqual({ code: 0, out: ["one", "no newline"], err: ["two", "kilntest"] });
  });

  it("reports a failing command's exit code", async () => {
    server = await SshServer.start({ kind });
    comm = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password },
      { signal: signal() },
    );
    expect((await run(comm, "exit 42")).code).toBe(42);
    expect((await run(comm, "false")).code).toBe(1);
  });

  it.each(["scp", "sftp"])("uploads a file and a buffer and downloads them back over %s", async (method) => {
    server = await SshServer.start({ kind });
    const dir = await dirs.make();
    comm = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password, ssh_file_transfer_method: method },
      { signal: signal() },
    );
    const local = path.join(dir, "in.bin");
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 0);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    await writeFile(local, data);
    const remote = `/tmp/kiln-ssh-test-${process.pid}-${kind}-${method}.bin`;
    await comm.upload(local, remote, signal());
    await comm.download(remote, path.join(dir, "out.bin"), signal());
    expect((await readFile(path.join(dir, "out.bin"))).equals(data)).toBe(true);
    await comm.upload(Buffer.from("hello\n"), `${remote}.txt`, signal());
    expect((await run(comm, `cat ${remote}.txt; rm -f ${remote} ${remote}.txt`)).out).toEqual(["hello"]);
    const missing = await comm.download(`${remote}.missing`, path.join(dir, "missing"), signal()).catch((e: unknown) => e as Error);
    expect((missing as Error).message).toMatch(/^Download of .*\.missing to .* failed: .*(No such file|no such file)/i);
  });

  it("writes a file and runs a command after it in one session; a failed write reports why and runs nothing", async () => {
    server = await SshServer.start({ kind });
    comm = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password },
      { signal: signal() },
    );
    const remote = `/tmp/kiln-ssh-test-${process.pid}-${kind}-combined.sh`;
    const out: string[] = [];
    const err: string[] = [];
    const output = { signal: signal(), onStdout: (l: string) => out.push(l), onStderr: (l: string) => err.push(l) };
    const code = await comm.uploadAndStart(Buffer.from("#!/bin/sh\necho ran $0\necho oops >&2\nexit 7\n"), remote, `${remote}; stat -c %a ${remote}; cat`, output);
    // The command's own exit status and output; stdin is at end of file (cat returns at once).
    expect(code).toBe(0);
    expect(out).toEqual([`ran ${remote}`, "755"]);
    expect(err).toEqual(["oops"]);
    expect((await run(comm, `${remote}; echo $?; rm -f ${remote}`)).out).toEqual([`ran ${remote}`, "7"]);
    // A directory that does not exist: the reason from the remote shell, and the command never runs.
    const ran = `/tmp/kiln-ssh-test-${process.pid}-${kind}-must-not-exist`;
    const failed = await comm.uploadAndStart(Buffer.from("x"), "/nonexistent-dir/script.sh", `touch ${ran}`, output).catch((e: unknown) => e as Error);
    expect((failed as Error).message).toMatch(/^writing \/nonexistent-dir\/script.sh failed: .*(nonexistent|No such file|Directory nonexistent)/);
    expect((await run(comm, `test -e ${ran} && echo ran || echo not-run`)).out).toEqual(["not-run"]);
  });

  it("fails a wrong password with an error naming ssh_password", async () => {
    server = await SshServer.start({ kind });
    const err = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: "wrong", ssh_handshake_attempts: 2 },
      { signal: signal() },
    ).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/authentication as "kilntest" .* failed.*ssh_password/);
  });
});

describe("SSH communicator (openssh only)", () => {
  it("authenticates with ssh_private_key_file", async () => {
    server = await SshServer.start({ kind: "openssh" });
    comm = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_private_key_file: server.clientKeyFile },
      { signal: signal() },
    );
    expect(await run(comm, "id -un")).toEqual({ code: 0, out: ["kilntest"], err: [] });
  });

  it("names ssh_private_key_file for a key the server refuses and for a file that is not a key", async () => {
    server = await SshServer.start({ kind: "openssh" });
    const dir = await dirs.make();
    const other = path.join(dir, "other_key");
    const { execFile } = await import("node:child_process");
    await new Promise((r) => execFile("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other], r));
    const base = { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_handshake_attempts: 2 };
    const refused = await SshCommunicator.connect({ ...base, ssh_private_key_file: other }, { signal: signal() }).catch((e: unknown) => e as Error);
    expect((refused as Error).message).toMatch(/authentication as "kilntest" .* failed.*check ssh_username and ssh_private_key_file$/);
    await writeFile(path.join(dir, "not_a_key"), "hello\n");
    const invalid = await SshCommunicator.connect({ ...base, ssh_private_key_file: "not_a_key" }, { signal: signal(), workDir: dir }).catch(
      (e: unknown) => e as Error,
    );
    expect((invalid as Error).message).toMatch(/^ssh_private_key_file is invalid: .*not_a_key: /);
  });

  it("streams a command that prints 50 MB line by line", async () => {
    server = await SshServer.start({ kind: "openssh" });
    comm = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password },
      { signal: signal() },
    );
    let lines = 0;
    let bytes = 0;
    let last = "";
    const started = Date.now();
    // 500,000 lines of 99 characters plus the newline: 50 MB.
    const code = await comm.start("yes 012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678 | head -n 500000; echo end", {
      signal: signal(),
      onStdout: (l) => {
        lines++;
        bytes += l.length + 1;
        last = l;
      },
    });
    expect(code).toBe(0);
    expect(lines).toBe(500_001);
    expect(bytes).toBe(500_000 * 100 + 4);
    expect(last).toBe("end");
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);

  it.each(["scp", "sftp"])("uploads a 100 MiB file over %s intact", async (method) => {
    server = await SshServer.start({ kind: "openssh" });
    const dir = await dirs.make();
    comm = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password, ssh_file_transfer_method: method },
      { signal: signal() },
    );
    const local = path.join(dir, "big.bin");
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131) & 0xff;
    await writeFile(local, Buffer.concat(Array.from({ length: 100 }, () => chunk)));
    const { createHash } = await import("node:crypto");
    const want = createHash("sha256").update(await readFile(local)).digest("hex");
    const remote = `/tmp/kiln-ssh-big-${process.pid}-${method}.bin`;
    const started = Date.now();
    await comm.upload(local, remote, signal());
    const elapsed = Date.now() - started;
    const r = await run(comm, `sha256sum ${remote} | cut -d' ' -f1; rm -f ${remote}`);
    expect(r.out).toEqual([want]);
    expect(elapsed).toBeLessThan(30_000);
  }, 60_000);

  it("runs commands with a pty when ssh_pty is set", async () => {
    server = await SshServer.start({ kind: "openssh" });
    comm = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password, ssh_pty: true },
      { signal: signal() },
    );
    expect((await run(comm, "test -t 0 && echo tty || echo notty")).out).toEqual(["tty"]);
    // A terminal has no end of file to end a write through stdin: the file is uploaded, then the command runs.
    const remote = `/tmp/kiln-ssh-test-${process.pid}-pty.sh`;
    const out: string[] = [];
    const code = await comm.uploadAndStart(Buffer.from("#!/bin/sh\necho from-script\n"), remote, `${remote}; rm -f ${remote}`, { signal: signal(), onStdout: (l) => out.push(l) });
    expect({ code, out }).toEqual({ code: 0, out: ["from-script"] });
  });

  it("authenticates with the key before the password, and without a 'none' attempt", async () => {
    server = await SshServer.start({ kind: "openssh", extraConfig: ["LogLevel DEBUG1"] });
    comm = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: "not-the-password", ssh_private_key_file: server.clientKeyFile },
      { signal: signal() },
    );
    expect((await run(comm, "true")).code).toBe(0);
    expect(server.log).toMatch(/Accepted publickey for kilntest/);
    expect(server.log).not.toMatch(/Failed password/);
    expect(server.log).not.toMatch(/userauth-request for user kilntest service ssh-connection method none/);
    expect(server.log).toMatch(/userauth-request for user kilntest service ssh-connection method publickey/);
  });

  it("finds the ssh2 internals its delayed-ACK workaround writes through on a live connection", async () => {
    server = await SshServer.start({ kind: "openssh" });
    const client = new Client();
    const ready = new Promise<void>((resolve, reject) => client.once("ready", resolve).once("error", reject));
    client.connect({ host: server.host, port: server.port, username: server.username, password: server.password });
    try {
      await ready;
      expect(canNudgeAcks(client)).toBe(true);
    } finally {
      client.end();
    }
  });

  it("gives up on an unreachable port after ssh_timeout, naming it", async () => {
    const port = await freePort();
    const started = Date.now();
    const logs: string[] = [];
    const err = await SshCommunicator.connect(
      { ssh_host: "127.0.0.1", ssh_port: port, ssh_username: "kilntest", ssh_password: "x", ssh_timeout: 2000 },
      { signal: signal(), log: (l) => logs.push(l) },
    ).catch((e: unknown) => e as Error);
    const elapsed = Date.now() - started;
    expect((err as Error).message).toMatch(/^Timeout waiting for SSH: .* within 2s \(ssh_timeout\).*ECONNREFUSED/);
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(4000);
    // Fast polling: several attempts within the 2 s.
    expect(logs.length).toBeGreaterThan(4);
  });

  it("connects as soon as a server comes up on the port", async () => {
    const port = await freePort();
    const started = Date.now();
    const pending = SshCommunicator.connect(
      { ssh_host: "127.0.0.1", ssh_port: port, ssh_username: "kilntest", ssh_password: "kiln-test-password", ssh_timeout: 20_000 },
      { signal: signal() },
    );
    await new Promise((r) => setTimeout(r, 700));
    server = await SshServer.start({ kind: "openssh", port });
    const up = Date.now();
    comm = await pending;
    expect(Date.now() - up).toBeLessThan(1500);
    expect(Date.now() - started).toBeGreaterThan(700);
    expect((await run(comm, "true")).code).toBe(0);
  });

  it("exits with 2300218 when the server dies mid-command", async () => {
    server = await SshServer.start({ kind: "openssh" });
    comm = await SshCommunicator.connect(
      { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password, ssh_keep_alive_interval: 500 },
      { signal: signal() },
    );
    const lines: string[] = [];
    const running = comm.start("echo started; sleep 30", { signal: signal(), onStdout: (l) => lines.push(l) });
    while (!lines.includes("started")) await new Promise((r) => setTimeout(r, 20));
    await server.crash();
    expect(await running).toBe(CMD_DISCONNECT);
  }, 20_000);
});
