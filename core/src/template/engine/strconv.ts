/**
 * The parts of Go's `strconv` that text/template leans on: literal parsing (ParseInt/ParseUint/ParseFloat with
 * base prefixes and `_` separators, Unquote/UnquoteChar) and quoting (Quote/QuoteRune) for `%q` and for error
 * messages. Errors are thrown as {@link StrconvSyntaxError} with Go's text ("invalid syntax").
 */

import { INT64_MAX, INT64_MIN, fromUtf8 } from "./values.js";

export class StrconvSyntaxError extends Error {
  constructor(message = "invalid syntax") {
    super(message);
    this.name = "StrconvSyntaxError";
  }
}

const UINT64_MAX = 2n ** 64n - 1n;

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's strconv.IsPrint / unicode.IsPrint (letters, marks, numbers, punctuation, symbols and ASCII space). */
export function isPrint(cp: number): boolean {
  if (cp < 0x20 || cp === 0x7f) return false;
  if (cp < 0x7f) return true;
  if (cp >= 0xd800 && cp <= 0xdfff) return false;
  return PRINTABLE.test(String.fromCodePoint(cp));
}

const lower = (c: string): string => c.toLowerCase();

/** Go's underscoreOK: `_` may only separate digits (or follow a base prefix). */
function underscoreOK(s0: string): boolean {
  let s = s0;
  let saw = "^";
  let i = 0;
  if (s.length >= 1 && (s[0] === "-" || s[0] === "+")) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === "0" && "box".includes(lower(s[1] ?? ""))) {
    i = 2;
    saw = "0";
    hex = lower(s[1] ?? "") === "x";
  }
  for (; i < s.length; i++) {
    const c = s[i] ?? "";
    if ((c >= "0" && c <= "9") || (hex && lower(c) >= "a" && lower(c) <= "f")) {
      saw = "0";
      continue;
    }
    if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
}

/** strconv.ParseUint(s, 0, 64); null on any error. */
export function parseUint(s0: string): bigint | null {
  if (s0 === "") return null;
  let s = s0;
  let base = 10n;
  if (s[0] === "0") {
    const p = lower(s[1] ?? "");
    if (s.length >= 3 && p === "b") [base, s] = [2n, s.slice(2)];
    else if (s.length >= 3 && p === "o") [base, s] = [8n, s.slice(2)];
    else if (s.length >= 3 && p === "x") [base, s] = [16n, s.slice(2)];
    else [base, s] = [8n, s.slice(1)];
  }
  let n = 0n;
  let underscores = false;
  for (const c of s) {
    let d: number;
    if (c === "_") {
      underscores = true;
      continue;
    } else if (c >= "0" && c <= "9") d = c.charCodeAt(0) - 48;
    else if (lower(c) >= "a" && lower(c) <= "z") d = lower(c).charCodeAt(0) - 87;
    else return null;
    if (BigInt(d) >= base) return null;
    n = n * base + BigInt(d);
    if (n > UINT64_MAX) return null;
  }
  if (underscores && !underscoreOK(s0)) return null;
  return n;
}

/** strconv.ParseInt(s, 0, 64); null on any error. */
export function parseInt64(s0: string): bigint | null {
  if (s0 === "") return null;
  let s = s0;
  let neg = false;
  if (s[0] === "+") s = s.slice(1);
  else if (s[0] === "-") [neg, s] = [true, s.slice(1)];
  const u = parseUint(s);
  if (u === null) return null;
  // Underscore validity is judged on the whole literal, sign included.
  if (s.includes("_") && !underscoreOK(s0)) return null;
  const v = neg ? -u : u;
  if (v < INT64_MIN || v > INT64_MAX) return null;
  return v;
}

/** strconv.ParseFloat(s, 64) for the literal forms the lexer can produce; null on syntax or range error. */
export function parseFloat64(s: string): number | null {
  let i = 0;
  let neg = false;
  if (s[i] === "+") i++;
  else if (s[i] === "-") [neg, i] = [true, i + 1];
  let hex = false;
  if (i + 2 < s.length && s[i] === "0" && lower(s[i + 1] ?? "") === "x") {
    hex = true;
    i += 2;
  }
  let underscores = false;
  let sawdot = false;
  let sawdigits = false;
  let mant = "";
  let fracDigits = 0;
  for (; i < s.length; i++) {
    const c = s[i] ?? "";
    if (c === "_") {
      underscores = true;
      continue;
    }
    if (c === ".") {
      if (sawdot) break;
      sawdot = true;
      continue;
    }
    if ((c >= "0" && c <= "9") || (hex && lower(c) >= "a" && lower(c) <= "f")) {
      sawdigits = true;
      mant += c;
      if (sawdot) fracDigits++;
      continue;
    }
    break;
  }
  if (!sawdigits) return null;
  let exp = 0;
  const expChar = hex ? "p" : "e";
  if (i < s.length && lower(s[i] ?? "") === expChar) {
    i++;
    if (i >= s.length) return null;
    let esign = 1;
    if (s[i] === "+") i++;
    else if (s[i] === "-") [esign, i] = [-1, i + 1];
    if (i >= s.length || !((s[i] ?? "") >= "0" && (s[i] ?? "") <= "9")) return null;
    let e = 0;
    for (; i < s.length && (((s[i] ?? "") >= "0" && (s[i] ?? "") <= "9") || s[i] === "_"); i++) {
      if (s[i] === "_") {
        underscores = true;
        continue;
      }
      if (e < 10000) e = e * 10 + (s.charCodeAt(i) - 48);
    }
    exp = e * esign;
  } else if (hex) {
    return null; // a hex float must have a p exponent
  }
  if (i !== s.length) return null;
  if (underscores && !underscoreOK(s.slice(0, i))) return null;
  let v: number;
  if (hex) {
    const m = BigInt("0x" + mant);
    v = Number(m) * 2 ** (exp - 4 * fracDigits);
  } else {
    const intPart = mant.slice(0, mant.length - fracDigits) || "0";
    const frac = mant.slice(mant.length - fracDigits);
    v = Number(`${intPart}.${frac}e${exp}`);
  }
  if (!Number.isFinite(v)) return null;
  return neg ? -v : v;
}

function unhex(c: string): number {
  if (c >= "0" && c <= "9") return c.charCodeAt(0) - 48;
  const l = lower(c);
  if (l >= "a" && l <= "f") return l.charCodeAt(0) - 87;
  return -1;
}

/** One decoded unit of a Go literal: a rune to encode as UTF-8, or (for \x and octal escapes) a raw byte. */
interface CharUnit {
  value: number;
  isByte: boolean;
  tail: number;
}

/** strconv.UnquoteChar on s from index i. */
function unquoteChar(s: string, i: number, quote: string): CharUnit {
  if (i >= s.length) throw new StrconvSyntaxError();
  const c = s[i] ?? "";
  if (c === quote && (quote === "'" || quote === '"')) throw new StrconvSyntaxError();
  if (c !== "\\") {
    const cp = s.codePointAt(i) ?? 0;
    return { value: cp, isByte: false, tail: i + (cp > 0xffff ? 2 : 1) };
  }
  if (i + 1 >= s.length) throw new StrconvSyntaxError();
  const e = s[i + 1] ?? "";
  let j = i + 2;
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92 };
  const sv = simple[e];
  if (sv !== undefined) return { value: sv, isByte: false, tail: j };
  if (e === "x" || e === "u" || e === "U") {
    const n = e === "x" ? 2 : e === "u" ? 4 : 8;
    if (s.length - j < n) throw new StrconvSyntaxError();
    let v = 0;
    for (let k = 0; k < n; k++) {
      const x = unhex(s[j + k] ?? "");
      if (x < 0) throw new StrconvSyntaxError();
      v = v * 16 + x;
    }
    j += n;
    if (e === "x") return { value: v, isByte: true, tail: j };
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new StrconvSyntaxError();
    return { value: v, isByte: false, tail: j };
  }
  if (e >= "0" && e <= "7") {
    let v = e.charCodeAt(0) - 48;
    if (s.length - j < 2) throw new StrconvSyntaxError();
    for (let k = 0; k < 2; k++) {
      const x = s.charCodeAt(j + k) - 48;
      if (x < 0 || x > 7) throw new StrconvSyntaxError();
      v = v * 8 + x;
    }
    j += 2;
    if (v > 255) throw new StrconvSyntaxError();
    return { value: v, isByte: true, tail: j };
  }
  if (e === "'" || e === '"') {
    if (e !== quote) throw new StrconvSyntaxError();
    return { value: e.charCodeAt(0), isByte: false, tail: j };
  }
  throw new StrconvSyntaxError();
}

function pushUtf8(out: number[], cp: number): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}

/**
 * strconv.Unquote for the two string literal forms. Go strings are bytes; `\xff` makes invalid UTF-8, which kiln
 * (holding JS strings) decodes as U+FFFD.
 */
export function unquote(lit: string): string {
  const q = lit[0];
  if (lit.length < 2 || lit[lit.length - 1] !== q) throw new StrconvSyntaxError();
  const body = lit.slice(1, -1);
  if (q === "`") {
    if (body.includes("`")) throw new StrconvSyntaxError();
    return body.replaceAll("\r", "");
  }
  if (q !== '"') throw new StrconvSyntaxError();
  if (body.includes("\n")) throw new StrconvSyntaxError();
  if (!body.includes("\\") && !body.includes('"')) return body;
  const bytes: number[] = [];
  for (let i = 0; i < body.length; ) {
    const u = unquoteChar(body, i, '"');
    if (u.isByte) bytes.push(u.value);
    else pushUtf8(bytes, u.value);
    i = u.tail;
  }
  return fromUtf8(Uint8Array.from(bytes));
}

/** Decodes a character constant `'x'`: its rune value, or throws (Go: "invalid syntax" / "malformed character constant"). */
export function unquoteCharConstant(lit: string): number {
  const u = unquoteChar(lit, 1, "'");
  if (lit.slice(u.tail) !== "'") throw new StrconvSyntaxError(`malformed character constant: ${lit}`);
  return u.value;
}

const LOWER_HEX = "0123456789abcdef";

function hexPad(n: number, width: number): string {
  let s = "";
  for (let i = width - 1; i >= 0; i--) s += LOWER_HEX[(n >> (4 * i)) & 0xf] ?? "0";
  return s;
}

function quoteRuneInto(cp: number, quote: string, asciiOnly: boolean): string {
  if (cp === quote.charCodeAt(0) || cp === 92) return "\\" + String.fromCodePoint(cp);
  if (asciiOnly ? cp < 0x80 && isPrint(cp) : isPrint(cp)) return String.fromCodePoint(cp);
  switch (cp) {
    case 7: return "\\a";
    case 8: return "\\b";
    case 12: return "\\f";
    case 10: return "\\n";
    case 13: return "\\r";
    case 9: return "\\t";
    case 11: return "\\v";
    default:
      if (cp < 0x20 || cp === 0x7f) return "\\x" + hexPad(cp, 2);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
      if (cp < 0x10000) return "\\u" + hexPad(cp, 4);
      return "\\U" + hexPad(cp, 8);
  }
}

/** strconv.Quote (or QuoteToASCII). */
export function quote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += quoteRuneInto(ch.codePointAt(0) ?? 0, '"', asciiOnly);
  return out + '"';
}

/** strconv.QuoteRune (or QuoteRuneToASCII). */
export function quoteRune(cp: number, asciiOnly = false): string {
  const r = cp > 0x10ffff || cp < 0 || (cp >= 0xd800 && cp <= 0xdfff) ? 0xfffd : cp;
  return "'" + quoteRuneInto(r, "'", asciiOnly) + "'";
}

/** strconv.CanBackquote. */
export function canBackquote(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp === 0x60 || cp === 0xfeff || cp === 0xfffd) return false;
    if (cp < 0x20 && cp !== 9) return false;
    if (cp === 0x7f) return false;
  }
  return true;
}

/** Go's `%#U` of a rune: `U+0027 '''` (the quoted form only when printable). */
export function formatRuneU(cp: number): string {
  const hex = cp.toString(16).toUpperCase().padStart(4, "0");
  return isPrint(cp) ? `U+${hex} '${String.fromCodePoint(cp)}'` : `U+${hex}`;
}
