/**
 * The template's directory, packed for a remote farm: a tar.gz of every file under it except `.git` and what
 * `.kilnignore` lists (one pattern a line, `#` comments; `*` and `?` match within a path segment, `**` across
 * segments; a pattern without `/` matches a name at any depth; a trailing `/` matches directories only).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import * as tar from "tar";

export const IGNORE_FILE = ".kilnignore";

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export interface IgnoreRule {
  readonly regexp: RegExp;
  readonly anyDepth: boolean;
  readonly dirOnly: boolean;
}

export function parseIgnoreFile(text: string): IgnoreRule[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("#"))
    .map((l) => {
      const dirOnly = l.endsWith("/");
      const body = l.replace(/^\/+/, "").replace(/\/+$/, "");
      return { regexp: globToRegExp(body), anyDepth: !l.replace(/\/+$/, "").includes("/"), dirOnly };
    });
}

/** True when `relPath` (posix, relative to the bundle root) is excluded by a rule or by one of its parents. */
export function isIgnored(relPath: string, isDir: boolean, rules: readonly IgnoreRule[]): boolean {
  const segments = relPath.split("/");
  if (segments.includes(".git")) return true;
  for (const rule of rules) {
    if (rule.dirOnly && !isDir) continue;
    if (rule.anyDepth ? segments.some((s) => rule.regexp.test(s)) : rule.regexp.test(relPath)) return true;
  }
  return false;
}

export async function packBundle(dir: string): Promise<Buffer> {
  let rules: IgnoreRule[] = [];
  try {
    rules = parseIgnoreFile(await readFile(path.join(dir, IGNORE_FILE), "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const chunks: Buffer[] = [];
  const stream = tar.c(
    {
      gzip: true,
      cwd: dir,
      portable: true,
      filter: (p, stat) => {
        const rel = path.posix.normalize(p.split(path.sep).join("/")).replace(/^\.\/?/, "");
        return rel === "" || !isIgnored(rel, "isDirectory" in stat && stat.isDirectory(), rules);
      },
    },
    ["."],
  );
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
