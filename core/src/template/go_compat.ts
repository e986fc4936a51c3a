/**
 * Small, exact re-implementations of the Go library behaviour that shows through in Packer 1.6.6's template
 * messages: `fmt` `%v` of decoded JSON values, `strconv` float formatting and quoting, `time.ParseDuration` /
 * `Duration.String`, `hashicorp/go-version`, the two error-list formats (`go-multierror` and mapstructure's), and
 * `mitchellh/go-wordwrap` as HCL's diagnostic writer uses it. Users compare kiln's text with Packer's, so these are
 * byte-for-byte, not approximations.
 */
import { formatFloat } from "./engine/fmt.js";

/** A decoded JSON value as Go's `encoding/json` yields it into `interface{}` (objects keep document order). */
export type GoJson = null | boolean | number | string | readonly GoJson[] | GoJsonObject;
export interface GoJsonObject {
  readonly [key: string]: GoJson;
}

// ---------------------------------------------------------------------------------------------------------------
// Types and kinds, as reflect names them for JSON-decoded values.

/** `reflect.Type.String()` of a JSON-decoded value. */
export function goTypeName(v: GoJson): string {
  if (v === null) return "<nil>";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return "float64";
  if (typeof v === "string") return "string";
  if (Array.isArray(v)) return "[]interface {}";
  return "map[string]interface {}";
}

/** `reflect.Kind.String()` of a JSON-decoded value. */
export function goKindName(v: GoJson): string {
  if (v === null) return "invalid";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return "float64";
  if (typeof v === "string") return "string";
  if (Array.isArray(v)) return "slice";
  return "map";
}

// ---------------------------------------------------------------------------------------------------------------
// Floats.

/** The shortest round-trip decimal digits of a finite float and its decimal exponent (d.ddd × 10^exp). */
function shortestDigits(f: number): { digits: string; exp: number } {
  const [mant = "0", e = "0"] = Math.abs(f).toExponential().split("e");
  return { digits: mant.replace(".", ""), exp: Number(e) };
}

function fixedFromDigits(digits: string, exp: number): string {
  // value = 0.d1d2d3... × 10^(exp+1)
  const point = exp + 1;
  if (point <= 0) return `0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return digits + "0".repeat(point - digits.length);
  return `${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** `strconv.FormatFloat(f, 'f', -1, 64)`: what mapstructure's weak decoding turns a number into. */
export function goFormatFloatF(f: number): string {
  if (f === 0) return Object.is(f, -0) ? "-0" : "0";
  const { digits, exp } = shortestDigits(f);
  return (f < 0 ? "-" : "") + fixedFromDigits(digits, exp);
}

/** `fmt.Sprint(f)` for a float64 (`%v`: shortest digits, exponent form below 1e-4 and from 1e21). */
export function goFormatFloatV(f: number): string {
  // %v of a float64 is strconv's shortest 'g': exponent form from 1e+06 and below 1e-04, as Packer prints it.
  return formatFloat(f, "g", -1);
}

/** `fmt.Sprintf("%v", v)` of a JSON-decoded value (maps print with sorted keys, as fmt does). */
export function goValueString(v: GoJson): string {
  if (v === null) return "<nil>";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") return goFormatFloatV(v);
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return `[${v.map(goValueString).join(" ")}]`;
  const obj = v as GoJsonObject;
  const keys = Object.keys(obj).sort(compareGoStrings);
  return `map[${keys.map((k) => `${k}:${goValueString(obj[k] ?? null)}`).join(" ")}]`;
}

/** Go compares strings bytewise (UTF-8), which differs from JS's UTF-16 order for astral characters. */
export function compareGoStrings(a: string, b: string): number {
  if (a === b) return 0;
  const ba = Buffer.from(a, "utf8");
  const bb = Buffer.from(b, "utf8");
  return Buffer.compare(ba, bb);
}

// ---------------------------------------------------------------------------------------------------------------
// Quoting.

/** Go's `unicode.IsPrint` restricted to what a single byte (U+0000..U+00FF) can be. */
function isPrintLatin1(code: number): boolean {
  return (code >= 0x20 && code <= 0x7e) || (code >= 0xa1 && code <= 0xff && code !== 0xad);
}

/** `encoding/json`'s `quoteChar(c)`: how a syntax error names the offending byte (`'x'`, `'\n'`, `'\u00a0'`). */
export function goQuoteJsonByte(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return "'\"'";
  return `'${goQuoteRune(c)}'`;
}

const SIMPLE_ESCAPES: Readonly<Record<number, string>> = { 7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v", 0x5c: "\\\\" };

/** The inside of `strconv.Quote(string(rune(c)))` for a code point below U+0100. */
function goQuoteRune(c: number): string {
  const simple = SIMPLE_ESCAPES[c];
  if (simple !== undefined) return simple;
  if (c === 0x22) return '\\"';
  if (isPrintLatin1(c)) return String.fromCharCode(c);
  if (c < 0x20 || c === 0x7f) return `\\x${c.toString(16).padStart(2, "0")}`;
  return `\\u${c.toString(16).padStart(4, "0")}`;
}

/** The `quote` of Go's `time` package (go1.19): non-ASCII and control bytes become `\xNN`. */
export function goTimeQuote(s: string): string {
  let out = '"';
  for (const b of Buffer.from(s, "utf8")) {
    if (b >= 0x80 || b < 0x20) out += `\\x${b.toString(16).padStart(2, "0")}`;
    else {
      if (b === 0x22 || b === 0x5c) out += "\\";
      out += String.fromCharCode(b);
    }
  }
  return `${out}"`;
}

// ---------------------------------------------------------------------------------------------------------------
// Error lists.

/** `hashicorp/go-multierror`'s default format ("1 error occurred:\n\t* x\n\n"). */
export function formatMultierror(messages: readonly string[]): string {
  if (messages.length === 1) return `1 error occurred:\n\t* ${messages[0] ?? ""}\n\n`;
  return `${messages.length} errors occurred:\n\t${messages.map((m) => `* ${m}`).join("\n\t")}\n\n`;
}

/** mapstructure's `*Error` format: the points sorted bytewise ("1 error(s) decoding:\n\n* x"). */
export function formatMapstructureError(messages: readonly string[]): string {
  const points = messages.map((m) => `* ${m}`).sort(compareGoStrings);
  return `${messages.length} error(s) decoding:\n\n${points.join("\n")}`;
}

/** Packer SDK's `packersdk.MultiError` format, used by most plugins' `Prepare` ("1 error(s) occurred:\n\n* x"). */
export function formatPackerMultiError(messages: readonly string[]): string {
  return `${messages.length} error(s) occurred:\n\n${messages.map((m) => `* ${m}`).join("\n")}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Word wrapping (mitchellh/go-wordwrap v1.0.1, which counts runes).

function isGoSpace(ch: string): boolean {
  return /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u.test(ch);
}

/** `wordwrap.WrapString(s, lim)`: breaks at whitespace so lines stay within `lim` runes where words allow. */
export function goWordWrap(s: string, lim: number): string {
  let buf = "";
  let current = 0;
  let word = "";
  let wordLen = 0;
  let space = "";
  let spaceLen = 0;
  for (const ch of s) {
    if (ch === "\n") {
      buf += space + word + ch;
      space = "";
      spaceLen = 0;
      word = "";
      wordLen = 0;
      current = 0;
    } else if (isGoSpace(ch) && ch !== "\u00a0") {
      if (space.length === 0 || word.length > 0) {
        current += spaceLen + wordLen;
        buf += space + word;
        space = "";
        spaceLen = 0;
        word = "";
        wordLen = 0;
      }
      space += ch;
      spaceLen++;
    } else {
      word += ch;
      wordLen++;
      if (current + spaceLen + wordLen > lim && wordLen < lim) {
        buf += "\n";
        current = 0;
        space = "";
        spaceLen = 0;
      }
    }
  }
  if (word.length === 0) {
    if (current + spaceLen <= lim) buf += space;
  } else {
    buf += space + word;
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------------------------
// time.Duration, exact (nanoseconds as bigint, as Go's int64).

const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "\u00b5s": 1_000n,
  "\u03bcs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_U63 = 1n << 63n;

/** A Go duration could not be parsed; `message` is Go's, e.g. `time: unknown unit "x" in duration "5x"`. */
export class GoDurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GoDurationError";
  }
}

/** `time.ParseDuration`, exactly (go1.19): nanoseconds. @throws GoDurationError */
export function goParseDuration(orig: string): bigint {
  const invalid = (): GoDurationError => new GoDurationError(`time: invalid duration ${goTimeQuote(orig)}`);
  // Work on bytes, as Go does: units may be multi-byte (µs).
  let s = Buffer.from(orig, "utf8");
  let neg = false;
  if (s.length > 0 && (s[0] === 0x2d || s[0] === 0x2b)) {
    neg = s[0] === 0x2d;
    s = s.subarray(1);
  }
  if (s.length === 1 && s[0] === 0x30) return 0n;
  if (s.length === 0) throw invalid();
  const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;
  let d = 0n;
  while (s.length > 0) {
    if (!(s[0] === 0x2e || isDigit(s[0]))) throw invalid();
    // leadingInt
    let i = 0;
    let v = 0n;
    for (; i < s.length && isDigit(s[i]); i++) {
      if (v > MAX_U63 / 10n) throw invalid();
      v = v * 10n + BigInt((s[i] ?? 0x30) - 0x30);
      if (v > MAX_U63) throw invalid();
    }
    const pre = i > 0;
    s = s.subarray(i);
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s.length > 0 && s[0] === 0x2e) {
      s = s.subarray(1);
      let j = 0;
      let overflow = false;
      for (; j < s.length && isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > (MAX_U63 - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt((s[j] ?? 0x30) - 0x30);
        if (y > MAX_U63) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.subarray(j);
    }
    if (!pre && !post) throw invalid();
    let u = 0;
    for (; u < s.length; u++) {
      if (s[u] === 0x2e || isDigit(s[u])) break;
    }
    if (u === 0) throw new GoDurationError(`time: missing unit in duration ${goTimeQuote(orig)}`);
    const unitText = s.subarray(0, u).toString("utf8");
    s = s.subarray(u);
    const unit = UNIT_NS[unitText];
    if (unit === undefined) {
      throw new GoDurationError(`time: unknown unit ${goTimeQuote(unitText)} in duration ${goTimeQuote(orig)}`);
    }
    if (v > MAX_U63 / unit) throw invalid();
    v *= unit;
    if (f > 0n) {
      // Go uses float64 here: uint64(float64(f) * (float64(unit) / scale)).
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > MAX_U63) throw invalid();
    }
    d += v;
    if (d > MAX_U63) throw invalid();
  }
  if (neg) return -d;
  if (d > MAX_U63 - 1n) throw invalid();
  return d;
}

function fmtFrac(v: bigint, prec: number): { frac: string; rest: bigint } {
  let frac = "";
  let printed = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    printed = printed || digit !== 0n;
    if (printed) frac = digit.toString() + frac;
    v /= 10n;
  }
  return { frac: printed ? `.${frac}` : "", rest: v };
}

/** `time.Duration.String()` ("1h2m3.5s", "1.5µs", "0s"). */
export function goDurationString(d: bigint): string {
  if (d === 0n) return "0s";
  const neg = d < 0n;
  let u = neg ? -d : d;
  let out: string;
  if (u < 1_000_000_000n) {
    let unit: string;
    let prec: number;
    if (u < 1_000n) {
      unit = "ns";
      prec = 0;
    } else if (u < 1_000_000n) {
      unit = "\u00b5s";
      prec = 3;
    } else {
      unit = "ms";
      prec = 6;
    }
    const { frac, rest } = fmtFrac(u, prec);
    out = `${rest}${frac}${unit}`;
  } else {
    const { frac, rest } = fmtFrac(u, 9);
    u = rest;
    out = `${u % 60n}${frac}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

// ---------------------------------------------------------------------------------------------------------------
// hashicorp/go-version, as far as `min_packer_version` needs it.

const VERSION_RE =
  /^v?([0-9]+(\.[0-9]+)*?)(-([0-9]+[0-9A-Za-z\-~]*(\.[0-9A-Za-z\-~]+)*)|(-?([A-Za-z\-~]+[0-9A-Za-z\-~]*(\.[0-9A-Za-z\-~]+)*)))?(\+([0-9A-Za-z\-~]+(\.[0-9A-Za-z\-~]+)*))??$/;

/** A parsed version: segments padded to three, as go-version does. */
export interface GoVersion {
  readonly segments: readonly bigint[];
  readonly pre: string;
  readonly metadata: string;
}

/** `version.NewVersion`. @throws Error with go-version's message (`Malformed version: x`). */
export function goParseVersion(v: string): GoVersion {
  const m = VERSION_RE.exec(v);
  if (m === null) throw new Error(`Malformed version: ${v}`);
  const segments: bigint[] = [];
  for (const str of (m[1] ?? "").split(".")) {
    const n = BigInt(str);
    if (n > 9223372036854775807n) throw new Error(`Error parsing version: strconv.ParseInt: parsing "${str}": value out of range`);
    segments.push(n);
  }
  while (segments.length < 3) segments.push(0n);
  return { segments, pre: m[7] ?? m[4] ?? "", metadata: m[10] ?? "" };
}

/** `Version.String()`. */
export function goVersionString(v: GoVersion): string {
  return v.segments.join(".") + (v.pre !== "" ? `-${v.pre}` : "") + (v.metadata !== "" ? `+${v.metadata}` : "");
}

/**
 * `a.LessThan(b)` for a release `a` (no prerelease, as kiln's own version is): segments compare numerically with
 * missing ones as zero; equal segments make a prerelease `b` the smaller one.
 */
export function goVersionLessThan(a: GoVersion, b: GoVersion): boolean {
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const x = a.segments[i] ?? 0n;
    const y = b.segments[i] ?? 0n;
    if (x !== y) return x < y;
  }
  if (a.pre === b.pre) return false;
  if (b.pre === "") return true;
  if (a.pre === "") return false;
  return a.pre < b.pre;
}
