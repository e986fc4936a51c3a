import { afterEach, describe, expect, it } from "vitest";
import { SocksProxy, freePort } from "../../test/src/mod.js";
import { SshCommunicator, type SshOptions } from "../src/communicators/ssh.js";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, useSshTestResources } from "./job_harness.js";

const { dirs, startSshServer } = useSshTestResources();
const comms: SshCommunicator[] = [];
const proxies: SocksProxy[] = [];
afterEach(async () => {
  for (const c of comms.splice(0)) c.close();
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

const signal = (): AbortSignal => new AbortController().signal;

async function connect(options: SshOptions): Promise<SshCommunicator> {
  const c = await SshCommunicator.connect(options, { signal: signal() });
  comms.push(c);
  return c;
}

async function output(c: SshCommunicator, command: string): Promise<string[]> {
  const out: string[] = [];
  const code = await c.start(command, { signal: signal(), onStdout: (l) => out.push(l) });
  expect(code).toBe(0);
  return out;
}

async function startProxy(options: { username?: string; password?: string } = {}): Promise<SocksProxy> {
  const p = await SocksProxy.start(options);
  proxies.push(p);
  return p;
}

describe("SSH through a bastion host", () => {
  it.each(["openssh", "dropbear"] as const)("reaches a %s guest through an OpenSSH bastion (password), forwarding over direct-tcpip", async (kind) => {
    // DEBUG1 makes the bastion log each direct-tcpip request: proof the connection went through it.
    const bastion = await startSshServer({ kind: "openssh", extraConfig: ["LogLevel DEBUG1"] });
    const guest = await startSshServer({ kind });
    const c = await connect({
      ssh_host: guest.host,
      ssh_port: guest.port,
      ssh_username: guest.username,
      ssh_private_key_file: guest.clientKeyFile,
      ssh_bastion_host: bastion.host,
      ssh_bastion_port: bastion.port,
      ssh_bastion_username: bastion.username,
      ssh_bastion_password: bastion.password,
    });
    expect(await output(c, "echo through-bastion; id -un")).toEqual(["through-bastion", "kilntest"]);
    expect(bastion.log).toMatch(new RegExp(`direct_tcpip: .*target 127\\.0\\.0\\.1 port ${guest.port}`));
    // The bastion connection goes away with the communicator (no session left on the bastion).
    c.close();
    const deadline = Date.now() + 5000;
    while (!/Close session|Connection closed by|Disconnected from/.test(bastion.log.split(`port ${guest.port}`).pop() ?? "") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(bastion.log.split(`port ${guest.port}`).pop()).toMatch(/Close session|Connection closed by|Disconnected from/);
  });

  it("uses ssh_bastion_private_key_file against a dropbear bastion and survives a guest reboot", async () => {
    const bastion = await startSshServer({ kind: "dropbear" });
    const guest = await startSshServer({ kind: "openssh" });
    const c = await connect({
      ssh_host: guest.host,
      ssh_port: guest.port,
      ssh_username: guest.username,
      ssh_password: guest.password,
      ssh_bastion_host: bastion.host,
      ssh_bastion_port: bastion.port,
      ssh_bastion_username: bastion.username,
      ssh_bastion_private_key_file: bastion.clientKeyFile,
      ssh_keep_alive_interval: 500,
    });
    expect(await output(c, "echo one")).toEqual(["one"]);
    await guest.crash();
    await new Promise((r) => setTimeout(r, 700));
    await guest.restart();
    expect(await output(c, "echo after-reboot")).toEqual(["after-reboot"]);
  });

  it("answers an OpenSSH bastion's keyboard-interactive (PAM) prompts with ssh_bastion_password when ssh_bastion_interactive is set", async () => {
    const bastion = await startSshServer({ kind: "openssh", extraConfig: ["UsePAM yes", "KbdInteractiveAuthentication yes", "PasswordAuthentication no"] });
    const guest = await startSshServer({ kind: "dropbear" });
    const options = {
      ssh_host: guest.host,
      ssh_port: guest.port,
      ssh_username: guest.username,
      ssh_password: guest.password,
      ssh_bastion_host: bastion.host,
      ssh_bastion_port: bastion.port,
      ssh_bastion_username: bastion.username,
      ssh_bastion_password: bastion.password,
      ssh_handshake_attempts: 1,
    };
    // Without it, the password method is refused: the bastion only takes keyboard-interactive.
    const refused = await connect(options).catch((e: unknown) => e as Error);
    expect((refused as Error).message).toMatch(/to the bastion host .* failed/);
    const c = await connect({ ...options, ssh_bastion_interactive: true });
    expect(await output(c, "echo interactive-bastion")).toEqual(["interactive-bastion"]);
    expect(bastion.log).toMatch(/Accepted keyboard-interactive\/pam for kilntest/);
  });

  it("names the bastion options when the bastion refuses the login, and keeps polling while the guest port is closed", async () => {
    const bastion = await startSshServer({ kind: "openssh" });
    const guest = await startSshServer({ kind: "dropbear" });
    const base = { ssh_host: guest.host, ssh_port: guest.port, ssh_username: guest.username, ssh_password: guest.password };
    const bastionOpts = { ssh_bastion_host: bastion.host, ssh_bastion_port: bastion.port, ssh_bastion_username: bastion.username };
    const refused = await connect({ ...base, ...bastionOpts, ssh_bastion_password: "wrong", ssh_handshake_attempts: 2 }).catch((e: unknown) => e as Error);
    expect((refused as Error).message).toMatch(
      new RegExp(`^ssh: authentication as "kilntest" to the bastion host 127\\.0\\.0\\.1:${bastion.port} failed .*check ssh_bastion_username and ssh_bastion_password$`),
    );
    const closed = await freePort();
    const started = Date.now();
    const timeout = await connect({ ...base, ...bastionOpts, ssh_port: closed, ssh_bastion_password: bastion.password, ssh_timeout: 1500 }).catch(
      (e: unknown) => e as Error,
    );
    expect((timeout as Error).message).toMatch(/^Timeout waiting for SSH: .*\(ssh_timeout\).*the bastion host .* could not reach 127\.0\.0\.1:\d+/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("SSH through a SOCKS5 proxy (microsocks)", () => {
  it.each(["openssh", "dropbear"] as const)("reaches a %s guest through the proxy without and with a login", async (kind) => {
    const guest = await startSshServer({ kind });
    const base = { ssh_host: guest.host, ssh_port: guest.port, ssh_username: guest.username, ssh_password: guest.password };
    const open = await startProxy();
    const c1 = await connect({ ...base, ssh_proxy_host: open.host, ssh_proxy_port: open.port });
    expect(await output(c1, "echo via-proxy")).toEqual(["via-proxy"]);
    // microsocks logs nothing: show the path instead by stopping the proxy, which makes the guest unreachable.
    await open.stop();
    const gone = await connect({ ...base, ssh_proxy_host: open.host, ssh_proxy_port: open.port, ssh_timeout: 1000 }).catch((e: unknown) => e as Error);
    expect((gone as Error).message).toMatch(new RegExp(`^Timeout waiting for SSH: .*SOCKS5 proxy 127\\.0\\.0\\.1:${open.port}: connect ECONNREFUSED`));
    const locked = await startProxy({ username: "proxyuser", password: "proxypass" });
    const c2 = await connect({ ...base, ssh_proxy_host: locked.host, ssh_proxy_port: locked.port, ssh_proxy_username: "proxyuser", ssh_proxy_password: "proxypass" });
    expect(await output(c2, "echo via-login-proxy")).toEqual(["via-login-proxy"]);
    const wrong = await connect({ ...base, ssh_proxy_host: locked.host, ssh_proxy_port: locked.port, ssh_proxy_username: "proxyuser", ssh_proxy_password: "nope", ssh_handshake_attempts: 1 }).catch(
      (e: unknown) => e as Error,
    );
    expect((wrong as Error).message).toMatch(/refused the login; check ssh_proxy_username and ssh_proxy_password/);
    const noLogin = await connect({ ...base, ssh_proxy_host: locked.host, ssh_proxy_port: locked.port, ssh_handshake_attempts: 1 }).catch((e: unknown) => e as Error);
    expect((noLogin as Error).message).toMatch(/accepts none of the offered authentication methods: set ssh_proxy_username and ssh_proxy_password/);
  });

  it("a null build connects through the proxy with the template's ssh_proxy_* options", async () => {
    const guest = await startSshServer();
    const proxy = await startProxy({ username: "u", password: "p" });
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const template = {
      builders: [
        {
          type: "null",
          name: "n",
          ssh_host: guest.host,
          ssh_port: guest.port,
          ssh_username: guest.username,
          ssh_password: guest.password,
          ssh_proxy_host: proxy.host,
          ssh_proxy_port: proxy.port,
          ssh_proxy_username: "u",
          ssh_proxy_password: "p",
        },
      ],
      provisioners: [{ type: "shell", inline: ["echo provisioned-through-proxy"] }],
    };
    const outcome = await runJob(planTemplateJob(template, "n"), ctx);
    expect(outcome.failure?.message).toBeUndefined();
    expect(ctx.lines()).toContain("provisioned-through-proxy");
  });
});
