/**
 * Registry credentials for the docker builder's pull and the docker-push post-processor: Packer's `login` (static
 * username/password) or `ecr_login` (a token from Amazon ECR's GetAuthorizationToken, through the AWS SDK).
 *
 * ECR as Packer does it (builder/docker/ecr_login.go): the account and region come from `login_server`
 * (`<account>.dkr.ecr.<region>.amazonaws.com`); credentials are `aws_access_key`/`aws_secret_key` (+ `aws_token`) when
 * both keys are set, otherwise the SDK's default chain (environment, shared files with `aws_profile`, SSO, process,
 * container and instance roles). The token decodes to `AWS:<password>`, the login the engine then uses.
 *
 * Beyond Packer, which refuses a `login_server` of another form: kiln then takes the region from the agent's AWS
 * configuration (`AWS_REGION`, the profile's `region`) and asks for the caller's default registry. Endpoints follow the
 * SDK's standard configuration (`AWS_ENDPOINT_URL_ECR`, `AWS_ENDPOINT_URL`, a profile's `endpoint_url`), e.g. for a
 * VPC endpoint.
 */
import type Docker from "dockerode";
import { BuildFailedError, UnavailableError, type KilnError } from "../../../core/src/mod.js";
import { cancellationOf } from "../util/abort.js";
import { registryAuth } from "./engine.js";

/** The login fields the docker builder and the docker-push post-processor share (Packer's names). */
export interface RegistryLoginConfig {
  readonly login?: boolean;
  readonly login_server?: string;
  readonly login_username?: string;
  readonly login_password?: string;
  readonly ecr_login?: boolean;
  readonly aws_access_key?: string;
  readonly aws_secret_key?: string;
  readonly aws_token?: string;
  readonly aws_profile?: string;
}

/** The account and region an ECR registry host names, or undefined for another host. */
export function parseEcrServer(server: string): { accountId: string; region: string } | undefined {
  const m = /^(?:https?:\/\/)?(\d+)\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?(?:[:/]|$)/.exec(server.trim());
  if (m === null) return undefined;
  return { accountId: m[1] ?? "", region: m[2] ?? "" };
}

/** What a failed SDK call looks like (service exceptions carry `name` and `$metadata`). */
interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT"]);

function ecrError(err: unknown, endpoint: string, signal: AbortSignal): KilnError {
  if (signal.aborted) return cancellationOf(signal);
  const e = (err ?? {}) as AwsErrorShape;
  const message = e.message ?? String(err);
  const prefix = "Error fetching ECR credentials";
  if (e.name === "CredentialsProviderError") {
    return new BuildFailedError(
      `${prefix}: no AWS credentials (${message}): set aws_access_key and aws_secret_key, or aws_profile, or give the agent AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a role`,
      { cause: err },
    );
  }
  if (e.name === "InvalidSignatureException" || e.name === "SignatureDoesNotMatch") {
    return new BuildFailedError(`${prefix}: ${e.name}: ${message} (check aws_secret_key, or the secret key of aws_profile)`, { cause: err });
  }
  if (e.name === "UnrecognizedClientException" || e.name === "InvalidClientTokenId" || e.name === "ExpiredTokenException") {
    return new BuildFailedError(`${prefix}: ${e.name}: ${message} (check aws_access_key and aws_token, or the keys of aws_profile)`, { cause: err });
  }
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) {
    return new UnavailableError(`${prefix}: cannot reach ECR at ${endpoint} (${e.code}): check the agent's network, or AWS_ENDPOINT_URL_ECR`, { cause: err });
  }
  return new BuildFailedError(`${prefix}: ${e.name !== undefined && e.name !== "Error" ? `${e.name}: ` : ""}${message}`, { cause: err });
}

/**
 * Packer's EcrGetLogin: GetAuthorizationToken for `loginServer`'s registry, decoded to the registry login.
 * @throws BuildFailedError naming the field to fix (region, credentials, rejected keys), UnavailableError when ECR
 * cannot be reached, the cancellation when `signal` fires
 */
export async function ecrGetLogin(config: RegistryLoginConfig, signal: AbortSignal): Promise<{ username: string; password: string }> {
  const server = config.login_server ?? "";
  const parsed = parseEcrServer(server);
  const { ECRClient, GetAuthorizationTokenCommand } = await import("@aws-sdk/client-ecr");
  const accessKey = config.aws_access_key ?? "";
  const secretKey = config.aws_secret_key ?? "";
  const token = config.aws_token ?? "";
  const profile = config.aws_profile ?? "";
  const client = new ECRClient({
    ...(parsed !== undefined ? { region: parsed.region } : {}),
    ...(profile !== "" ? { profile } : {}),
    ...(accessKey !== "" && secretKey !== ""
      ? { credentials: { accessKeyId: accessKey, secretAccessKey: secretKey, ...(token !== "" ? { sessionToken: token } : {}) } }
      : {}),
  });
  try {
    let region: string;
    try {
      region = await client.config.region();
    } catch (err) {
      throw new BuildFailedError(
        `Error fetching ECR credentials: login_server "${server}" is not <account number>.dkr.ecr.<region>.amazonaws.com and the agent has no AWS region configured: ` +
          `use the registry's ECR host name, or set AWS_REGION on the agent (or a region in the aws_profile's config)`,
        { cause: err },
      );
    }
    const endpoint = process.env.AWS_ENDPOINT_URL_ECR ?? process.env.AWS_ENDPOINT_URL ?? `ECR in ${region}`;
    let authorizationToken: string | undefined;
    try {
      const out = await client.send(new GetAuthorizationTokenCommand(parsed !== undefined ? { registryIds: [parsed.accountId] } : {}), { abortSignal: signal });
      authorizationToken = out.authorizationData?.[0]?.authorizationToken;
    } catch (err) {
      throw ecrError(err, endpoint, signal);
    }
    const decoded = Buffer.from(authorizationToken ?? "", "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) throw new BuildFailedError(`Error fetching ECR credentials: ${endpoint} returned no authorization token of the form user:password`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  } finally {
    client.destroy();
  }
}

/**
 * The `X-Registry-Auth` credentials a pull or push uses: ECR's (`ecr_login`, logging "Fetching ECR credentials..."
 * as Packer does), the static login (`login`), or undefined for none.
 */
export async function registryLogin(config: RegistryLoginConfig, log: (message: string) => void, signal: AbortSignal): Promise<Docker.AuthConfig | undefined> {
  if (config.ecr_login === true) {
    log("Fetching ECR credentials...");
    const { username, password } = await ecrGetLogin(config, signal);
    return { username, password, serveraddress: config.login_server ?? "" };
  }
  if (config.login === true) return registryAuth({ username: config.login_username, password: config.login_password, server: config.login_server });
  return undefined;
}
