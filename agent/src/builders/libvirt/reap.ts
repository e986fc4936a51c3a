/**
 * Finds and removes what libvirt builds left behind after an agent crash: every domain carrying kiln's metadata is
 * destroyed and undefined, and the volumes its metadata lists as created by kiln are deleted, except an artifact
 * volume a successful build marked as kept.
 */
import { ensureKilnError } from "../../../../core/src/mod.js";
import { parseMark } from "./domain_xml.js";
import { DomainState, LibvirtConnection } from "./libvirt.js";
import { isOrphaned } from "../../util/owner.js";

export interface ReapReport {
  /** Domains removed. */
  readonly domains: readonly string[];
  /** Volumes deleted, as `pool/name`. */
  readonly volumes: readonly string[];
  /** What could not be removed, with libvirt's reason. */
  readonly errors: readonly string[];
}

export interface ReapOptions {
  /** Only reap the domains of these jobs (default: every kiln-marked domain). */
  readonly jobIds?: readonly string[];
  /**
   * Only reap domains whose mark names an agent process on this host that is gone (util/owner.ts): what an agent
   * does at start. Domains of live processes, of other hosts, and marks without an owner are kept.
   */
  readonly orphanedOnly?: boolean;
}

/** Reaps kiln-marked domains and their volumes on the libvirtd at `uri`. */
export async function reapLeftovers(uri: string, options: ReapOptions = {}): Promise<ReapReport> {
  const conn = await LibvirtConnection.open(uri);
  const domains: string[] = [];
  const volumes: string[] = [];
  const errors: string[] = [];
  try {
    for (const domain of await conn.domains()) {
      const name = await domain.getName();
      const found = parseMark(await domain.getXMLDesc());
      if (found === undefined) continue;
      if (options.jobIds !== undefined && !options.jobIds.includes(found.jobId)) continue;
      if (options.orphanedOnly === true && !isOrphaned(found.owner)) continue;
      try {
        if ((await domain.getInfo()).state !== DomainState.Shutoff) await domain.destroy();
        for (const v of found.volumes) {
          if (v.kept) continue;
          try {
            await conn.virsh(["vol-delete", "--pool", v.pool, v.name]);
            volumes.push(`${v.pool}/${v.name}`);
          } catch (err) {
            const text = ensureKilnError(err).message;
            if (!/not found|no storage vol/i.test(text)) errors.push(`${v.pool}/${v.name}: ${text}`);
          }
        }
        await domain.undefine();
        domains.push(name);
      } catch (err) {
        errors.push(`${name}: ${ensureKilnError(err).message}`);
      }
    }
  } finally {
    await conn.close();
  }
  return { domains, volumes, errors };
}
