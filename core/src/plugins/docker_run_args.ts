/**
 * `docker run` arguments (the docker builder's `run_command`) mapped onto the Engine API's container-create body.
 *
 * Packer passes `run_command` to the `docker` CLI; kiln talks to the Engine API directly, so it understands the
 * flags a build container needs and refuses every other flag by name rather than dropping it. Pure: no I/O.
 */

/** The part of the Engine API's `POST /containers/create` request that `docker run` flags decide. */
export interface DockerRunSpec {
  /** The image argument (the first positional argument). */
  image: string;
  /** The arguments after the image (the container's `Cmd`); undefined when there are none. */
  cmd?: string[];
  entrypoint?: string[];
  /** Always true in kiln (a build container runs detached); recorded for the Run command log line. */
  detach: boolean;
  openStdin: boolean;
  tty: boolean;
  env: string[];
  user?: string;
  workingDir?: string;
  hostname?: string;
  labels: Record<string, string>;
  name?: string;
  platform?: string;
  binds: string[];
  /** Anonymous volumes (`-v /path`). */
  volumes: string[];
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  devices: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[];
  tmpfs: Record<string, string>;
  networkMode?: string;
  memoryBytes?: number;
  shmSizeBytes?: number;
  securityOpt: string[];
  extraHosts: string[];
  dns: string[];
  init?: boolean;
  readOnly: boolean;
  /** `--rm`: kiln removes the build container itself in every case, so it changes nothing. */
  autoRemove: boolean;
}

type Setter = (spec: DockerRunSpec, value: string) => string | undefined;

const BOOL_FLAGS: Readonly<Record<string, (spec: DockerRunSpec) => void>> = {
  detach: (s) => (s.detach = true),
  interactive: (s) => (s.openStdin = true),
  tty: (s) => (s.tty = true),
  privileged: (s) => (s.privileged = true),
  init: (s) => (s.init = true),
  "read-only": (s) => (s.readOnly = true),
  rm: (s) => (s.autoRemove = true),
};

/** Parses `512m`, `1g`, `1024` (docker's RAMInBytes). */
function bytesOf(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(value);
  if (m === null) return undefined;
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[(m[2] ?? "").toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

/** Docker's `--device host[:container[:permissions]]`. */
export function parseDevice(value: string): DockerRunSpec["devices"][number] | string {
  const parts = value.split(":");
  if (parts.length > 3 || parts[0] === "") return `invalid device "${value}": expected host-path[:container-path[:permissions]]`;
  const host = parts[0] ?? "";
  let container = parts[1] ?? host;
  let perms = parts[2] ?? "rwm";
  if (parts.length === 2 && /^[rwm]+$/.test(container)) {
    perms = container;
    container = host;
  }
  return { PathOnHost: host, PathInContainer: container, CgroupPermissions: perms };
}

/** Docker's `--tmpfs path[:options]`. */
export function addTmpfs(tmpfs: Record<string, string>, value: string): void {
  const i = value.indexOf(":");
  if (i < 0) tmpfs[value] = "";
  else tmpfs[value.slice(0, i)] = value.slice(i + 1);
}

const VALUE_FLAGS: Readonly<Record<string, Setter>> = {
  entrypoint: (s, v) => void (s.entrypoint = [v]),
  env: (s, v) => void s.env.push(v),
  user: (s, v) => void (s.user = v),
  workdir: (s, v) => void (s.workingDir = v),
  hostname: (s, v) => void (s.hostname = v),
  label: (s, v) => {
    const i = v.indexOf("=");
    s.labels[i < 0 ? v : v.slice(0, i)] = i < 0 ? "" : v.slice(i + 1);
    return undefined;
  },
  name: (s, v) => void (s.name = v),
  platform: (s, v) => void (s.platform = v),
  volume: (s, v) => {
    if (v.includes(":")) s.binds.push(v);
    else s.volumes.push(v);
    return undefined;
  },
  "cap-add": (s, v) => void s.capAdd.push(v),
  "cap-drop": (s, v) => void s.capDrop.push(v),
  device: (s, v) => {
    const d = parseDevice(v);
    if (typeof d === "string") return d;
    s.devices.push(d);
    return undefined;
  },
  tmpfs: (s, v) => void addTmpfs(s.tmpfs, v),
  network: (s, v) => void (s.networkMode = v),
  memory: (s, v) => {
    const b = bytesOf(v);
    if (b === undefined) return `invalid --memory "${v}": expected a size such as 512m`;
    s.memoryBytes = b;
    return undefined;
  },
  "shm-size": (s, v) => {
    const b = bytesOf(v);
    if (b === undefined) return `invalid --shm-size "${v}": expected a size such as 64m`;
    s.shmSizeBytes = b;
    return undefined;
  },
  "security-opt": (s, v) => void s.securityOpt.push(v),
  "add-host": (s, v) => void s.extraHosts.push(v),
  dns: (s, v) => void s.dns.push(v),
};

const ALIASES: Readonly<Record<string, string>> = {
  d: "detach",
  i: "interactive",
  t: "tty",
  e: "env",
  u: "user",
  w: "workdir",
  h: "hostname",
  l: "label",
  v: "volume",
  m: "memory",
  net: "network",
};

/** The flags kiln maps, as `docker run --help` spells them. */
export const SUPPORTED_RUN_FLAGS: readonly string[] = [...Object.keys(BOOL_FLAGS), ...Object.keys(VALUE_FLAGS)].map((f) => `--${f}`).sort();

function emptySpec(): DockerRunSpec {
  return {
    image: "",
    detach: false,
    openStdin: false,
    tty: false,
    env: [],
    labels: {},
    binds: [],
    volumes: [],
    privileged: false,
    capAdd: [],
    capDrop: [],
    devices: [],
    tmpfs: {},
    securityOpt: [],
    extraHosts: [],
    dns: [],
    readOnly: false,
    autoRemove: false,
  };
}

/** The result of parsing `run_command`: the spec, or every problem (each names `run_command`). */
export interface ParsedRunCommand {
  readonly spec?: DockerRunSpec;
  readonly problems: readonly string[];
}

function unsupported(flag: string): string {
  return (
    `run_command: the docker run flag ${flag} is not supported by kiln (it drives the Engine API, not the docker CLI); ` +
    `remove it, or use one of ${SUPPORTED_RUN_FLAGS.join(" ")}`
  );
}

/**
 * Parses `docker run` arguments (without the leading `run`). Flags come first, `--` ends them, then the image and
 * the command. `--flag=value`, `--flag value`, `-e value`, `-eVALUE` and clustered short flags (`-dit`) are
 * understood, as the docker CLI does.
 */
export function parseRunCommand(args: readonly string[]): ParsedRunCommand {
  const spec = emptySpec();
  const problems: string[] = [];
  let i = 0;
  const apply = (flag: string, name: string, inline: string | undefined): void => {
    const bool = BOOL_FLAGS[name];
    if (bool !== undefined) {
      if (inline === undefined || inline === "true") bool(spec);
      else if (inline !== "false") problems.push(`run_command: ${flag} takes no value, got "${inline}"`);
      return;
    }
    const setter = VALUE_FLAGS[name];
    if (setter === undefined) {
      problems.push(unsupported(flag));
      return;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= args.length) {
        problems.push(`run_command: ${flag} needs a value`);
        return;
      }
      value = args[++i] ?? "";
    }
    const problem = setter(spec, value);
    if (problem !== undefined) problems.push(`run_command: ${problem}`);
  };
  for (; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--") {
      i++;
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const raw = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      apply(`--${raw}`, ALIASES[raw] ?? raw, eq < 0 ? undefined : arg.slice(eq + 1));
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // A cluster of short flags: booleans, the last one may take a value (the rest of the cluster or the next arg).
      for (let k = 1; k < arg.length; k++) {
        const ch = arg[k] ?? "";
        const name = ALIASES[ch];
        if (name === undefined) {
          problems.push(unsupported(`-${ch}`));
          break;
        }
        if (BOOL_FLAGS[name] !== undefined) {
          apply(`-${ch}`, name, undefined);
          continue;
        }
        const rest = arg.slice(k + 1).replace(/^=/, "");
        apply(`-${ch}`, name, rest === "" ? undefined : rest);
        break;
      }
      continue;
    }
    break;
  }
  const positional = args.slice(i);
  const [image, ...cmd] = positional;
  if (image === undefined || image === "") problems.push("run_command: no image argument: the arguments must end with the image ({{.Image}}) and its command");
  else spec.image = image;
  if (cmd.length > 0) spec.cmd = cmd;
  return problems.length > 0 ? { problems } : { spec, problems };
}
