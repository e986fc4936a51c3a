/**
 * Who made a resource that can outlive the agent (a container, a libvirt domain): `<host name>/<pid>` of the agent
 * process. An agent restarted after a crash reaps what its dead predecessor on the same host left. Only the safe
 * direction counts as orphaned: a token from another host, a malformed one, or one whose pid is alive (another agent,
 * or a reused pid) is never reaped — at worst something is kept, never is a live job's resource removed.
 */
import { hostname } from "node:os";

/** This process's owner token. */
export function ownerToken(): string {
  return `${hostname()}/${process.pid}`;
}

/** True when `token` names a process on this host that no longer exists. */
export function isOrphaned(token: string): boolean {
  const slash = token.lastIndexOf("/");
  if (slash <= 0 || token.slice(0, slash) !== hostname()) return false;
  const digits = token.slice(slash + 1);
  if (!/^[1-9]\d*$/.test(digits)) return false;
  return !pidAlive(Number(digits));
}

/** Whether a process exists (EPERM: it exists, under another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
