/**
 * The vim25 SOAP transport: requests are built from plain values ({@link SoapValue}), sent over HTTPS with the
 * session cookie, and answers parsed with fast-xml-parser into loosely typed trees read through {@link text},
 * {@link list} and {@link moref}. Faults become kiln errors with one-line messages.
 *
 * Element order in requests follows the vim25 WSDL sequences (a real vCenter validates it; vcsim does not).
 */
import http from "node:http";
import https from "node:https";
import { XMLParser } from "fast-xml-parser";
import {
  BuildFailedError,
  InvalidArgumentError,
  UnavailableError,
  UnsupportedError,
  ensureKilnError,
  type KilnError,
} from "../../../core/src/mod.js";
import { cancellationOf } from "../util/abort.js";

/** A managed object reference (`<x type="VirtualMachine">vm-42</x>`). */
export class MoRef {
  constructor(
    readonly type: string,
    readonly value: string,
  ) {}
  toString(): string {
    return `${this.type}:${this.value}`;
  }
}

/** A request value: scalars, references, lists (repeated elements) and objects (`$type` gives `xsi:type`). */
export type SoapValue = string | number | boolean | MoRef | SoapObject | readonly SoapValue[] | undefined;
export interface SoapObject {
  /** The element's `xsi:type` (a derived type where the WSDL declares a base type). */
  readonly $type?: string;
  /** Text content of a typed scalar (`{ $type: "xsd:string", $text: "x" }`). */
  readonly $text?: string;
  readonly [key: string]: SoapValue;
}

/** A parsed answer node: fast-xml-parser's tree (attributes as `@name`, text as `#text`). */
export type Node = unknown;

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Serializes one element (or, for a list, one element per item). */
export function element(name: string, value: SoapValue): string {
  if (value === undefined) return "";
  if (Array.isArray(value)) return (value as readonly SoapValue[]).map((v) => element(name, v)).join("");
  if (value instanceof MoRef) return `<${name} type="${escapeXml(value.type)}">${escapeXml(value.value)}</${name}>`;
  if (typeof value === "object") {
    const obj = value as SoapObject;
    const typeAttr = obj.$type === undefined ? "" : ` xsi:type="${escapeXml(obj.$type)}"`;
    if (obj.$text !== undefined) return `<${name}${typeAttr}>${escapeXml(obj.$text)}</${name}>`;
    const body = Object.entries(obj)
      .filter(([k]) => !k.startsWith("$"))
      .map(([k, v]) => element(k, v))
      .join("");
    return `<${name}${typeAttr}>${body}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** The text of a scalar node ("" when absent). */
export function text(node: Node): string {
  if (node === undefined || node === null) return "";
  if (typeof node === "string" || typeof node === "number" || typeof node === "boolean") return String(node);
  const t = (node as Record<string, unknown>)["#text"];
  return t === undefined ? "" : String(t);
}

/** A repeated element as a list (fast-xml-parser gives a single occurrence as the bare node). */
export function list(node: Node): Node[] {
  if (node === undefined || node === null || node === "") return [];
  return Array.isArray(node) ? node : [node];
}

/** A child of an object node. */
export function child(node: Node, name: string): Node {
  return node !== null && typeof node === "object" && !Array.isArray(node) ? (node as Record<string, unknown>)[name] : undefined;
}

/** A managed object reference node. */
export function moref(node: Node): MoRef | undefined {
  const value = text(node);
  const type = child(node, "@type");
  return value === "" || typeof type !== "string" ? undefined : new MoRef(type, value);
}

/** A node's `xsi:type` without prefix (servers spell the prefix differently: `xsi:`, `XMLSchema-instance:`). */
export function xsiType(node: Node): string {
  if (node === null || typeof node !== "object") return "";
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k.startsWith("@") && k.endsWith(":type") && !k.startsWith("@xmlns") && typeof v === "string") return v.replace(/^.*:/, "");
  }
  return "";
}

/** A SOAP fault from vCenter: the fault type (`InvalidLogin`, `NotFound`, ...) and its text. */
export class VimFault extends Error {
  constructor(
    readonly method: string,
    readonly faultType: string,
    readonly faultString: string,
  ) {
    super(`${method}: ${faultString !== "" ? faultString : faultType}${faultType !== "" && faultString !== "" ? ` (${faultType})` : ""}`);
    this.name = "VimFault";
  }
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  removeNSPrefix: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // Character references (`&#xA;`, what Go's encoder, vcsim's and govmomi's, writes for a newline in text) are
  // decoded only with htmlEntities; without it a descriptor came back with literal "&#xA;" for every line break.
  htmlEntities: true,
});

function stripPrefix(obj: Node, local: string): Node {
  if (obj === null || typeof obj !== "object") return undefined;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (k === local || k.endsWith(`:${local}`)) return v;
  }
  return undefined;
}

export interface SoapEndpoint {
  /** `https://host[:port]/sdk` */
  readonly url: URL;
  /** Accept any server certificate (Packer's `insecure_connection`). */
  readonly insecure: boolean;
  /** What the errors call the server (the template's `vcenter_server`). */
  readonly server: string;
}

/** Default time a single SOAP call may take before it counts as unreachable. */
const CALL_TIMEOUT_MS = 120_000;

/** One vim25 session: a cookie jar of one cookie, and the call function. */
export class SoapConnection {
  private cookie: string | undefined;
  private readonly agent: http.Agent;

  constructor(readonly endpoint: SoapEndpoint) {
    this.agent =
      endpoint.url.protocol === "https:"
        ? new https.Agent({ keepAlive: true, rejectUnauthorized: !endpoint.insecure })
        : new http.Agent({ keepAlive: true });
  }

  /** The session cookie, for HTTP transfers outside SOAP (datastore and NFC URLs). */
  get sessionCookie(): string | undefined {
    return this.cookie;
  }

  close(): void {
    this.agent.destroy();
  }

  /**
   * Calls `method` on `self` with `args` (in WSDL order) and returns the `returnval` node (undefined for void
   * methods). @throws VimFault for a SOAP fault, kiln errors for transport failures
   */
  async call(method: string, self: MoRef, args: Readonly<Record<string, SoapValue>>, signal: AbortSignal): Promise<Node> {
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>` +
      `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ` +
      `xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
      `<soapenv:Body><${method} xmlns="urn:vim25">${element("_this", self)}` +
      Object.entries(args)
        .map(([k, v]) => element(k, v))
        .join("") +
      `</${method}></soapenv:Body></soapenv:Envelope>`;
    const { status, text: answer, setCookie } = await this.post(body, signal);
    const cookie = setCookie.map((c) => c.split(";")[0] ?? "").find((c) => c.startsWith("vmware_soap_session="));
    if (cookie !== undefined) this.cookie = cookie;
    let doc: Node;
    try {
      doc = parser.parse(answer);
    } catch (err) {
      throw new BuildFailedError(`${this.endpoint.server}: ${method}: the answer is not XML (HTTP ${status})`, { cause: err });
    }
    const bodyNode = stripPrefix(stripPrefix(doc, "Envelope"), "Body");
    if (bodyNode === undefined) {
      throw new BuildFailedError(`${this.endpoint.server}: ${method}: not a vSphere SOAP endpoint (HTTP ${status}, no SOAP body)`);
    }
    const fault = stripPrefix(bodyNode, "Fault");
    if (fault !== undefined) {
      const detail = child(fault, "detail");
      let faultType = "";
      if (detail !== null && typeof detail === "object") {
        const first = Object.entries(detail as Record<string, unknown>).find(([k]) => !k.startsWith("@") && k !== "#text");
        if (first !== undefined) {
          faultType = xsiType(first[1]) || first[0].replace(/^.*:/, "").replace(/Fault$/, "");
        }
      }
      throw new VimFault(method, faultType, text(child(fault, "faultstring")).trim());
    }
    return child(stripPrefix(bodyNode, `${method}Response`), "returnval");
  }

  /**
   * A plain HTTP request to the server with the session cookie (datastore `/folder` transfers): `body` is streamed.
   * Returns the status and headers; the answer body is discarded.
   */
  transfer(
    method: "PUT" | "HEAD",
    pathAndQuery: string,
    signal: AbortSignal,
    body?: NodeJS.ReadableStream,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
    const { url, server } = this.endpoint;
    const lib = url.protocol === "https:" ? https : http;
    if (signal.aborted) return Promise.reject(cancellationOf(signal));
    return new Promise((resolve, reject) => {
      const req = lib.request(
        new URL(pathAndQuery, url),
        { method, agent: this.agent, signal, headers: { ...headers, ...(this.cookie !== undefined ? { Cookie: this.cookie } : {}) } },
        (res) => {
          res.resume();
          res.on("error", (err) => reject(transportError(server, err, signal)));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        },
      );
      req.on("error", (err) => reject(transportError(server, err, signal)));
      if (body === undefined) req.end();
      else {
        body.on("error", (err) => req.destroy(err));
        body.pipe(req);
      }
    });
  }

  /**
   * A GET of an absolute URL on the server or one of its hosts (an NFC lease's device URL) with the session cookie
   * and this connection's TLS settings. Resolves with the open response once its status is 200; the caller consumes
   * (or destroys) the body, which `signal` also aborts. @throws BuildFailedError for another status
   */
  get(target: URL, signal: AbortSignal): Promise<http.IncomingMessage> {
    const { server } = this.endpoint;
    const lib = target.protocol === "https:" ? https : http;
    if (signal.aborted) return Promise.reject(cancellationOf(signal));
    return new Promise((resolve, reject) => {
      const req = lib.request(
        target,
        {
          method: "GET",
          agent: target.protocol === this.endpoint.url.protocol ? this.agent : undefined,
          rejectUnauthorized: !this.endpoint.insecure,
          signal,
          headers: this.cookie !== undefined ? { Cookie: this.cookie } : {},
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new BuildFailedError(`downloading ${target.pathname} from ${server}: HTTP ${res.statusCode ?? 0}`));
            return;
          }
          resolve(res);
        },
      );
      req.on("error", (err) => reject(transportError(server, err, signal)));
      req.end();
    });
  }

  private post(body: string, signal: AbortSignal): Promise<{ status: number; text: string; setCookie: string[] }> {
    const { url, server } = this.endpoint;
    const lib = url.protocol === "https:" ? https : http;
    if (signal.aborted) return Promise.reject(cancellationOf(signal));
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method: "POST",
          agent: this.agent,
          signal,
          timeout: CALL_TIMEOUT_MS,
          headers: {
            "Content-Type": "text/xml; charset=utf-8",
            SOAPAction: "urn:vim25/6.5",
            ...(this.cookie !== undefined ? { Cookie: this.cookie } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (err) => reject(transportError(server, err, signal)));
          res.on("end", () => {
            const setCookie = res.headers["set-cookie"] ?? [];
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), setCookie });
          });
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
      req.on("error", (err) => reject(transportError(server, err, signal)));
      req.end(body);
    });
  }
}

const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** A transport failure as a one-line kiln error: unreachable (retryable), or an untrusted certificate. */
export function transportError(server: string, err: unknown, signal?: AbortSignal): KilnError {
  if (signal?.aborted) return cancellationOf(signal);
  const code = (err as NodeJS.ErrnoException).code ?? "";
  if (TLS_CODES.has(code)) {
    return new InvalidArgumentError(
      `vcenter_server ${server}: its TLS certificate is not trusted (${code}): install its CA on the agent, or set ` +
        `"insecure_connection": true to accept it without verification`,
      { cause: err },
    );
  }
  return new UnavailableError(`cannot reach vCenter at ${server} (vcenter_server): ${(err as Error).message}`, { cause: err });
}

/** Maps a fault to a kiln error: NotImplemented → Unsupported, the rest → BuildFailed. */
export function faultError(err: unknown, what: string): KilnError {
  if (err instanceof VimFault) {
    if (err.faultType === "NotImplemented" || err.faultType === "MethodNotFound" || /not implemented/i.test(err.faultString)) {
      return new UnsupportedError(`${what}: this vCenter does not implement ${err.method}`, { cause: err });
    }
    return new BuildFailedError(`${what}: ${err.message}`, { cause: err });
  }
  return ensureKilnError(err);
}
