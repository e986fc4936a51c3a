/**
 * Go's ways of printing things, so that kiln's messages read like Packer's (users compare the two, and the
 * differential tests do too).
 */

/** Go's `%v` of a `[]int` or `[]string`: `[0 3]`. */
export function goList(values: readonly (string | number)[]): string {
  return `[${values.join(" ")}]`;
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EEXIST: "file exists",
  EISDIR: "is a directory",
  ENOTDIR: "not a directory",
  ENOTEMPTY: "directory not empty",
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "file name too long",
  EMFILE: "too many open files",
};

/**
 * Go's `*PathError` text for a failed file operation: `open out/b.txt: no such file or directory`. `op` is Go's
 * operation name (open, stat, remove, mkdir, ...); `file` is the path as the plugin was given it.
 */
export function goPathError(op: string, file: string, err: unknown): string {
  const code = typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : "";
  const text = ERRNO_TEXT[code] ?? (err instanceof Error ? err.message : String(err));
  return `${op} ${file}: ${text}`;
}
