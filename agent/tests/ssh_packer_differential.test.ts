/**
 * Differential test of the SSH path: the same template (null builder on the test sshd, shell and file provisioners)
 * through the real `packer build` 1.6.6 and through kiln's runJob; the remote output lines and the failure messages
 * must be the same.
 */
import { execFile } from "node:child_process";
import { access, chmod, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, useSshTestResources } from "./job_harness.js";

const PACKER = "/usr/bin/packer";
const { dirs, startSshServer } = useSshTestResources();

/** Runs `packer build -color=false` and returns the remote output lines (`    n: x`) and the error, if any. */
async function packerBuild(dir: string, template: Record<string, unknown>): Promise<{ lines: string[]; error?: string }> {
  await access(PACKER).catch(() => {
    throw new Error(`${PACKER} is missing: install the Debian package packer (version 1.6.6)`);
  });
  await writeFile(path.join(dir, "template.json"), JSON.stringify(template));
  const stdout = await new Promise<string>((resolve) => {
    execFile(PACKER, ["build", "-color=false", "template.json"], { cwd: dir, env: { ...process.env, CHECKPOINT_DISABLE: "1", PACKER_LOG: "" } }, (_e, out, err) =>
      resolve(out + err),
    );
  });
  const lines = stdout
    .split("\n")
    .filter((l) => l.startsWith("    n: "))
    .map((l) => l.slice("    n: ".length));
  const m = /Build 'n' errored[^:]*: ([^\n]*)/.exec(stdout);
  return m?.[1] !== undefined ? { lines, error: m[1] } : { lines };
}

describe("SSH provisioning: kiln vs packer 1.6.6", () => {
  it("prints the same remote output and fails with the same message", async () => {
    const server = await startSshServer();
    const s = server;
    const remote = `/tmp/kiln-diff-${process.pid}`;
    // Packer leaves a failed script behind in remote_folder: give both tools a folder this test removes.
    const remoteFolder = await dirs.make("kiln-sshdiff-remote-");
    await chmod(remoteFolder, 0o777);
    const template = (dir: string): Record<string, unknown> => ({
      builders: [{ type: "null", name: "n", ssh_host: s.host, ssh_port: s.port, ssh_username: s.username, ssh_password: s.password }],
      provisioners: [
        { type: "file", source: "in.txt", destination: `${remote}-${path.basename(dir)}.txt` },
        {
          type: "shell",
          remote_folder: remoteFolder,
          environment_vars: ["A=it's", "B=2"],
          inline: [`cat ${remote}-${path.basename(dir)}.txt`, `rm -f ${remote}-${path.basename(dir)}.txt`, 'echo "$A $B $PACKER_BUILD_NAME $PACKER_BUILDER_TYPE"', "env | grep -c ^PACKER_HTTP_ADDR= || true"],
        },
        { type: "shell", script: "s.sh", remote_folder: remoteFolder },
        { type: "shell", inline: ["echo last", "exit 7"], remote_folder: remoteFolder },
      ],
    });
    const results = [];
    for (const which of ["packer", "kiln"] as const) {
      const dir = await dirs.make(`kiln-sshdiff-${which}-`);
      await writeFile(path.join(dir, "in.txt"), "uploaded line\n");
      await writeFile(path.join(dir, "s.sh"), "#!/bin/sh\necho script $0 | sed 's/[0-9]//g'\n");
      if (which === "packer") {
        results.push(await packerBuild(dir, template(dir)));
      } else {
        const ctx = recordingContext(dir);
        const outcome = await runJob(planTemplateJob(template(dir), "n"), ctx);
        const lines = ctx.logs.filter((l) => l.level !== "say").map((l) => l.text);
        results.push(outcome.failure ? { lines, error: outcome.failure.message } : { lines });
      }
    }
    const [packer, kiln] = results;
    expect(packer?.lines).toContain("uploaded line");
    expect(kiln).toEqual(packer);
  }, 60_000);
});
