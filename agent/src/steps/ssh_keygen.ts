/**
 * Packer's StepSSHKeyGen: when a build's SSH config names no authentication (no `ssh_password`,
 * `ssh_private_key_file` or `ssh_agent_auth`), generates a temporary key pair for this build only
 * (`temporary_key_pair_type`, `temporary_key_pair_bits`). The builder injects the public key into the machine
 * (cloud-init, boot_command, a disk file: through the `SSHPublicKey` build variable, as in Packer) and the
 * communicator authenticates with the private key. Nothing is written to disk; cleanup forgets the pair.
 */
import ssh2 from "ssh2";
import { temporaryKeyPairSpec, wantsTemporaryKeyPair, type CommunicatorConfig, type TemporaryKeyPairSpec } from "../../../core/src/mod.js";
import type { PipelineState, Step } from "../pipeline/mod.js";

/** A generated key pair: the public key as an authorized_keys line, the private key in OpenSSH's format. */
export interface TemporaryKeyPair {
  readonly type: TemporaryKeyPairSpec["type"];
  readonly publicKey: string;
  readonly privateKey: Buffer;
}

/** State of a builder whose pipeline includes the key generation step. */
export interface SshKeyState extends PipelineState {
  sshKeyPair?: TemporaryKeyPair;
}

/**
 * Generates a key pair (off the event loop: a 4096-bit RSA key takes a while). ssh2 1.17 drops a leading zero
 * byte from an ed25519 key (about one key in 256), leaving a pair that neither ssh2 nor OpenSSH can parse: such a
 * pair is regenerated, so a build never fails on the luck of the draw.
 */
export async function generateTemporaryKeyPair(spec: TemporaryKeyPairSpec, comment: string): Promise<TemporaryKeyPair> {
  for (let attempt = 1; ; attempt++) {
    const pair = await generateOnce(spec, comment);
    if (isWellFormed(pair) || attempt >= 8) return pair;
  }
}

function generateOnce(spec: TemporaryKeyPairSpec, comment: string): Promise<TemporaryKeyPair> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, keys: { public: string; private: string }): void => {
      if (err) reject(err);
      else resolve({ type: spec.type, publicKey: keys.public.trim(), privateKey: Buffer.from(keys.private) });
    };
    if (spec.type === "ed25519") ssh2.utils.generateKeyPair("ed25519", { comment }, done);
    else if (spec.type === "ecdsa") ssh2.utils.generateKeyPair("ecdsa", { bits: spec.bits as 256 | 384 | 521, comment }, done);
    else ssh2.utils.generateKeyPair("rsa", { bits: spec.bits, comment }, done);
  });
}

function isWellFormed(pair: TemporaryKeyPair): boolean {
  return !(ssh2.utils.parseKey(pair.privateKey) instanceof Error) && !(ssh2.utils.parseKey(pair.publicKey) instanceof Error);
}

/** The step; `comment` ends up in the guest's authorized_keys (Packer: `packer_<uuid>`). */
export function sshKeyGenStep<S extends SshKeyState>(config: CommunicatorConfig, comment: string): Step<S> {
  return {
    name: "ssh-keygen",
    async run(ctx, state) {
      if (config.communicator !== "ssh" || !wantsTemporaryKeyPair(config)) return "continue";
      const spec = temporaryKeyPairSpec(config);
      ctx.log("say", `Creating temporary ${spec.type.toUpperCase()} SSH key for instance...`);
      state.sshKeyPair = await generateTemporaryKeyPair(spec, comment);
      return "continue";
    },
    async cleanup(state) {
      state.sshKeyPair = undefined;
    },
  };
}

/** Packer's SSHPublicKey / SSHPrivateKey build variables for a generated pair (empty strings without one). */
export function sshKeyHookData(pair: TemporaryKeyPair | undefined): { SSHPublicKey: string; SSHPrivateKey: string } {
  return { SSHPublicKey: pair?.publicKey ?? "", SSHPrivateKey: pair?.privateKey.toString() ?? "" };
}
