import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { validatePluginConfig } from "../../core/src/mod.js";
import { ansiblePasswordVars } from "../src/provisioners/ansible.js";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, useSshTestResources } from "./job_harness.js";

const { dirs, startSshServer } = useSshTestResources();
const remoteFiles: string[] = [];
afterEach(async () => {
  await Promise.all(remoteFiles.splice(0).map((f) => rm(f, { force: true })));
});

const ANSIBLE = "/usr/bin/ansible-playbook";
const SSHPASS = "/usr/bin/sshpass";

describe("ansible provisioner (ansible-playbook on the agent, against the machine over SSH)", () => {
  // OpenSSH only: ansible-playbook takes tens of seconds to start on a loaded CI machine.
  it.each(["openssh"] as const)("runs a playbook against a %s host with the build's key, groups and extra vars", async (kind) => {
    expect(existsSync(ANSIBLE), `${ANSIBLE} is missing: install the Debian package ansible`).toBe(true);
    const server = await startSshServer({ kind });
    const dir = await dirs.make();
    const marker = `/tmp/kiln-ansible-${process.pid}-${kind}-${Date.now()}`;
    remoteFiles.push(marker);
    await writeFile(
      path.join(dir, "site.yml"),
      [
        "- hosts: webservers",
        "  gather_facts: false",
        "  tasks:",
        "    - name: write the marker",
        `      copy: { content: "{{ packer_build_name }} {{ packer_builder_type }} {{ greeting }}\\n", dest: "${marker}" }`,
        "    - name: who am i",
        "      command: id -un",
        "      register: who",
        "    - debug: { msg: 'ran as {{ who.stdout }}' }",
        "",
      ].join("\n"),
    );
    const ctx = recordingContext(dir);
    const template = {
      builders: [{ type: "null", name: "web", ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_private_key_file: server.clientKeyFile }],
      provisioners: [{ type: "ansible", playbook_file: "site.yml", groups: ["webservers"], extra_arguments: ["--extra-vars", "greeting=hello"], ansible_env_vars: ["ANSIBLE_NOCOLOR=1"] }],
    };
    const outcome = await runJob(planTemplateJob(template, "web"), ctx);
    expect(outcome.failure?.message).toBeUndefined();
    expect(await readFile(marker, "utf8")).toBe("web null hello\n");
    expect(ctx.lines().some((l) => l.includes('"msg": "ran as kilntest"'))).toBe(true);
    expect(ctx.lines().some((l) => /^Executing Ansible: ansible-playbook /.test(l))).toBe(true);
  }, 120_000);

  it("runs a playbook against a host the build reaches with a password only (ansible_password through sshpass)", async () => {
    expect(existsSync(ANSIBLE), `${ANSIBLE} is missing: install the Debian package ansible`).toBe(true);
    expect(existsSync(SSHPASS), `${SSHPASS} is missing: install the Debian package sshpass`).toBe(true);
    // Public keys refused: only the password can log ansible in.
    const server = await startSshServer({ extraConfig: ["PubkeyAuthentication no"] });
    const dir = await dirs.make();
    const marker = `/tmp/kiln-ansible-password-${process.pid}-${Date.now()}`;
    remoteFiles.push(marker);
    await writeFile(
      path.join(dir, "site.yml"),
      ["- hosts: all", "  gather_facts: false", "  tasks:", `    - copy: { content: "{{ ansible_user }}\\n", dest: "${marker}" }`, ""].join("\n"),
    );
    const ctx = recordingContext(dir);
    const template = {
      builders: [{ type: "null", name: "pw", ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password }],
      provisioners: [{ type: "ansible", playbook_file: "site.yml" }],
    };
    const outcome = await runJob(planTemplateJob(template, "pw"), ctx);
    expect(outcome.failure?.message).toBeUndefined();
    expect(await readFile(marker, "utf8")).toBe("kilntest\n");
    expect(server.log).toMatch(/Accepted password for kilntest/);
    // The password is in a private file, never on the command line or in the build's output.
    expect(ctx.lines().some((l) => /^Executing Ansible: ansible-playbook .*--extra-vars @\S+password\.yml/.test(l))).toBe(true);
    expect(ctx.lines().some((l) => l.includes(server.password))).toBe(false);
    // ansible's persistent SSH connection (ControlPersist) does not outlive the provisioner.
    const left = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").filter((l) => l.includes("kiln-ansible-"));
    expect(left).toEqual([]);
  }, 120_000);

  it("hands ansible the password as an unsafe YAML string", () => {
    expect(ansiblePasswordVars(`a'b"c{{ x }}\\`)).toBe(`ansible_password: !unsafe "a'b\\"c{{ x }}\\\\"\n`);
  });

  it("fails with Packer's message when the playbook fails, and refuses options it does not run", async () => {
    const server = await startSshServer();
    const dir = await dirs.make();
    await writeFile(path.join(dir, "fail.yml"), "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: /bin/false\n");
    const ctx = recordingContext(dir);
    const template = {
      builders: [{ type: "null", name: "n", ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_private_key_file: server.clientKeyFile }],
      provisioners: [{ type: "ansible", playbook_file: "fail.yml" }],
    };
    const outcome = await runJob(planTemplateJob(template, "n"), ctx);
    expect(outcome.failure?.message).toBe("Error executing Ansible: Non-zero exit status: exit status 2");
    const v = (c: Record<string, unknown>): readonly string[] => validatePluginConfig("provisioner", "ansible", c).problems;
    expect(v({})).toEqual(["playbook_file must be specified."]);
    expect(v({ playbook_file: "x.yml", use_proxy: true, galaxy_file: "req.yml", ansible_env_vars: ["NOPE"] })).toEqual([
      "ansible_env_vars must be KEY=value: NOPE",
      "use_proxy true is not supported by kiln: ansible connects directly to the machine's SSH server; remove use_proxy or set it to false",
      "galaxy_file is not supported by kiln's ansible provisioner yet: remove it or build with Packer",
    ]);
    const missing = await runJob(planTemplateJob({ ...template, provisioners: [{ type: "ansible", playbook_file: "nope.yml" }] }, "n"), recordingContext(dir));
    expect(missing.failure?.message).toContain("playbook_file: stat nope.yml: no such file or directory");
  }, 120_000);
});

describe("ansible-local provisioner (ansible-playbook on the machine, over the communicator)", () => {
  it("uploads the playbook to the staging directory, runs it with -c local in inventory_groups, and cleans up", async () => {
    expect(existsSync(ANSIBLE), `${ANSIBLE} is missing on the test host (the guest here): install the Debian package ansible`).toBe(true);
    const server = await startSshServer();
    const dir = await dirs.make();
    const marker = `/tmp/kiln-ansible-local-${process.pid}-${Date.now()}`;
    const staging = `${marker}-staging`;
    remoteFiles.push(marker, staging);
    await writeFile(
      path.join(dir, "local.yml"),
      [
        "- hosts: app",
        "  gather_facts: false",
        "  tasks:",
        `    - copy: { content: "{{ packer_build_name }} {{ ansible_connection }} {{ inventory_hostname }} {{ who }}\\n", dest: "${marker}" }`,
        "",
      ].join("\n"),
    );
    const ctx = recordingContext(dir);
    const template = {
      builders: [{ type: "null", name: "guest", ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password }],
      provisioners: [
        {
          type: "ansible-local",
          playbook_file: "local.yml",
          inventory_groups: ["app"],
          extra_arguments: ["--extra-vars", "who=kiln"],
          staging_directory: staging,
          clean_staging_directory: true,
        },
      ],
    };
    const outcome = await runJob(planTemplateJob(template, "guest"), ctx);
    expect(outcome.failure?.message).toBeUndefined();
    expect(await readFile(marker, "utf8")).toBe("guest local 127.0.0.1 kiln\n");
    expect(ctx.lines()).toContain("Executing Ansible: local.yml");
    expect(existsSync(staging)).toBe(false);
    const v = (c: Record<string, unknown>): readonly string[] => validatePluginConfig("provisioner", "ansible-local", c).problems;
    expect(v({})).toEqual(["Either playbook_file or playbook_files must be specified"]);
    expect(v({ playbook_file: "a.yml", playbook_files: ["b.yml"], role_paths: ["roles"] })).toEqual([
      "Either playbook_file or playbook_files can be specified, not both",
      "role_paths is not supported by kiln's ansible-local provisioner yet: remove it or build with Packer",
    ]);
  }, 120_000);
});
