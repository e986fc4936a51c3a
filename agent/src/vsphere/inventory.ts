/**
 * Resolves Packer's LocationConfig (`datacenter`, `cluster`, `host`, `resource_pool`, `datastore`, `folder`) and
 * networks against the vCenter inventory. Every lookup runs; all that fail are reported at once, one line each,
 * naming the template field and the path.
 */
import { KilnError, NotFoundError, ErrorCode, InvalidArgumentError } from "../../../core/src/mod.js";
import type { SoapValue } from "./soap.js";
import { MoRef, child, list, moref, text } from "./soap.js";
import type { VsphereClient } from "./client.js";

/** Where the VM goes. */
export interface Location {
  readonly datacenter: MoRef;
  /** The datacenter's inventory path ("DC0", "folder/DC1"). */
  readonly dcPath: string;
  readonly folder: MoRef;
  readonly pool: MoRef;
  /** Set when `host` was given. */
  readonly host?: MoRef;
  readonly datastore: MoRef;
  readonly datastoreName: string;
}

export interface LocationRequest {
  readonly datacenter?: string;
  readonly cluster?: string;
  readonly host?: string;
  readonly resource_pool?: string;
  readonly datastore?: string;
  readonly folder?: string;
}

/** The inventory path of an object: its name and its parents' up to (not including) the root folder. */
async function inventoryPath(client: VsphereClient, ref: MoRef, signal: AbortSignal): Promise<string> {
  const names: string[] = [];
  let at: MoRef | undefined = ref;
  while (at !== undefined && at.value !== client.content.rootFolder.value) {
    const props = await client.props(at, ["name", "parent"], signal);
    names.unshift(text(props.get("name")));
    at = moref(props.get("parent"));
  }
  return names.join("/");
}

/** Runs `f`; a NotFound or InvalidArgument error is collected instead of thrown. */
async function collect<T>(problems: string[], f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof KilnError && (err.code === ErrorCode.NotFound || err.code === ErrorCode.InvalidArgument)) {
      problems.push(err.message);
      return undefined;
    }
    throw err;
  }
}

/** The datacenter: by name or path, or the only one. */
export async function findDatacenter(client: VsphereClient, name: string | undefined, signal: AbortSignal): Promise<{ ref: MoRef; path: string }> {
  const root = client.content.rootFolder;
  if ((name ?? "") !== "") {
    const ref = await client.find(root, "", "Datacenter", name ?? "", "datacenter", signal);
    return { ref, path: await inventoryPath(client, ref, signal) };
  }
  const all = await client.descendants(root, "Datacenter", signal);
  const [only, second] = all;
  if (only === undefined) throw new NotFoundError("datacenter: this vCenter has no datacenter");
  if (second !== undefined) {
    throw new InvalidArgumentError(`datacenter must be set: this vCenter has ${all.length} datacenters (${all.map((d) => d.name).join(", ")})`);
  }
  return { ref: only.ref, path: await inventoryPath(client, only.ref, signal) };
}

/** Resolves the whole location; throws one error listing every lookup that failed. */
export async function resolveLocation(client: VsphereClient, req: LocationRequest, signal: AbortSignal): Promise<Location> {
  const dc = await findDatacenter(client, req.datacenter, signal);
  const dcProps = await client.props(dc.ref, ["vmFolder", "hostFolder", "datastoreFolder"], signal);
  const vmFolder = moref(dcProps.get("vmFolder")) as MoRef;
  const hostFolder = moref(dcProps.get("hostFolder")) as MoRef;
  const datastoreFolder = moref(dcProps.get("datastoreFolder")) as MoRef;
  const problems: string[] = [];

  const cluster =
    (req.cluster ?? "") === ""
      ? undefined
      : await collect(problems, () => client.find(hostFolder, `${dc.path}/host`, "ClusterComputeResource", req.cluster ?? "", "cluster", signal));
  const host =
    (req.host ?? "") === ""
      ? undefined
      : await collect(problems, () =>
          client.find(cluster ?? hostFolder, cluster !== undefined ? `${dc.path}/host/${req.cluster}` : `${dc.path}/host`, "HostSystem", req.host ?? "", "host", signal),
        );
  // The compute resource whose pools and datastores apply: the cluster, or the host's parent.
  let compute: MoRef | undefined = cluster;
  if (compute === undefined && host !== undefined) compute = moref((await client.props(host, ["parent"], signal)).get("parent"));

  let pool: MoRef | undefined;
  if (compute !== undefined) {
    const rootPool = moref((await client.props(compute, ["resourcePool"], signal)).get("resourcePool"));
    const rp = req.resource_pool ?? "";
    if (rp === "" || rp === "Resources" || rp === "/") pool = rootPool;
    else if (rootPool !== undefined) {
      const base = `${await inventoryPath(client, compute, signal)}/Resources`;
      pool = await collect(problems, () => client.find(rootPool, base, "ResourcePool", rp.replace(/^Resources\//, ""), "resource_pool", signal));
    }
  }

  let datastore: MoRef | undefined;
  if ((req.datastore ?? "") !== "") {
    datastore = await collect(problems, () => client.find(datastoreFolder, `${dc.path}/datastore`, "Datastore", req.datastore ?? "", "datastore", signal));
  } else {
    const seen = host ?? compute;
    const all = seen === undefined ? [] : refsOf((await client.props(seen, ["datastore"], signal)).get("datastore"));
    if (all.length === 1) datastore = all[0];
    else if (seen !== undefined) problems.push(`datastore must be set: ${req.host ?? req.cluster ?? ""} sees ${all.length} datastores`);
  }

  let folder: MoRef | undefined = vmFolder;
  const folderPath = (req.folder ?? "").replace(/^\/+|\/+$/g, "");
  if (folderPath !== "") {
    const full = `${dc.path}/vm/${folderPath}`;
    folder = await collect(problems, async () => {
      const ref = await client.findByInventoryPath(full, signal);
      if (ref === undefined || ref.type !== "Folder") throw new NotFoundError(`folder '${req.folder}' not found (no Folder at inventory path ${full})`);
      return ref;
    });
  }

  if (problems.length > 0) throw new NotFoundError(problems.join("\n"));
  if (pool === undefined || datastore === undefined || folder === undefined) {
    throw new InvalidArgumentError("'host' or 'cluster' is required");
  }
  const datastoreName = text((await client.props(datastore, ["name"], signal)).get("name"));
  return { datacenter: dc.ref, dcPath: dc.path, folder, pool, host, datastore, datastoreName };
}

/** A network adapter's backing for `network` (a standard network or a distributed port group). */
export async function networkBacking(
  client: VsphereClient,
  dc: { ref: MoRef; path: string },
  name: string,
  field: string,
  defaults: MoRef | undefined,
  signal: AbortSignal,
): Promise<SoapValue> {
  let ref: MoRef;
  if (name === "") {
    // Packer: the only network the host (or cluster) sees.
    const nets = defaults === undefined ? [] : refsOf((await client.props(defaults, ["network"], signal)).get("network"));
    const [only, second] = nets;
    if (only === undefined || second !== undefined) {
      throw new InvalidArgumentError(`${field} must be set: the host or cluster sees ${nets.length} networks`);
    }
    ref = only;
  } else {
    const networkFolder = moref((await client.props(dc.ref, ["networkFolder"], signal)).get("networkFolder")) as MoRef;
    ref = await client.find(networkFolder, `${dc.path}/network`, "Network", name, field, signal);
  }
  if (ref.type === "DistributedVirtualPortgroup") {
    const pg = await client.props(ref, ["key", "config.distributedVirtualSwitch"], signal);
    const dvs = moref(pg.get("config.distributedVirtualSwitch"));
    const uuid = dvs === undefined ? "" : text((await client.props(dvs, ["uuid"], signal)).get("uuid"));
    return {
      $type: "VirtualEthernetCardDistributedVirtualPortBackingInfo",
      port: { switchUuid: uuid, portgroupKey: text(pg.get("key")) },
    };
  }
  const netName = text((await client.props(ref, ["name"], signal)).get("name"));
  return { $type: "VirtualEthernetCardNetworkBackingInfo", deviceName: netName, network: ref };
}

/** The references in an ArrayOfManagedObjectReference property value. */
export function refsOf(node: unknown): MoRef[] {
  return list(child(node, "ManagedObjectReference"))
    .map(moref)
    .filter((r): r is MoRef => r !== undefined);
}
