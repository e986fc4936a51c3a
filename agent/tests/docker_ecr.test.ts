/**
 * `ecr_login` for the docker builder's pull and for docker-push. AWS ECR cannot be reached from tests and Debian
 * packages no ECR emulator, so the AWS side is a protocol stand-in (test/src/ecr_server.ts: ECR's GetAuthorizationToken
 * over the AWS JSON 1.1 protocol, SigV4 signatures recomputed and checked) reached through the SDK's standard
 * `AWS_ENDPOINT_URL_ECR`, and the registry side is real: Debian's docker-registry with htpasswd auth for user `AWS`,
 * whose password only the stand-in's token carries, driven by a private dockerd.
 */
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../core/src/mod.js";
import { DockerDaemon, DockerRegistry, ECR_TARGET, EcrServer, freePort } from "../../test/src/mod.js";
import { ecrGetLogin, parseEcrServer } from "../src/docker/ecr.js";
import { runJob } from "../src/runner.js";
import { planTemplateJob, recordingContext, TempDirs } from "./job_harness.js";

const BASE = "kiln-ecr-base:1";
const PASSWORD = `ecr-${randomBytes(12).toString("hex")}`;
const KEY = { accessKeyId: "AKIAKILNTESTECR00001", secretAccessKey: `secret/${randomBytes(9).toString("base64")}` };
const PROFILE = "kiln-ecr";
const PROFILE_KEY = { accessKeyId: "ASIAKILNTESTECR00002", secretAccessKey: `secret/${randomBytes(9).toString("base64")}`, sessionToken: `token-${randomBytes(8).toString("hex")}` };
const PROFILE_REGION = "ap-south-1";

const AWS_ENV = [
  "AWS_ENDPOINT_URL_ECR",
  "AWS_ENDPOINT_URL",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_PROFILE",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_EC2_METADATA_DISABLED",
  "DOCKER_HOST",
] as const;
const savedEnv = Object.fromEntries(AWS_ENV.map((k) => [k, process.env[k]]));

function setEnv(env: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

const dirs = new TempDirs();
let daemon: DockerDaemon;
let registry: DockerRegistry;
let ecr: EcrServer;
/** The agent's AWS environment for every test: only the stand-in, the test's shared files, no instance metadata. */
let awsEnv: Record<string, string | undefined>;

beforeAll(async () => {
  [daemon, registry, ecr] = await Promise.all([
    DockerDaemon.start(),
    DockerRegistry.start({ auth: { username: "AWS", password: PASSWORD } }),
    EcrServer.start({ keys: [KEY, PROFILE_KEY], password: PASSWORD, proxyEndpoint: "https://012345678901.dkr.ecr.eu-west-3.amazonaws.com" }),
  ]);
  await daemon.importBusyboxImage(BASE);
  const awsDir = await dirs.make("kiln-aws-");
  const credentials = path.join(awsDir, "credentials");
  const config = path.join(awsDir, "config");
  await writeFile(
    credentials,
    `[${PROFILE}]\naws_access_key_id = ${PROFILE_KEY.accessKeyId}\naws_secret_access_key = ${PROFILE_KEY.secretAccessKey}\naws_session_token = ${PROFILE_KEY.sessionToken}\n`,
  );
  await writeFile(config, `[profile ${PROFILE}]\nregion = ${PROFILE_REGION}\n`);
  awsEnv = {
    ...Object.fromEntries(AWS_ENV.map((k) => [k, undefined])),
    AWS_ENDPOINT_URL_ECR: ecr.endpoint,
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: credentials,
    AWS_EC2_METADATA_DISABLED: "true",
    DOCKER_HOST: daemon.host,
  };
  setEnv(awsEnv);
}, 120_000);

afterAll(async () => {
  setEnv(savedEnv);
  await dirs.cleanup();
  await Promise.all([daemon?.stop(), registry?.stop(), ecr?.stop()]);
}, 60_000);

afterEach(async () => {
  setEnv(awsEnv);
  // Leave nothing behind: no build container, no dangling image, whatever the test did.
  expect(await daemon.leftovers()).toEqual({ containers: [], danglingImages: [] });
});

async function build(template: Record<string, unknown>, name: string) {
  const dir = await dirs.make("kiln-ecr-build-");
  const ctx = recordingContext(dir);
  const outcome = await runJob(planTemplateJob(template, name), ctx);
  return { outcome, ctx };
}

describe("ecr_login against an ECR protocol stand-in and a real registry", () => {
  it("docker-push logs in with ECR's token and pushes; a later build pulls with ecr_login, keys and region from aws_profile", async () => {
    const repo = `${registry.address}/kiln/ecr`;
    const ecrPush = { ecr_login: true, login_server: registry.address, aws_access_key: KEY.accessKeyId, aws_secret_key: KEY.secretAccessKey };
    setEnv({ AWS_REGION: "eu-west-3" });
    const calls = ecr.calls.length;
    const pushed = await build(
      {
        builders: [{ type: "docker", name: "d", image: BASE, pull: false, commit: true }],
        provisioners: [{ type: "shell", inline: ["echo through ecr > /msg.txt"] }],
        "post-processors": [[{ type: "docker-tag", repository: repo, tags: ["v1"] }, { type: "docker-push", ...ecrPush }]],
      },
      "d",
    );
    expect(pushed.outcome.failure?.message).toBeUndefined();
    expect(pushed.ctx.lines()).toEqual(expect.arrayContaining(["Fetching ECR credentials...", "Logging in...", `Pushing: ${repo}:v1`]));
    expect(await registry.tags("kiln/ecr")).toEqual(["v1"]);
    // One signed call with the template's keys, in the agent's region; login_server is no ECR host, so no registryIds.
    expect(ecr.calls.slice(calls)).toEqual([
      { target: ECR_TARGET, accessKeyId: KEY.accessKeyId, region: "eu-west-3", service: "ecr", registryIds: undefined, sessionToken: undefined, error: undefined },
    ]);
    const imageId = pushed.outcome.artifacts[0]?.id ?? "";
    await daemon.docker.getImage(imageId).remove({ force: true });

    // The registry really wants the password: a pull without login is refused.
    setEnv({ AWS_REGION: undefined });
    const anonymous = await build({ builders: [{ type: "docker", name: "p", image: `${repo}:v1`, discard: true }] }, "p");
    expect(anonymous.outcome.failure?.code).toBe(ErrorCode.BuildFailed);
    expect(anonymous.outcome.failure?.message).toMatch(/^Error pulling Docker image: .*(no basic auth credentials|unauthorized)/s);

    const pulled = await build(
      {
        builders: [{ type: "docker", name: "p", image: `${repo}:v1`, discard: true, ecr_login: true, login_server: registry.address, aws_profile: PROFILE }],
        provisioners: [{ type: "shell", inline: ["cat /msg.txt"] }],
      },
      "p",
    );
    expect(pulled.outcome.failure?.message).toBeUndefined();
    const lines = pulled.ctx.lines();
    expect(lines.indexOf(`Pulling Docker image: ${repo}:v1`)).toBeLessThan(lines.indexOf("Fetching ECR credentials..."));
    expect(lines.indexOf("Fetching ECR credentials...")).toBeLessThan(lines.indexOf("Logging in..."));
    expect(lines).toContain("through ecr");
    expect(ecr.calls.at(-1)).toEqual({
      target: ECR_TARGET,
      accessKeyId: PROFILE_KEY.accessKeyId,
      region: PROFILE_REGION,
      service: "ecr",
      registryIds: undefined,
      sessionToken: PROFILE_KEY.sessionToken,
      error: undefined,
    });
    // The registry password never reaches the log.
    expect([...pushed.ctx.lines(), ...lines].filter((l) => l.includes(PASSWORD))).toEqual([]);
    await daemon.docker.getImage(`${repo}:v1`).remove({ force: true });
  }, 120_000);

  it("keys ECR rejects, and no region, fail the build with a message naming the option to fix", async () => {
    const image = `${registry.address}/kiln/never:v1`;
    const builder = { type: "docker", name: "d", image, discard: true, ecr_login: true, login_server: registry.address };
    setEnv({ AWS_REGION: "eu-west-3" });
    const wrongSecret = await build({ builders: [{ ...builder, aws_access_key: KEY.accessKeyId, aws_secret_key: "not-the-secret" }] }, "d");
    expect(wrongSecret.outcome.state).toBe("failed");
    expect(wrongSecret.outcome.failure?.code).toBe(ErrorCode.BuildFailed);
    expect(wrongSecret.outcome.failure?.message).toMatch(/^Error fetching ECR credentials: InvalidSignatureException: The request signature we calculated .*\(check aws_secret_key/);
    expect(ecr.calls.at(-1)).toMatchObject({ accessKeyId: KEY.accessKeyId, error: "InvalidSignatureException" });

    const wrongKey = await build({ builders: [{ ...builder, aws_access_key: "AKIAUNKNOWN000000000", aws_secret_key: KEY.secretAccessKey }] }, "d");
    expect(wrongKey.outcome.failure?.message).toMatch(/^Error fetching ECR credentials: UnrecognizedClientException: .*\(check aws_access_key/);
    expect(ecr.calls.at(-1)).toMatchObject({ accessKeyId: "AKIAUNKNOWN000000000", error: "UnrecognizedClientException" });

    // login_server is no ECR host and the agent has no region: refused before any call.
    setEnv({ AWS_REGION: undefined });
    const calls = ecr.calls.length;
    const noRegion = await build({ builders: [{ ...builder, aws_access_key: KEY.accessKeyId, aws_secret_key: KEY.secretAccessKey }] }, "d");
    expect(noRegion.outcome.failure?.code).toBe(ErrorCode.BuildFailed);
    expect(noRegion.outcome.failure?.message).toMatch(/is not <account number>\.dkr\.ecr\.<region>\.amazonaws\.com .* set AWS_REGION/);
    expect(ecr.calls.length).toBe(calls);
    for (const r of [wrongSecret, wrongKey, noRegion]) expect(r.ctx.steps).toContain("pull:halted");
  }, 120_000);

  it("an ECR host name gives the region and account, as in Packer, whatever the agent's region", async () => {
    setEnv({ AWS_REGION: "us-east-1" });
    const login = await ecrGetLogin(
      { login_server: "https://210987654321.dkr.ecr.eu-central-1.amazonaws.com", aws_access_key: KEY.accessKeyId, aws_secret_key: KEY.secretAccessKey },
      AbortSignal.timeout(30_000),
    );
    expect(login).toEqual({ username: "AWS", password: PASSWORD });
    expect(ecr.calls.at(-1)).toMatchObject({ accessKeyId: KEY.accessKeyId, region: "eu-central-1", registryIds: ["210987654321"], error: undefined });

    // An endpoint nobody listens on is UNAVAILABLE (retryable), naming it; a cancel is a cancel.
    const ecrHost = { login_server: "210987654321.dkr.ecr.eu-central-1.amazonaws.com", aws_access_key: KEY.accessKeyId, aws_secret_key: KEY.secretAccessKey };
    setEnv({ AWS_ENDPOINT_URL_ECR: `http://127.0.0.1:${await freePort()}` });
    const unreachable = await ecrGetLogin(ecrHost, AbortSignal.timeout(30_000)).catch((err: unknown) => err);
    expect(unreachable).toMatchObject({ code: ErrorCode.Unavailable, message: expect.stringMatching(/^Error fetching ECR credentials: cannot reach ECR at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/) });
    setEnv({ AWS_ENDPOINT_URL_ECR: ecr.endpoint });
    const calls = ecr.calls.length;
    await expect(ecrGetLogin(ecrHost, AbortSignal.abort())).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    expect(ecr.calls.length).toBe(calls);

    expect(parseEcrServer("012345678901.dkr.ecr.us-west-2.amazonaws.com")).toEqual({ accountId: "012345678901", region: "us-west-2" });
    expect(parseEcrServer("012345678901.dkr.ecr.cn-north-1.amazonaws.com.cn/repo")).toEqual({ accountId: "012345678901", region: "cn-north-1" });
    expect(parseEcrServer("012345678901.dkr.ecr-fips.us-east-1.amazonaws.com:443")).toEqual({ accountId: "012345678901", region: "us-east-1" });
    expect(parseEcrServer("127.0.0.1:5000")).toBeUndefined();
    expect(parseEcrServer("registry.example.com")).toBeUndefined();
  }, 60_000);
});
