/**
 * Go's `filepath.Glob`: `*`, `?`, `[...]` and `\` escapes within one path element, no `**`; matches are sorted
 * within each directory and returned as the pattern spells them. Patterns resolve against `cwd`.
 */
import { readdir, lstat } from "node:fs/promises";
import path from "node:path";

/** The pattern is malformed (Go's `filepath.ErrBadPattern`). */
export class BadPatternError extends Error {
  constructor() {
    super("syntax error in pattern");
    this.name = "BadPatternError";
  }
}

const hasMeta = (s: string): boolean => /[*?[\\]/.test(s);

/** Converts one path element of a Go pattern to a RegExp. @throws BadPatternError */
function elementRegExp(pattern: string): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? "";
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\") {
      i++;
      if (i >= pattern.length) throw new BadPatternError();
      re += escape(pattern[i] ?? "");
    } else if (c === "[") {
      let j = i + 1;
      let cls = "";
      if (pattern[j] === "^") {
        cls += "^";
        j++;
      }
      let closed = false;
      let first = true;
      while (j < pattern.length) {
        const d = pattern[j] ?? "";
        if (d === "]" && !first) {
          closed = true;
          break;
        }
        first = false;
        if (d === "\\") {
          j++;
          if (j >= pattern.length) throw new BadPatternError();
          cls += escape(pattern[j] ?? "");
        } else if (d === "-" && cls !== "" && cls !== "^" && pattern[j + 1] !== "]") {
          cls += "-";
        } else cls += escape(d);
        j++;
      }
      if (!closed || cls === "" || cls === "^") throw new BadPatternError();
      re += `[${cls}]`;
      i = j;
    } else re += escape(c);
  }
  return new RegExp(`${re}$`, "s");
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Expands one glob pattern. Nonexistent paths simply do not match. @throws BadPatternError */
export async function goGlob(pattern: string, cwd: string): Promise<string[]> {
  if (!hasMeta(pattern)) return (await exists(path.resolve(cwd, pattern))) ? [pattern] : [];
  const dir = path.dirname(pattern);
  const base = path.basename(pattern);
  const dirs = hasMeta(dir) && dir !== pattern ? await goGlob(dir, cwd) : [dir];
  const re = elementRegExp(base);
  const out: string[] = [];
  for (const d of dirs) {
    let names: string[];
    try {
      names = await readdir(path.resolve(cwd, d));
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      if (re.test(name)) out.push(d === "." && !pattern.startsWith("./") ? name : path.join(d, name));
    }
  }
  return out;
}
