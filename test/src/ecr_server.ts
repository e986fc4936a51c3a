/**
 * A stand-in for Amazon ECR's GetAuthorizationToken on a loopback port: AWS ECR cannot be reached from tests and
 * Debian packages no ECR emulator, so this implements the one documented operation kiln calls — the AWS JSON 1.1
 * protocol (`POST /`, `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken`) — and checks that
 * each request is Signature Version 4 signed with a known key pair (and session token, when the key has one). The
 * signature is recomputed here from the request with node:crypto, independently of the SDK's signer. A good request
 * gets `base64("AWS:<password>")`, the login for the real registry the test pairs it with; a bad one gets ECR's error
 * types (`UnrecognizedClientException`, `InvalidSignatureException`, ...).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";

/** A key pair the stand-in accepts. */
export interface EcrTestKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** When set, requests with this key must carry it as a signed `X-Amz-Security-Token`. */
  readonly sessionToken?: string;
}

/** One request the stand-in answered, good or bad. */
export interface EcrCall {
  readonly target: string;
  readonly accessKeyId: string;
  /** The region and service of the signature's credential scope. */
  readonly region: string;
  readonly service: string;
  readonly registryIds: readonly string[] | undefined;
  readonly sessionToken: string | undefined;
  /** The error type returned, or undefined for a token. */
  readonly error: string | undefined;
}

export interface EcrServerOptions {
  readonly keys: readonly EcrTestKey[];
  /** The registry password the token carries (the user is `AWS`, as ECR's). */
  readonly password: string;
  /** The `proxyEndpoint` returned with the token. */
  readonly proxyEndpoint: string;
}

const sha256 = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");
const hmac = (key: Buffer | string, data: string): Buffer => createHmac("sha256", key).update(data).digest();

class AwsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** SigV4's URI encoding (RFC 3986 unreserved characters kept). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Verifies the request's SigV4 `Authorization` header; returns the key and the credential scope.
 * @throws AwsFault with ECR's error type when the request is not signed by a known key
 */
function verifySignature(req: IncomingMessage, body: Buffer, keys: readonly EcrTestKey[]): { key: EcrTestKey; region: string; service: string } {
  const header = req.headers.authorization ?? "";
  if (header === "") throw new AwsFault("MissingAuthenticationTokenException", "Missing Authentication Token", 403);
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(header);
  if (m === null) throw new AwsFault("IncompleteSignatureException", `Authorization header is not a SigV4 signature: ${header}`);
  const [, accessKeyId = "", date = "", region = "", service = "", signedHeaderList = "", signature = ""] = m;
  const key = keys.find((k) => k.accessKeyId === accessKeyId);
  if (key === undefined) throw new AwsFault("UnrecognizedClientException", "The security token included in the request is invalid.");
  const signedHeaders = signedHeaderList.split(";");
  for (const required of ["host", "x-amz-date"]) {
    if (!signedHeaders.includes(required)) throw new AwsFault("IncompleteSignatureException", `SignedHeaders must include ${required}`);
  }
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  if (!amzDate.startsWith(date)) throw new AwsFault("IncompleteSignatureException", "Date in Credential scope does not match X-Amz-Date");
  const when = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));
  if (!Number.isFinite(when) || Math.abs(Date.now() - when) > 15 * 60_000) throw new AwsFault("InvalidSignatureException", "Signature expired or X-Amz-Date invalid");
  const token = req.headers["x-amz-security-token"];
  if (key.sessionToken !== undefined && (token !== key.sessionToken || !signedHeaders.includes("x-amz-security-token"))) {
    throw new AwsFault("UnrecognizedClientException", "The security token included in the request is invalid.");
  }
  const canonicalHeaders = signedHeaders
    .map((name) => {
      const value = req.headers[name];
      const text = Array.isArray(value) ? value.join(",") : (value ?? "");
      return `${name}:${text.trim().replace(/\s+/g, " ")}\n`;
    })
    .join("");
  const url = new URL(req.url ?? "/", "http://x");
  const canonicalQuery = [...url.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a = "", x = ""], [b = "", y = ""]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalPath = url.pathname
    .split("/")
    .map((segment) => uriEncode(uriEncode(decodeURIComponent(segment))))
    .join("/");
  const payloadHash = sha256(body);
  const declared = req.headers["x-amz-content-sha256"];
  if (typeof declared === "string" && declared !== payloadHash) throw new AwsFault("InvalidSignatureException", "x-amz-content-sha256 does not match the payload");
  const canonicalRequest = [req.method ?? "", canonicalPath, canonicalQuery, canonicalHeaders, signedHeaderList, payloadHash].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${key.secretAccessKey}`, date), region), service), "aws4_request");
  const expected = createHmac("sha256", signingKey).update(stringToSign).digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, "hex"))) {
    throw new AwsFault(
      "InvalidSignatureException",
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
  }
  return { key, region, service };
}

export class EcrServer implements AsyncDisposable {
  /** Every request answered, in order. */
  readonly calls: EcrCall[] = [];

  private constructor(
    private readonly server: Server,
    private readonly options: EcrServerOptions,
  ) {}

  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_ECR`. */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  static async start(options: EcrServerOptions): Promise<EcrServer> {
    const server = createServer();
    const self = new EcrServer(server, options);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => void self.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return self;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const target = String(req.headers["x-amz-target"] ?? "");
    const auth = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\//.exec(req.headers.authorization ?? "");
    let registryIds: string[] | undefined;
    const record = (error: string | undefined): void => {
      this.calls.push({
        target,
        accessKeyId: auth?.[1] ?? "",
        region: auth?.[2] ?? "",
        service: auth?.[3] ?? "",
        registryIds,
        sessionToken: typeof req.headers["x-amz-security-token"] === "string" ? req.headers["x-amz-security-token"] : undefined,
        error,
      });
    };
    const reply = (status: number, payload: unknown, errorType?: string): void => {
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": `kiln-test-${this.calls.length}`, ...(errorType ? { "x-amzn-errortype": errorType } : {}) });
      res.end(JSON.stringify(payload));
    };
    try {
      if (req.method !== "POST") throw new AwsFault("UnknownOperationException", `${req.method ?? ""} is not supported`);
      if (!String(req.headers["content-type"] ?? "").startsWith("application/x-amz-json-1.1")) {
        throw new AwsFault("SerializationException", "Content-Type must be application/x-amz-json-1.1");
      }
      const { service } = verifySignature(req, body, this.options.keys);
      if (service !== "ecr") throw new AwsFault("InvalidSignatureException", `Credential should be scoped to correct service: 'ecr', not '${service}'`);
      if (target !== ECR_TARGET) throw new AwsFault("UnknownOperationException", `unknown operation ${target}`);
      const input = JSON.parse(body.length === 0 ? "{}" : body.toString()) as { registryIds?: string[] };
      registryIds = input.registryIds;
      const token = Buffer.from(`AWS:${this.options.password}`).toString("base64");
      const expiresAt = Math.floor(Date.now() / 1000) + 12 * 3600;
      const data = (registryIds ?? ["000000000000"]).map(() => ({ authorizationToken: token, expiresAt, proxyEndpoint: this.options.proxyEndpoint }));
      record(undefined);
      reply(200, { authorizationData: data });
    } catch (err) {
      const fault = err instanceof AwsFault ? err : new AwsFault("ServerException", String(err), 500);
      record(fault.type);
      reply(fault.status, { __type: fault.type, message: fault.message }, fault.type);
    }
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
