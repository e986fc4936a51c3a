/**
 * The `ansible` provisioner (Packer 1.6.6's provisioner/ansible, with `use_proxy: false`): writes an inventory
 * naming the machine's SSH host, port and user, writes the build's private key (`SSHPrivateKey`: the key file or
 * the temporary key pair) to a private temp file, and runs `ansible-playbook` on the agent; output is streamed line
 * by line. A build with only `ssh_password` gives it to ansible as `ansible_password` in a private extra-vars file
 * (never on the command line), which ansible's ssh connection types in through Debian's `sshpass`. The temp dir is
 * removed whatever happens.
 */
import { spawn } from "node:child_process";
import { access, constants, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { BuildFailedError, UnavailableError, ansibleProvisionerSchema, type AnsibleConfig } from "../../../core/src/mod.js";
import { prepareWithSchema, type PluginContext, type PrepareContext, type ProvisionerDefinition } from "../plugin_api.js";
import { goPathError } from "../util/go_text.js";

const HTTP_ADDR_NOT_IMPLEMENTED = "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER";

/** Packer's inventory: the host alias with its connection variables, then each group naming it. */
export function ansibleInventory(config: AnsibleConfig, host: string, port: string, user: string): string {
  const lines = [`${config.host_alias} ansible_host=${host} ansible_user=${user} ansible_port=${port}`];
  for (const g of config.groups ?? []) lines.push(`[${g}]`, config.host_alias);
  for (const g of config.empty_groups ?? []) lines.push(`[${g}]`);
  return `${lines.join("\n")}\n`;
}

function lineStream(emit: (line: string) => void): { push(d: Buffer): void; flush(): void } {
  let pending = "";
  return {
    push(d) {
      pending += d.toString();
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const p of parts) emit(p);
    },
    flush() {
      if (pending !== "") emit(pending);
      pending = "";
    },
  };
}

/** Whether `name` is an executable file in a directory of $PATH. */
async function onPath(name: string): Promise<boolean> {
  for (const d of (process.env["PATH"] ?? "").split(path.delimiter)) {
    if (d === "") continue;
    try {
      await access(path.join(d, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/**
 * The extra-vars file that hands ansible the SSH password: YAML, the value marked `!unsafe` so that ansible never
 * templates it (a password may contain `{{`), as a double-quoted scalar (JSON's escapes are YAML's).
 */
export function ansiblePasswordVars(password: string): string {
  return `ansible_password: !unsafe ${JSON.stringify(password)}\n`;
}

export async function runAnsible(config: AnsibleConfig, ctx: PluginContext): Promise<void> {
  const data = ctx.generatedData ?? {};
  if (ctx.communicator === undefined || data["ConnType"] !== "ssh") {
    throw new BuildFailedError(`the ansible provisioner needs an SSH communicator; this build has none (use shell-local to run ansible yourself)`);
  }
  const key = data["SSHPrivateKey"] ?? "";
  const password = data["Password"] ?? "";
  if (key === "" && password === "") {
    throw new BuildFailedError(
      "the ansible provisioner connects with the build's SSH credentials, and this build has none ansible can use: set " +
        "ssh_private_key_file or ssh_password on the builder (ssh_agent_auth is not passed to ansible)",
    );
  }
  if (key === "" && !(await onPath("sshpass"))) {
    throw new UnavailableError(
      "the ansible provisioner logs ansible in with ssh_password through sshpass, which is not installed on this agent: " +
        "install the Debian package sshpass (or give the build a key with ssh_private_key_file)",
    );
  }
  const user = (config.user ?? "") !== "" ? (config.user ?? "") : (data["User"] ?? "");
  const dir = await mkdtemp(path.join(tmpdir(), "kiln-ansible-"));
  try {
    // The key, or with only a password the password: private files in the private temp dir.
    const credentials: string[] = [];
    if (key !== "") {
      const keyFile = path.join(dir, "key");
      await writeFile(keyFile, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
      credentials.push("--ssh-extra-args", "-o IdentitiesOnly=yes -o UserKnownHostsFile=/dev/null", "--private-key", keyFile);
    } else {
      const varsFile = path.join(dir, "password.yml");
      await writeFile(varsFile, ansiblePasswordVars(password), { mode: 0o600 });
      // No keys of the agent's user first (they would use up the server's MaxAuthTries); no known_hosts entry of
      // an earlier machine on the same address (OpenSSH turns password authentication off on a mismatch).
      credentials.push("--ssh-extra-args", "-o PubkeyAuthentication=no -o UserKnownHostsFile=/dev/null", "--extra-vars", `@${varsFile}`);
    }
    const inventory = path.join(dir, "inventory");
    await writeFile(inventory, ansibleInventory(config, data["Host"] ?? "", data["Port"] ?? "22", user));
    const httpAddr = data["PackerHTTPAddr"] ?? "";
    const extraVars = [`packer_build_name=${ctx.build.name}`, `packer_builder_type=${ctx.build.builderType}`];
    if (httpAddr !== "" && httpAddr !== HTTP_ADDR_NOT_IMPLEMENTED) extraVars.push(`packer_http_addr=${httpAddr}`);
    const args = [
      "--extra-vars",
      extraVars.join(" "),
      ...credentials,
      "-i",
      inventory,
      path.resolve(ctx.workDir, config.playbook_file ?? ""),
      ...(config.extra_arguments ?? []).map((a) => ctx.render(a, data)),
    ];
    // ansible keeps its SSH connection open for 60 s after the run (ControlPersist): its control sockets go to the
    // temp dir, so that the masters can be told to exit afterwards instead of outliving the build.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ANSIBLE_HOST_KEY_CHECKING: "False",
      ANSIBLE_FORCE_COLOR: "0",
      PYTHONUNBUFFERED: "1",
      ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(dir, "cp"),
    };
    for (const kv of config.ansible_env_vars ?? []) {
      const eq = kv.indexOf("=");
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    ctx.log("say", `Executing Ansible: ${config.command} ${args.join(" ")}`);
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(config.command, args, { cwd: ctx.workDir, env, stdio: ["ignore", "pipe", "pipe"] });
      const out = lineStream((l) => ctx.log("message", l));
      const err = lineStream((l) => ctx.log("error", l));
      child.stdout.on("data", (d: Buffer) => out.push(d));
      child.stderr.on("data", (d: Buffer) => err.push(d));
      const onAbort = (): void => void child.kill("SIGTERM");
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      child.once("error", (e: NodeJS.ErrnoException) => {
        ctx.signal.removeEventListener("abort", onAbort);
        reject(
          e.code === "ENOENT"
            ? new UnavailableError(`${config.command} is not installed on this agent: install the Debian package ansible`, { cause: e })
            : e,
        );
      });
      child.once("close", (c) => {
        ctx.signal.removeEventListener("abort", onAbort);
        out.flush();
        err.flush();
        resolve(c ?? -1);
      });
    });
    if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error("cancelled");
    if (code !== 0) throw new BuildFailedError(`Error executing Ansible: Non-zero exit status: exit status ${code}`);
  } finally {
    await stopControlMasters(path.join(dir, "cp"));
    await rm(dir, { recursive: true, force: true });
  }
}

/** Tells each SSH control master with a socket in `dir` to exit (`ssh -O exit`). */
async function stopControlMasters(dir: string): Promise<void> {
  const sockets = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    sockets.map(
      (name) =>
        new Promise<void>((resolve) => {
          const child = spawn("ssh", ["-o", `ControlPath=${path.join(dir, name)}`, "-O", "exit", "kiln-control-master"], { stdio: "ignore" });
          const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
          child.once("error", () => resolve());
          child.once("close", () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
}

async function checkPlaybook(config: AnsibleConfig, ctx: PrepareContext): Promise<string[]> {
  const file = config.playbook_file ?? "";
  if (file === "") return [];
  try {
    const st = await stat(path.resolve(ctx.workDir, file));
    return st.isFile() ? [] : [`playbook_file: ${file} must be a file`];
  } catch (err) {
    return [`playbook_file: ${goPathError("stat", file, err)}`];
  }
}

export const ansibleProvisioner: ProvisionerDefinition = {
  kind: "provisioner",
  type: "ansible",
  schema: ansibleProvisionerSchema,
  prepare: (config, ctx) =>
    prepareWithSchema(ansibleProvisionerSchema, config, async (compiled) => ({
      problems: await checkPlaybook(compiled, ctx),
      instance: { provision: (pctx) => runAnsible(compiled, pctx) },
    })),
};
