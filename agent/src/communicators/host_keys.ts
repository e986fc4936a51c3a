/**
 * SSH host-key checking for the communicator. Packer accepts any host key; kiln does the same by default
 * (accept-new: the first key seen is pinned for the communicator's reconnects) and offers two opt-in pins:
 * `ssh_host_key_fingerprint` (`SHA256:…` as `ssh-keygen -lf` prints it) and `ssh_known_hosts_file` (OpenSSH's
 * known_hosts format: plain or hashed host names, `[host]:port`, `*`/`?` patterns and `!` negation, `@revoked`).
 */
import { createHash, createHmac } from "node:crypto";
import { HostKeyMismatchError } from "../../../core/src/mod.js";

/** `SHA256:<base64 without padding>` of a host key blob, as OpenSSH prints it. */
export function sha256Fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

interface KnownHostsLine {
  readonly marker: "" | "@revoked" | "@cert-authority";
  readonly hosts: string;
  readonly keyType: string;
  readonly key: Buffer;
}

function parseKnownHosts(text: string): KnownHostsLine[] {
  const out: KnownHostsLine[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostsLine["marker"] = "";
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") marker = fields.shift() as KnownHostsLine["marker"];
    const [hosts, keyType, key] = fields;
    if (hosts === undefined || keyType === undefined || key === undefined) continue;
    out.push({ marker, hosts, keyType, key: Buffer.from(key, "base64") });
  }
  return out;
}

/** OpenSSH's `match_pattern`: `*` any run, `?` one character; case-insensitive for host names. */
function globMatch(name: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return re.test(name);
}

/** Whether a known_hosts host list (`a,b,!c`, or one hashed `|1|salt|hash`) names `hostPort`. */
function hostsMatch(hosts: string, hostPort: string): boolean {
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|");
    if (salt === undefined || hash === undefined) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(hostPort).digest("base64") === hash;
  }
  let matched = false;
  for (const p of hosts.split(",")) {
    if (p.startsWith("!")) {
      if (globMatch(hostPort, p.slice(1))) return false;
    } else if (globMatch(hostPort, p)) matched = true;
  }
  return matched;
}

/** How OpenSSH names a host in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Decides whether a presented host key is acceptable. */
export interface HostKeyPolicy {
  /** Returns nothing when the key is accepted, else the mismatch error. */
  check(key: Buffer): HostKeyMismatchError | undefined;
}

/** Pins a fingerprint: only a key whose SHA256 fingerprint is `fingerprint` is accepted. */
export function fingerprintPolicy(address: string, fingerprint: string): HostKeyPolicy {
  const want = fingerprint.replace(/=$/, "");
  return {
    check(key) {
      const got = sha256Fingerprint(key);
      if (got === want) return undefined;
      return new HostKeyMismatchError(
        `ssh: the host key of ${address} does not match ssh_host_key_fingerprint: the server presented ${got}, ` +
          `the template pins ${want}; if the machine's key really changed, update ssh_host_key_fingerprint`,
      );
    },
  };
}

/** Accepts only keys that `file` (known_hosts text `text`) lists for `host`/`port`; `@revoked` keys are refused. */
export function knownHostsPolicy(file: string, text: string, host: string, port: number): HostKeyPolicy {
  const name = knownHostsName(host, port);
  const entries = parseKnownHosts(text).filter((e) => e.marker !== "@cert-authority" && hostsMatch(e.hosts, name));
  return {
    check(key) {
      const fp = sha256Fingerprint(key);
      if (entries.some((e) => e.marker === "@revoked" && e.key.equals(key))) {
        return new HostKeyMismatchError(`ssh: the host key of ${name} (${fp}) is marked @revoked in ssh_known_hosts_file ${file}`);
      }
      const listed = entries.filter((e) => e.marker === "");
      if (listed.some((e) => e.key.equals(key))) return undefined;
      if (listed.length === 0) {
        return new HostKeyMismatchError(
          `ssh: ssh_known_hosts_file ${file} has no key for ${name} (the server presented ${fp}); add the host's key ` +
            `(ssh-keyscan -p ${port} ${host} >> ${file}) or remove ssh_known_hosts_file to accept any key`,
        );
      }
      return new HostKeyMismatchError(
        `ssh: the host key of ${name} does not match ssh_known_hosts_file ${file}: the server presented ${fp}, the file ` +
          `lists ${listed.map((e) => sha256Fingerprint(e.key)).join(", ")}; if the machine's key really changed, update the file`,
      );
    },
  };
}
