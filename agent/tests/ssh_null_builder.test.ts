import { describe, expect, it } from "vitest";
import { freePort } from "../../test/src/mod.js";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, useSshTestResources } from "./job_harness.js";

const { dirs, startSshServer } = useSshTestResources();

describe("null builder with communicator ssh", () => {
  it("connects to the host, runs the provisioners and closes the connection", async () => {
    const server = await startSshServer();
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const template = {
      builders: [{ type: "null", name: "n", ssh_host: server.host, ssh_port: server.port, ssh_username: server.username, ssh_password: server.password }],
      provisioners: [{ type: "shell-local", inline: ["echo local {{build `Host`}} {{build `User`}} {{build `ConnType`}}"] }],
    };
    const outcome = await runJob(planTemplateJob(template, "n"), ctx);
    expect(outcome.failure?.message).toBeUndefined();
    expect(outcome.state).toBe("succeeded");
    expect(ctx.lines()).toContain("Connected to SSH!");
    expect(ctx.lines()).toContain("local 127.0.0.1 kilntest ssh");
    expect(ctx.steps).toEqual(["connect:start", "connect:ok", "provision:start", "provision:ok"]);
  });

  it("fails after ssh_timeout when nothing listens", async () => {
    const dir = await dirs.make();
    const ctx = recordingContext(dir);
    const port = await freePort();
    const template = {
      builders: [{ type: "null", name: "n", ssh_host: "127.0.0.1", ssh_port: port, ssh_username: "u", ssh_password: "p", ssh_timeout: "1s" }],
    };
    const started = Date.now();
    const outcome = await runJob(planTemplateJob(template, "n"), ctx);
    expect(outcome.state).toBe("failed");
    expect(outcome.failure?.message).toMatch(/Timeout waiting for SSH.*\(ssh_timeout\)/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
