import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { validatePluginConfig, type CommunicatorConfig } from "../../core/src/mod.js";
import { SshCommunicator } from "../src/communicators/ssh.js";
import { generateTemporaryKeyPair, sshKeyGenStep, sshKeyHookData, type SshKeyState } from "../src/steps/ssh_keygen.js";
import { useSshTestResources } from "./job_harness.js";

const { startSshServer } = useSshTestResources();

/** A compiled SSH communicator config without any authentication, plus the temporary key options. */
function keyConfig(extra: Record<string, unknown>): CommunicatorConfig {
  const compiled = validatePluginConfig("builder", "null", { ssh_host: "h", ssh_username: "u", ssh_agent_auth: true }).compiled as CommunicatorConfig;
  return { ...compiled, ssh_agent_auth: false, ...extra };
}

const stepContext = (logs: string[]) => ({ signal: new AbortController().signal, log: (_l: string, t: string) => logs.push(t), heartbeat: () => undefined });

const cases = [
  { kind: "openssh", type: "ed25519", prefix: "ssh-ed25519 " },
  { kind: "openssh", type: "rsa", bits: 2048, prefix: "ssh-rsa " },
  { kind: "openssh", type: "ecdsa", bits: 256, prefix: "ecdsa-sha2-nistp256 " },
  { kind: "dropbear", type: "ed25519", prefix: "ssh-ed25519 " },
  { kind: "dropbear", type: "rsa", bits: 2048, prefix: "ssh-rsa " },
] as const;

describe("temporary SSH key pairs", () => {
  it.each(cases)("a generated $type key, once injected, logs in to $kind; before that it is refused", async (c) => {
    const server = await startSshServer({ kind: c.kind });
    const config = keyConfig({ temporary_key_pair_type: c.type, ...("bits" in c ? { temporary_key_pair_bits: c.bits } : {}) });
    const step = sshKeyGenStep<SshKeyState>(config, "packer_test");
    const state: SshKeyState = {};
    const logs: string[] = [];
    expect(await step.run(stepContext(logs), state)).toBe("continue");
    expect(logs).toEqual([`Creating temporary ${c.type.toUpperCase()} SSH key for instance...`]);
    const hook = sshKeyHookData(state.sshKeyPair);
    expect(hook.SSHPublicKey.startsWith(c.prefix)).toBe(true);
    expect(hook.SSHPublicKey.endsWith(" packer_test")).toBe(true);
    expect(hook.SSHPrivateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    const options = { ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_private_key: state.sshKeyPair?.privateKey };
    const refused = await SshCommunicator.connect({ ...options, ssh_handshake_attempts: 1 }, { signal: new AbortController().signal }).catch((e: unknown) => e as Error);
    expect((refused as Error).message).toMatch(/authentication as "kilntest" .* failed.*the temporary key pair \(did the builder inject SSHPublicKey\?\)/);
    // What a builder does through cloud-init or boot_command with {{build `SSHPublicKey`}}.
    await server.authorizeKey(hook.SSHPublicKey);
    const comm = await SshCommunicator.connect(options, { signal: new AbortController().signal });
    try {
      const out: string[] = [];
      expect(await comm.start("id -un", { signal: new AbortController().signal, onStdout: (l) => out.push(l) })).toBe(0);
      expect(out).toEqual(["kilntest"]);
    } finally {
      comm.close();
    }
    await step.cleanup?.(state, "ok", { log: () => undefined, heartbeat: () => undefined });
    expect(state.sshKeyPair).toBeUndefined();
  }, 60_000);

  it("never hands out an ed25519 pair that cannot be parsed (ssh2 mangles about one in 256)", async () => {
    const malformed: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const pair = await generateTemporaryKeyPair({ type: "ed25519", bits: 0 }, "c");
      if (ssh2.utils.parseKey(pair.privateKey) instanceof Error || ssh2.utils.parseKey(pair.publicKey) instanceof Error) malformed.push(pair.publicKey);
    }
    expect(malformed).toEqual([]);
  }, 60_000);

  it("generates nothing when the config already authenticates (password, key file or agent)", async () => {
    for (const auth of [{ ssh_password: "p" }, { ssh_private_key_file: "k" }, { ssh_agent_auth: true }]) {
      const state: SshKeyState = {};
      await sshKeyGenStep<SshKeyState>(keyConfig(auth), "c").run(stepContext([]), state);
      expect(state.sshKeyPair).toBeUndefined();
    }
    expect(sshKeyHookData(undefined)).toEqual({ SSHPublicKey: "", SSHPrivateKey: "" });
  });
});
