/**
 * The libvirt XML the builder generates: the build's volumes and domain, resolved from the compiled config, and the
 * kiln metadata that marks a domain (and the volumes it created) as kiln's so `reapLeftovers` can find them after a
 * crash. Pure: no libvirt calls here.
 */
import { randomBytes, randomUUID } from "node:crypto";
import {
  LIBVIRT_NAME_PREFIX,
  interfaceType,
  volumeSourceType,
  type LibvirtBuilderConfig,
  type LibvirtInterfaceConfig,
} from "../../../../core/src/mod.js";

/** The XML namespace of kiln's domain metadata. */
export const KILN_XMLNS = "https://kiln.dev/xmlns/libvirt-builder/1";

export interface VolumeSourcePlan {
  readonly type: "backing-store" | "cloning" | "external";
  readonly pool: string;
  readonly volume: string;
  readonly urls: readonly string[];
  readonly checksum: string;
}

export interface VolumePlan {
  readonly pool: string;
  readonly name: string;
  /** The device alias as libvirt stores it (`ua-` prefixed), or undefined. */
  readonly alias?: string;
  readonly targetDev: string;
  readonly bus: string;
  readonly readonly: boolean;
  readonly device: "disk" | "cdrom";
  readonly capacity?: string;
  readonly allocation?: string;
  readonly format?: "qcow2" | "raw";
  /** How kiln creates it; undefined: the volume exists already and is only attached. */
  readonly source?: VolumeSourcePlan;
  readonly artifact: boolean;
}

export interface InterfacePlan {
  readonly type: "user" | "managed" | "bridge";
  readonly alias: string;
  readonly mac: string;
  readonly model: string;
  readonly network: string;
  readonly bridge: string;
  readonly communicator: boolean;
}

export interface BuildPlan {
  readonly domainName: string;
  /** Fixed for the build: redefining a domain needs the same UUID. */
  readonly uuid: string;
  readonly volumes: readonly VolumePlan[];
  readonly interfaces: readonly InterfacePlan[];
}

/** A QEMU-style locally administered MAC address (52:54:00:xx:xx:xx). */
function randomMac(): string {
  const b = randomBytes(3);
  return ["52", "54", "00", ...[...b].map((x) => x.toString(16).padStart(2, "0"))].join(":");
}

/** Resolves names, aliases and defaults the way packer-plugin-libvirt's Prepare does; `warn` gets its warnings. */
export function planBuild(c: LibvirtBuilderConfig, warn: (text: string) => void): BuildPlan {
  const domainName = (c.domain_name ?? "") !== "" ? (c.domain_name as string) : `${LIBVIRT_NAME_PREFIX}${randomBytes(6).toString("hex")}`;
  const volumesIn = c.volume ?? [];
  const artifactAlias = (c.artifact_volume_alias ?? "") !== "" ? c.artifact_volume_alias : volumesIn.some((v) => v.alias === "artifact") ? "artifact" : undefined;
  const volumes = volumesIn.map((v, i): VolumePlan => {
    const pool = (v.pool ?? "") !== "" ? (v.pool as string) : "default";
    const alias = (v.alias ?? "") !== "" ? v.alias : undefined;
    let bus = v.bus ?? "";
    let targetDev = v.target_dev ?? "";
    if (bus === "" && targetDev === "") {
      bus = "virtio";
      targetDev = `vd${String.fromCharCode(97 + i)}`;
      warn(`Bus and target_dev aren't set for volume ${i}, using bus=${bus} and target_dev=${targetDev}`);
    }
    const name = (v.name ?? "") !== "" ? (v.name as string) : `${domainName}-${alias ?? randomBytes(4).toString("hex")}`;
    const type = volumeSourceType(v) as VolumeSourcePlan["type"] | undefined;
    const source: VolumeSourcePlan | undefined =
      type === undefined
        ? undefined
        : { type, pool: v.source?.pool ?? "", volume: v.source?.volume ?? "", urls: v.source?.urls ?? [], checksum: v.source?.checksum ?? "" };
    const capacity = (v.capacity ?? "") !== "" ? v.capacity : (v.size ?? "") !== "" ? v.size : undefined;
    const allocation = (v.size ?? "") !== "" ? v.size : undefined;
    const format = (v.format as "qcow2" | "raw" | undefined) ?? (type === "external" ? undefined : type !== undefined ? "qcow2" : undefined);
    const artifact = artifactAlias !== undefined ? alias === artifactAlias : volumesIn.length === 1;
    return { pool, name, alias: alias === undefined ? undefined : `ua-${alias}`, targetDev, bus, readonly: v.readonly ?? false, device: v.device === "cdrom" ? "cdrom" : "disk", capacity, allocation, format, source, artifact };
  });
  const nicsIn = c.network_interface ?? [];
  const commAlias = (c.communicator_interface ?? "") !== "" ? c.communicator_interface : nicsIn.some((n) => n.alias === "communicator") ? "communicator" : undefined;
  if (nicsIn.length > 0 && commAlias === undefined && nicsIn.length > 1) warn("using first network interface found as communicator interface");
  const interfaces = nicsIn.map(
    (n: LibvirtInterfaceConfig, i): InterfacePlan => ({
      type: interfaceType(n) as InterfacePlan["type"],
      alias: `ua-${(n.alias ?? "") !== "" ? (n.alias as string) : `net${i}`}`,
      mac: (n.mac ?? "") !== "" ? (n.mac as string).toLowerCase() : randomMac(),
      model: (n.model ?? "") !== "" ? (n.model as string) : "virtio",
      network: (n.network ?? "") !== "" ? (n.network as string) : "default",
      bridge: n.bridge ?? "",
      communicator: commAlias !== undefined ? n.alias === commAlias : i === 0,
    }),
  );
  return { domainName, uuid: randomUUID(), volumes, interfaces };
}

/** Escapes text for XML attributes and elements. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** Splits "10G", "512M", "1024" into libvirt's value and unit. */
export function sizeXml(tag: string, size: string): string {
  const m = /^(\d+)\s*([a-zA-Z]*)$/.exec(size.trim());
  const value = m?.[1] ?? "0";
  const unit = (m?.[2] ?? "").replace(/^([kKMGT])i?[bB]?$/, (_, u: string) => `${u.toUpperCase() === "K" ? "K" : u}iB`) || "B";
  return `<${tag} unit='${unit}'>${value}</${tag}>`;
}

/** What the kiln metadata element records. */
export interface KilnMark {
  readonly jobId: string;
  readonly buildName: string;
  /** The agent process that made the domain (util/owner.ts); "" in a mark written before owners were recorded. */
  readonly owner: string;
  /** The volumes kiln creates (and so must remove): pool, name, and whether it is the kept artifact. */
  readonly volumes: readonly { pool: string; name: string; kept: boolean }[];
}

export function markXml(mark: KilnMark): string {
  const vols = mark.volumes
    .map((v) => `<kiln:volume pool="${xmlEscape(v.pool)}" name="${xmlEscape(v.name)}" kept="${v.kept ? "yes" : "no"}"/>`)
    .join("");
  return `<kiln:build xmlns:kiln="${KILN_XMLNS}" job="${xmlEscape(mark.jobId)}" build="${xmlEscape(mark.buildName)}" owner="${xmlEscape(mark.owner)}">${vols}</kiln:build>`;
}

/** Reads kiln's mark back from a domain's XML; undefined for domains kiln did not make. */
export function parseMark(domainXml: string): KilnMark | undefined {
  const m = /<([\w-]+:)?build [^>]*xmlns(:[\w-]+)?="https:\/\/kiln\.dev\/xmlns\/libvirt-builder\/1"[^>]*?(\/>|>([\s\S]*?)<\/([\w-]+:)?build>)/.exec(domainXml);
  if (m === null) return undefined;
  const attr = (text: string, name: string): string => unescapeXml(new RegExp(`\\b${name}="([^"]*)"`).exec(text)?.[1] ?? "");
  const head = m[0].slice(0, m[0].indexOf(">"));
  const volumes = [...(m[4] ?? "").matchAll(/<([\w-]+:)?volume [^>]*\/>/g)].map((v) => ({
    pool: attr(v[0], "pool"),
    name: attr(v[0], "name"),
    kept: attr(v[0], "kept") === "yes",
  }));
  return { jobId: attr(head, "job"), buildName: attr(head, "build"), owner: attr(head, "owner"), volumes };
}

function unescapeXml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export interface DomainXmlInput {
  readonly config: LibvirtBuilderConfig;
  readonly plan: BuildPlan;
  readonly domainType: "kvm" | "qemu";
  readonly mark: KilnMark;
  /** Disk formats of the attached volumes, by `pool/name`; omit the disks entirely (the first, marking define). */
  readonly diskFormats?: ReadonlyMap<string, string>;
  /** The host port forwarded to the guest's SSH port for a `user` communicator interface. */
  readonly forwardPort?: number;
  readonly guestPort: number;
}

/** QEMU's device name for a libvirt NIC model. */
function qemuNicDevice(model: string): string {
  return model === "virtio" ? "virtio-net-pci" : model;
}

/** The domain XML. A `user` communicator interface becomes a QEMU user netdev with a 127.0.0.1 host forward. */
export function domainXml(input: DomainXmlInput): string {
  const { config: c, plan } = input;
  const e = xmlEscape;
  const os: string[] = [`<type arch='${e(c.arch)}'${(c.chipset ?? "") !== "" ? ` machine='${e(c.chipset ?? "")}'` : ""}>hvm</type>`];
  if ((c.kernel ?? "") !== "") {
    os.push(`<kernel>${e(c.kernel ?? "")}</kernel>`);
    if ((c.initrd ?? "") !== "") os.push(`<initrd>${e(c.initrd ?? "")}</initrd>`);
    if ((c.cmdline ?? "") !== "") os.push(`<cmdline>${e(c.cmdline ?? "")}</cmdline>`);
  } else {
    for (const dev of (c.boot_devices ?? []).length > 0 ? (c.boot_devices ?? []) : ["hd"]) os.push(`<boot dev='${e(dev)}'/>`);
  }
  const devices: string[] = [];
  const qemuArgs: string[] = [];
  if (input.diskFormats !== undefined) {
    for (const v of plan.volumes) {
      const fmt = input.diskFormats.get(`${v.pool}/${v.name}`) ?? "raw";
      devices.push(
        `<disk type='volume' device='${v.device}'><driver name='qemu' type='${e(fmt)}'/><source pool='${e(v.pool)}' volume='${e(v.name)}'/>` +
          `<target dev='${e(v.targetDev)}' bus='${e(v.bus)}'/>${v.readonly || v.device === "cdrom" ? "<readonly/>" : ""}${v.alias !== undefined ? `<alias name='${e(v.alias)}'/>` : ""}</disk>`,
      );
    }
    plan.interfaces.forEach((n, i) => {
      if (n.type === "user" && n.communicator && input.forwardPort !== undefined) {
        const id = `kilnnet${i}`;
        qemuArgs.push("-netdev", `user,id=${id},hostfwd=tcp:127.0.0.1:${input.forwardPort}-:${input.guestPort}`);
        // libvirt allocates PCI slots from the bottom: the device it does not know about takes one from the top.
        qemuArgs.push("-device", `${qemuNicDevice(n.model)},netdev=${id},mac=${n.mac},bus=pci.0,addr=0x${(0x1e - i).toString(16)}`);
        return;
      }
      const source = n.type === "managed" ? `<source network='${e(n.network)}'/>` : n.type === "bridge" ? `<source bridge='${e(n.bridge)}'/>` : "";
      const type = n.type === "managed" ? "network" : n.type;
      devices.push(`<interface type='${type}'><mac address='${e(n.mac)}'/>${source}<model type='${e(n.model)}'/><alias name='${e(n.alias)}'/></interface>`);
    });
  }
  devices.push("<serial type='pty'><target port='0'/></serial>", "<console type='pty'><target type='serial' port='0'/></console>");
  for (const g of c.graphics ?? []) {
    const port = g.port ?? 0;
    devices.push(`<graphics type='vnc' ${port > 0 ? `port='${port}' autoport='no'` : "autoport='yes'"} listen='127.0.0.1'/>`);
  }
  if ((c.graphics ?? []).length > 0) devices.push("<video><model type='virtio'/></video>");
  const cpu = (c.cpu_mode ?? "") !== "" ? `<cpu mode='${e(c.cpu_mode ?? "")}'/>` : "";
  const qemuLine = qemuArgs.length > 0 ? `<qemu:commandline>${qemuArgs.map((a) => `<qemu:arg value='${e(a)}'/>`).join("")}</qemu:commandline>` : "";
  return [
    `<domain type='${input.domainType}' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>`,
    `<name>${e(plan.domainName)}</name>`,
    `<uuid>${plan.uuid}</uuid>`,
    `<metadata>${markXml(input.mark)}</metadata>`,
    `<memory unit='MiB'>${c.memory}</memory>`,
    `<vcpu>${c.vcpu}</vcpu>`,
    cpu,
    `<os>${os.join("")}</os>`,
    "<features><acpi/><apic/></features>",
    "<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>",
    `<devices>${devices.join("")}</devices>`,
    qemuLine,
    "</domain>",
  ].join("\n");
}

/** The `<volume>` XML for a volume kiln creates empty or from a clone (`vol-create`, `vol-create-from`). */
export function volumeXml(v: VolumePlan, capacity: string, format: string): string {
  return `<volume><name>${xmlEscape(v.name)}</name>${sizeXml("capacity", capacity)}${v.allocation !== undefined ? sizeXml("allocation", v.allocation) : ""}<target><format type='${xmlEscape(format)}'/></target></volume>`;
}
