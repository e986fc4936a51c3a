/**
 * A small vSphere (vim25) client: what the vsphere-iso and vsphere-clone builders need, nothing more. Every call
 * takes an AbortSignal. Errors are kiln errors with one-line messages: bad credentials and untrusted certificates
 * are InvalidArgument, an unreachable vCenter Unavailable, inventory paths that do not exist NotFound (naming the
 * template field and the path), methods the server lacks Unsupported, other faults BuildFailed.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { BuildFailedError, InvalidArgumentError, NotFoundError, TimeoutError } from "../../../core/src/mod.js";
import { sleep } from "../util/abort.js";
import { MoRef, SoapConnection, VimFault, child, faultError, list, moref, text, xsiType, type Node, type SoapValue } from "./soap.js";

export { MoRef } from "./soap.js";

export interface ConnectOptions {
  /** Packer's `vcenter_server`: a host name, `host:port`, or a URL. */
  readonly server: string;
  readonly username: string;
  readonly password: string;
  /** Accept a certificate that does not verify (Packer's `insecure_connection`). */
  readonly insecure: boolean;
}

interface ServiceContent {
  readonly rootFolder: MoRef;
  readonly propertyCollector: MoRef;
  readonly viewManager: MoRef;
  readonly sessionManager: MoRef;
  readonly searchIndex: MoRef;
  readonly ovfManager?: MoRef;
  readonly fileManager?: MoRef;
}

/** Property values by path, for one object. */
export type Props = ReadonlyMap<string, Node>;

/** How often task and guest state are polled. */
const POLL_INTERVAL_MS = 250;

function endpointUrl(server: string): URL {
  if (/^https?:\/\//i.test(server)) {
    const u = new URL(server);
    if (u.pathname === "/" || u.pathname === "") u.pathname = "/sdk";
    return u;
  }
  return new URL(`https://${server}/sdk`);
}

export class VsphereClient {
  private constructor(
    private readonly conn: SoapConnection,
    readonly content: ServiceContent,
    readonly server: string,
  ) {}

  /** Connects and logs in. @throws InvalidArgumentError for bad credentials, UnavailableError when unreachable */
  static async connect(options: ConnectOptions, signal: AbortSignal): Promise<VsphereClient> {
    let url: URL;
    try {
      url = endpointUrl(options.server);
    } catch (err) {
      throw new InvalidArgumentError(`vcenter_server '${options.server}' is not a host name or URL`, { cause: err });
    }
    const conn = new SoapConnection({ url, insecure: options.insecure, server: options.server });
    try {
      const sc = await conn.call("RetrieveServiceContent", new MoRef("ServiceInstance", "ServiceInstance"), {}, signal);
      const ref = (name: string): MoRef | undefined => moref(child(sc, name));
      const required = (name: string): MoRef => {
        const r = ref(name);
        if (r === undefined) throw new InvalidArgumentError(`vcenter_server ${options.server}: the service content lacks ${name}; is this a vCenter or ESXi SDK endpoint?`);
        return r;
      };
      const content: ServiceContent = {
        rootFolder: required("rootFolder"),
        propertyCollector: required("propertyCollector"),
        viewManager: required("viewManager"),
        sessionManager: required("sessionManager"),
        searchIndex: required("searchIndex"),
        ovfManager: ref("ovfManager"),
        fileManager: ref("fileManager"),
      };
      try {
        await conn.call("Login", content.sessionManager, { userName: options.username, password: options.password }, signal);
      } catch (err) {
        if (err instanceof VimFault && err.faultType === "InvalidLogin") {
          throw new InvalidArgumentError(
            `cannot log in to vCenter ${options.server} as '${options.username}': incorrect user name or password (check username and password)`,
            { cause: err },
          );
        }
        throw err;
      }
      return new VsphereClient(conn, content, options.server);
    } catch (err) {
      conn.close();
      throw faultError(err, `vCenter ${options.server}`);
    }
  }

  /** The session cookie, for datastore and NFC transfers. */
  get sessionCookie(): string | undefined {
    return this.conn.sessionCookie;
  }

  /** Logs out and closes the connection; never throws. */
  async close(): Promise<void> {
    await this.conn.call("Logout", this.content.sessionManager, {}, AbortSignal.timeout(10_000)).catch(() => undefined);
    this.conn.close();
  }

  /** A raw call; faults become kiln errors that start with `what`. */
  async call(method: string, self: MoRef, args: Readonly<Record<string, SoapValue>>, signal: AbortSignal, what = method): Promise<Node> {
    try {
      return await this.conn.call(method, self, args, signal);
    } catch (err) {
      throw faultError(err, what);
    }
  }

  /** Reads `paths` of each object in `objs` (all of type `type`). Objects that vanished are left out. */
  async retrieve(type: string, objs: readonly MoRef[], paths: readonly string[], signal: AbortSignal): Promise<Map<string, Props>> {
    const out = new Map<string, Props>();
    if (objs.length === 0) return out;
    const spec = {
      propSet: { type, pathSet: [...paths] },
      objectSet: objs.map((obj) => ({ obj, skip: false })),
    };
    let token: string | undefined;
    let rv = await this.call("RetrievePropertiesEx", this.content.propertyCollector, { specSet: spec, options: {} }, signal, "reading properties");
    for (;;) {
      for (const o of list(child(rv, "objects"))) {
        const ref = moref(child(o, "obj"));
        if (ref === undefined) continue;
        const props = new Map<string, Node>();
        for (const p of list(child(o, "propSet"))) props.set(text(child(p, "name")), child(p, "val"));
        out.set(ref.value, props);
      }
      token = text(child(rv, "token"));
      if (token === "") return out;
      rv = await this.call("ContinueRetrievePropertiesEx", this.content.propertyCollector, { token }, signal, "reading properties");
    }
  }

  /** The properties of one object (an empty map when it does not exist). */
  async props(obj: MoRef, paths: readonly string[], signal: AbortSignal): Promise<Props> {
    return (await this.retrieve(obj.type, [obj], paths, signal)).get(obj.value) ?? new Map();
  }

  /** Every object of `type` below `root` (recursively), with its name. */
  async descendants(root: MoRef, type: string, signal: AbortSignal): Promise<{ ref: MoRef; name: string }[]> {
    const view = moref(
      await this.call("CreateContainerView", this.content.viewManager, { container: root, type, recursive: true }, signal, "listing the inventory"),
    );
    if (view === undefined) return [];
    try {
      const spec = {
        propSet: { type, pathSet: ["name"] },
        objectSet: {
          obj: view,
          skip: true,
          selectSet: { $type: "TraversalSpec", name: "view", type: "ContainerView", path: "view", skip: false },
        },
      };
      const found: { ref: MoRef; name: string }[] = [];
      let rv = await this.call("RetrievePropertiesEx", this.content.propertyCollector, { specSet: spec, options: {} }, signal, "listing the inventory");
      for (;;) {
        for (const o of list(child(rv, "objects"))) {
          const ref = moref(child(o, "obj"));
          const name = list(child(o, "propSet")).map((p) => text(child(p, "val")))[0] ?? "";
          if (ref !== undefined) found.push({ ref, name });
        }
        const token = text(child(rv, "token"));
        if (token === "") return found;
        rv = await this.call("ContinueRetrievePropertiesEx", this.content.propertyCollector, { token }, signal, "listing the inventory");
      }
    } finally {
      await this.conn.call("DestroyView", view, {}, AbortSignal.timeout(10_000)).catch(() => undefined);
    }
  }

  /** SearchIndex.FindByInventoryPath: the object at `path` ("DC0/vm/folder/name"), or undefined. */
  async findByInventoryPath(path: string, signal: AbortSignal): Promise<MoRef | undefined> {
    return moref(await this.call("FindByInventoryPath", this.content.searchIndex, { inventoryPath: path }, signal, `looking up ${path}`));
  }

  /**
   * Finds an object of `type` below `root` named `name`, or at inventory path `base/name` when `name` holds a `/`.
   * @throws NotFoundError naming `field` and the path; InvalidArgumentError when the name is ambiguous
   */
  async find(root: MoRef, basePath: string, type: string, name: string, field: string, signal: AbortSignal): Promise<MoRef> {
    if (name.includes("/")) {
      const full = name.startsWith("/") ? name.slice(1) : `${basePath}/${name}`;
      const ref = await this.findByInventoryPath(full, signal);
      if (ref === undefined || !sameKind(ref.type, type)) throw new NotFoundError(`${field} '${name}' not found (no ${type} at inventory path ${full})`);
      return ref;
    }
    const matches = (await this.descendants(root, type, signal)).filter((d) => d.name === name);
    const [first, second] = matches;
    if (first === undefined) throw new NotFoundError(`${field} '${name}' not found (no ${type} of that name under ${basePath})`);
    if (second !== undefined) {
      throw new InvalidArgumentError(`${field} '${name}' is ambiguous: ${matches.length} ${type} objects have that name under ${basePath}; give its path`);
    }
    return first.ref;
  }

  /**
   * Waits for a task to finish; returns its result node. On abort, asks vCenter to cancel the task (best effort).
   * @throws BuildFailedError with the task's fault, prefixed with `what`
   */
  async waitTask(task: MoRef, what: string, signal: AbortSignal, timeoutMs = 30 * 60_000): Promise<Node> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (signal.aborted) {
        await this.conn.call("CancelTask", task, {}, AbortSignal.timeout(10_000)).catch(() => undefined);
      }
      const info = (await this.props(task, ["info"], signal)).get("info");
      const state = text(child(info, "state"));
      if (state === "success") return child(info, "result");
      if (state === "error") {
        const fault = child(info, "error");
        throw faultError(new VimFault(what, xsiType(child(fault, "fault")), text(child(fault, "localizedMessage"))), what);
      }
      if (Date.now() > deadline) throw new TimeoutError(`${what}: the vCenter task did not finish within ${Math.round(timeoutMs / 1000)}s`);
      await sleep(POLL_INTERVAL_MS, signal);
    }
  }

  /** Starts a `*_Task` method and waits for it. */
  async runTask(method: string, self: MoRef, args: Readonly<Record<string, SoapValue>>, what: string, signal: AbortSignal): Promise<Node> {
    const task = moref(await this.call(method, self, args, signal, what));
    if (task === undefined) throw faultError(new VimFault(method, "", "no task returned"), what);
    return this.waitTask(task, what, signal);
  }

  /**
   * Uploads a local file to `[dsName] remotePath` through the datastore HTTP interface (`/folder`), unless a file of
   * the same size is already there. @returns whether it uploaded
   */
  async uploadToDatastore(localFile: string, dcPath: string, dsName: string, remotePath: string, signal: AbortSignal): Promise<boolean> {
    const target = `/folder/${remotePath.split("/").map(encodeURIComponent).join("/")}?dcPath=${encodeURIComponent(dcPath)}&dsName=${encodeURIComponent(dsName)}`;
    const { size } = await stat(localFile);
    const head = await this.conn.transfer("HEAD", target, signal);
    if (head.status === 200 && Number(head.headers["content-length"]) === size) return false;
    const put = await this.conn.transfer("PUT", target, signal, createReadStream(localFile), {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(size),
    });
    if (put.status < 200 || put.status >= 300) {
      throw new BuildFailedError(`uploading ${localFile} to [${dsName}] ${remotePath}: HTTP ${put.status}`);
    }
    return true;
  }

  /**
   * An NFC device URL as a URL this client can fetch: vCenter writes the host as `*`, meaning "the host you called"
   * (govmomi's Client.ParseURL does the same substitution).
   */
  deviceUrl(raw: string): URL {
    const endpoint = this.conn.endpoint.url;
    const u = new URL(raw);
    if (u.hostname === "*") {
      // Without a port of its own, "*" means the endpoint's host and port.
      if (u.port === "") u.port = endpoint.port;
      u.hostname = endpoint.hostname;
    }
    return u;
  }

  /** Opens a download of an NFC device URL (see {@link SoapConnection.get}). */
  openDownload(url: URL, signal: AbortSignal): Promise<IncomingMessage> {
    return this.conn.get(url, signal);
  }

  /** Polls `check` until it returns a value; undefined when `timeoutMs` passed. */
  async poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, signal: AbortSignal): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() >= deadline) return undefined;
      await sleep(Math.min(POLL_INTERVAL_MS * 2, Math.max(1, deadline - Date.now())), signal);
    }
  }
}

/** Whether an object of `actual` type satisfies a lookup for `wanted` (a cluster is a compute resource, ...). */
function sameKind(actual: string, wanted: string): boolean {
  if (actual === wanted) return true;
  if (wanted === "ComputeResource") return actual === "ClusterComputeResource";
  if (wanted === "Network") return actual === "DistributedVirtualPortgroup" || actual === "OpaqueNetwork";
  if (wanted === "ResourcePool") return actual === "VirtualApp";
  return false;
}

