/**
 * Go's `fmt` as templates reach it: `print`/`println`/`printf` and the printing of action results. Covers the
 * verbs v s d q x X o O b c U e E f F g G t T and %, flags `+ - # 0 space`, width, precision, `*` and `[n]`
 * argument indexes, and Go's error forms (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA ...)`, `%!(NOVERB)`).
 * Floats are formatted from their exact binary value with round-half-even, as strconv does.
 */

import { canBackquote, quote, quoteRune, isPrint } from "./strconv.js";
import { GoComplex, GoUint8, type GoMap, type GoValue, fromJs, kindOf, sortedKeys, typeName, utf8Bytes } from "./values.js";

// ---------------------------------------------------------------------------------------------------------------
// Decimal digits of a float64 (strconv's decimalSlice).

interface Digits {
  d: string; // significant digits, no leading zeros, no trailing zeros
  dp: number; // value = 0.d × 10^dp
}

/** The shortest digits that round-trip (JS and Go both produce the unique shortest, closest representation). */
function shortestDigits(abs: number): Digits {
  if (abs === 0) return { d: "", dp: 0 };
  const [mant = "", exp = "0"] = abs.toExponential().split("e");
  const d = mant.replace(".", "").replace(/0+$/, "");
  return { d, dp: Number(exp) + 1 };
}

/** The exact decimal expansion of a finite float64. */
function exactDigits(abs: number): Digits {
  if (abs === 0) return { d: "", dp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, abs);
  const bits = view.getBigUint64(0);
  const biasedExp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e2: number;
  if (biasedExp === 0) e2 = -1074;
  else {
    mant |= 1n << 52n;
    e2 = biasedExp - 1075;
  }
  // The value is mant × 2^e2; for negative e2 that is mant × 5^-e2 / 10^-e2, an exact decimal.
  const s = e2 >= 0 ? (mant << BigInt(e2)).toString() : (mant * 5n ** BigInt(-e2)).toString();
  const dp = e2 >= 0 ? s.length : s.length + e2;
  return { d: s.replace(/0+$/, ""), dp };
}

/** strconv's decimal.Round(nd): round to nd digits, half to even on exact ties. */
function roundDigits(x: Digits, nd: number): Digits {
  if (nd < 0 || nd >= x.d.length) return x;
  const c = x.d.charCodeAt(nd);
  let up: boolean;
  if (c === 53 /* '5' */ && nd + 1 === x.d.length) up = nd > 0 && (x.d.charCodeAt(nd - 1) - 48) % 2 === 1;
  else up = c >= 53;
  if (!up) return { d: x.d.slice(0, nd).replace(/0+$/, ""), dp: x.dp };
  for (let i = nd - 1; i >= 0; i--) {
    const ch = x.d.charCodeAt(i);
    if (ch < 57) return { d: x.d.slice(0, i) + String.fromCharCode(ch + 1), dp: x.dp };
  }
  return { d: "1", dp: x.dp + 1 };
}

function fmtE(neg: boolean, d: Digits, prec: number, e: string): string {
  let out = neg ? "-" : "";
  out += d.d.length > 0 ? d.d[0] : "0";
  if (prec > 0) {
    out += ".";
    const m = Math.min(d.d.length, prec + 1);
    let i = 1;
    if (i < m) {
      out += d.d.slice(i, m);
      i = m;
    }
    for (; i <= prec; i++) out += "0";
  }
  let exp = d.d.length === 0 ? 0 : d.dp - 1;
  const sign = exp < 0 ? "-" : "+";
  exp = Math.abs(exp);
  return out + e + sign + (exp < 10 ? "0" + String(exp) : String(exp));
}

function fmtF(neg: boolean, d: Digits, prec: number): string {
  let out = neg ? "-" : "";
  if (d.dp > 0) {
    const m = Math.min(d.d.length, d.dp);
    out += d.d.slice(0, m) + "0".repeat(d.dp - m);
  } else out += "0";
  if (prec > 0) {
    out += ".";
    for (let i = 1; i <= prec; i++) {
      const j = d.dp + i - 1;
      out += j >= 0 && j < d.d.length ? d.d[j] : "0";
    }
  }
  return out;
}

function fmtHexFloat(v: number, prec: number, upper: boolean): string {
  const neg = v < 0 || Object.is(v, -0);
  const abs = Math.abs(v);
  let out: string;
  if (abs === 0) {
    out = "0x0" + (prec > 0 ? "." + "0".repeat(prec) : "") + "p+00";
  } else {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, abs);
    const bits = view.getBigUint64(0);
    let exp = Number((bits >> 52n) & 0x7ffn);
    let mant = bits & ((1n << 52n) - 1n);
    if (exp === 0) {
      // Subnormal: normalise so the leading digit is 1.
      exp = -1022;
      while ((mant & (1n << 52n)) === 0n) {
        mant <<= 1n;
        exp--;
      }
      mant &= (1n << 52n) - 1n;
    } else exp -= 1023;
    // 52 fraction bits = 13 hex digits.
    let frac = mant;
    let lead = 1n;
    let digits = 13;
    if (prec >= 0 && prec < 13) {
      const shift = BigInt(4 * (13 - prec));
      const half = 1n << (shift - 1n);
      const rem = frac & ((1n << shift) - 1n);
      frac >>= shift;
      if (rem > half || (rem === half && (frac & 1n) === 1n)) frac += 1n;
      if (frac >> BigInt(4 * prec) !== 0n) {
        frac &= (1n << BigInt(4 * prec)) - 1n;
        lead = 2n;
      }
      digits = prec;
    }
    if (lead === 2n) {
      lead = 1n;
      exp++;
    }
    let fs = digits > 0 ? frac.toString(16).padStart(digits, "0") : "";
    if (prec < 0) fs = fs.replace(/0+$/, "");
    else if (prec > 13) fs += "0".repeat(prec - 13);
    const es = Math.abs(exp) < 10 ? "0" + String(Math.abs(exp)) : String(Math.abs(exp));
    out = "0x" + lead.toString() + (fs !== "" ? "." + fs : "") + "p" + (exp < 0 ? "-" : "+") + es;
  }
  if (upper) out = out.toUpperCase();
  return (neg ? "-" : "") + out;
}

/** strconv.FormatFloat(v, fmt, prec, 64). */
export function formatFloat(v: number, fmt: string, prec: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  const neg = v < 0 || Object.is(v, -0);
  const abs = Math.abs(v);
  if (fmt === "x" || fmt === "X") return fmtHexFloat(v, prec, fmt === "X");
  if (fmt === "b") {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, abs);
    const bits = view.getBigUint64(0);
    const be = Number((bits >> 52n) & 0x7ffn);
    let mant = bits & ((1n << 52n) - 1n);
    let e2 = -1074;
    if (be !== 0) {
      mant |= 1n << 52n;
      e2 = be - 1075;
    }
    return (neg ? "-" : "") + mant.toString() + "p" + (e2 >= 0 ? "+" : "-") + String(Math.abs(e2));
  }
  const shortest = prec < 0;
  let digs: Digits;
  if (shortest) {
    digs = shortestDigits(abs);
    if (fmt === "e" || fmt === "E") prec = Math.max(digs.d.length - 1, 0);
    else if (fmt === "f") prec = Math.max(digs.d.length - digs.dp, 0);
    else prec = digs.d.length;
  } else {
    const exact = exactDigits(abs);
    if (fmt === "f") digs = roundDigits(exact, exact.dp + prec);
    else if (fmt === "e" || fmt === "E") digs = roundDigits(exact, prec + 1);
    else {
      if (prec === 0) prec = 1;
      digs = roundDigits(exact, prec);
    }
  }
  switch (fmt) {
    case "e":
    case "E":
      return fmtE(neg, digs, prec, fmt);
    case "f":
      return fmtF(neg, digs, prec);
    case "g":
    case "G": {
      let eprec = prec;
      if (eprec > digs.d.length && digs.d.length >= digs.dp) eprec = digs.d.length;
      if (shortest) eprec = 6;
      const exp = digs.dp - 1;
      if (exp < -4 || exp >= eprec) {
        if (prec > digs.d.length) prec = digs.d.length;
        return fmtE(neg, digs, prec - 1, fmt === "g" ? "e" : "E");
      }
      if (prec > digs.dp) prec = digs.d.length;
      return fmtF(neg, digs, Math.max(prec - digs.dp, 0));
    }
  }
  return "%" + fmt;
}

// ---------------------------------------------------------------------------------------------------------------
// The printer (fmt.pp / fmt.fmt).

interface Flags {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  plusV: boolean;
  sharpV: boolean;
  widPresent: boolean;
  precPresent: boolean;
  wid: number;
  prec: number;
}

const cleanFlags = (): Flags => ({
  plus: false, minus: false, sharp: false, space: false, zero: false, plusV: false, sharpV: false,
  widPresent: false, precPresent: false, wid: 0, prec: 0,
});

const runeCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** fmt's tooLarge: widths and precisions beyond a million are rejected (this also bounds output size). */
const tooLarge = (x: number): boolean => x > 1e6 || x < -1e6;

class Printer {
  buf = "";
  f: Flags = cleanFlags();

  private padding(n: number): string {
    if (n <= 0) return "";
    return (this.f.zero ? "0" : " ").repeat(n);
  }

  pad(s: string): void {
    if (!this.f.widPresent || this.f.wid === 0) {
      this.buf += s;
      return;
    }
    const width = this.f.wid - runeCount(s);
    if (!this.f.minus) this.buf += this.padding(width) + s;
    else this.buf += s + this.padding(width);
  }

  private truncate(s: string): string {
    if (this.f.precPresent) {
      let n = 0;
      let i = 0;
      for (const ch of s) {
        if (n >= this.f.prec) return s.slice(0, i);
        n++;
        i += ch.length;
      }
    }
    return s;
  }

  fmtS(s: string): void {
    this.pad(this.truncate(s));
  }

  fmtQ(s: string): void {
    s = this.truncate(s);
    if (this.f.sharp && canBackquote(s)) this.pad("`" + s + "`");
    else this.pad(quote(s, this.f.plus));
  }

  fmtSx(s: string, upper: boolean): void {
    let bytes = utf8Bytes(s);
    if (this.f.precPresent && this.f.prec < bytes.length) bytes = bytes.slice(0, this.f.prec);
    const digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    let out = "";
    bytes.forEach((b, i) => {
      if (this.f.space && i > 0) out += " ";
      if (this.f.sharp && (this.f.space || i === 0)) out += upper ? "0X" : "0x";
      out += (digits[b >> 4] ?? "") + (digits[b & 15] ?? "");
    });
    this.pad(out);
  }

  fmtInteger(v: bigint, base: number, verb: string): void {
    const negative = v < 0n;
    let u = negative ? -v : v;
    let prec = 0;
    if (this.f.precPresent) {
      prec = this.f.prec;
      if (prec === 0 && u === 0n) {
        const oldZero = this.f.zero;
        this.f.zero = false;
        this.buf += this.padding(this.f.wid);
        this.f.zero = oldZero;
        return;
      }
    } else if (this.f.zero && this.f.widPresent) {
      prec = this.f.wid;
      if (negative || this.f.plus || this.f.space) prec--;
    }
    let s = u.toString(base);
    if (verb === "X") s = s.toUpperCase();
    u = 0n;
    if (s.length < prec) s = "0".repeat(prec - s.length) + s;
    if (this.f.sharp) {
      if (base === 2) s = "0b" + s;
      else if (base === 8 && s[0] !== "0") s = "0" + s;
      else if (base === 16) s = (verb === "X" ? "0X" : "0x") + s;
    }
    if (verb === "O") s = "0o" + s;
    if (negative) s = "-" + s;
    else if (this.f.plus) s = "+" + s;
    else if (this.f.space) s = " " + s;
    const oldZero = this.f.zero;
    this.f.zero = false;
    this.pad(s);
    this.f.zero = oldZero;
  }

  fmtFloat(v: number, verb: string, defPrec: number): void {
    const prec = this.f.precPresent ? this.f.prec : defPrec;
    let num = formatFloat(v, verb, prec);
    if (num[0] !== "-" && num[0] !== "+") num = "+" + num;
    if (this.f.space && num[0] === "+" && !this.f.plus) num = " " + num.slice(1);
    if (num[1] === "I" || num[1] === "N") {
      const oldZero = this.f.zero;
      this.f.zero = false;
      if (num[1] === "N" && !this.f.space && !this.f.plus) num = num.slice(1);
      this.pad(num);
      this.f.zero = oldZero;
      return;
    }
    if (this.f.sharp && verb !== "b") {
      num = sharpFloat(num, verb, prec);
    }
    if (this.f.plus || num[0] !== "+") {
      if (this.f.zero && this.f.widPresent && this.f.wid > num.length) {
        this.buf += num[0] + this.padding(this.f.wid - num.length) + num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  private fmtComplex(c: GoComplex, verb: string): void {
    if (!"vbgGxXfFeE".includes(verb)) {
      this.badVerb(verb, c);
      return;
    }
    const oldPlus = this.f.plus;
    this.buf += "(";
    this.fmtFloatVerb(c.re, verb);
    this.f.plus = true;
    this.fmtFloatVerb(c.im, verb);
    this.buf += "i)";
    this.f.plus = oldPlus;
  }

  private fmtFloatVerb(v: number, verb: string): boolean {
    switch (verb) {
      case "v":
        this.fmtFloat(v, "g", -1);
        return true;
      case "b":
      case "g":
      case "G":
      case "x":
      case "X":
        this.fmtFloat(v, verb, -1);
        return true;
      case "f":
      case "e":
      case "E":
        this.fmtFloat(v, verb, 6);
        return true;
      case "F":
        this.fmtFloat(v, "f", 6);
        return true;
      default:
        return false;
    }
  }

  private fmtIntegerVerb(v: bigint, verb: string, arg: GoValue): void {
    switch (verb) {
      case "v":
      case "d":
        this.fmtInteger(v, 10, verb);
        return;
      case "b":
        this.fmtInteger(v, 2, verb);
        return;
      case "o":
      case "O":
        this.fmtInteger(v, 8, verb);
        return;
      case "x":
      case "X":
        this.fmtInteger(v, 16, verb);
        return;
      case "c": {
        const r = v < 0n || v > 0x10ffffn || (v >= 0xd800n && v <= 0xdfffn) ? 0xfffd : Number(v);
        this.pad(String.fromCodePoint(r));
        return;
      }
      case "q": {
        const r = v < 0n || v > 0x10ffffn ? 0xfffd : Number(v);
        if (this.f.sharp && isPrint(r)) this.pad("'" + String.fromCodePoint(r) + "'");
        else this.pad(quoteRune(r, this.f.plus));
        return;
      }
      case "U": {
        let s = "U+" + (v < 0n ? (2n ** 64n + v) : v).toString(16).toUpperCase().padStart(4, "0");
        if (this.f.precPresent && this.f.prec > 4) s = "U+" + s.slice(2).padStart(this.f.prec, "0");
        const r = Number(v);
        if (this.f.sharp && v >= 0n && v <= 0x10ffffn && isPrint(r)) s += " '" + String.fromCodePoint(r) + "'";
        const oldZero = this.f.zero;
        this.f.zero = false;
        this.pad(s);
        this.f.zero = oldZero;
        return;
      }
      default:
        this.badVerb(verb, arg);
    }
  }

  badVerb(verb: string, arg: GoValue): void {
    this.buf += "%!" + verb + "(";
    if (arg === null || arg === undefined) this.buf += "<nil>";
    else {
      this.buf += typeName(arg) + "=";
      this.printArg(arg, "v");
    }
    this.buf += ")";
  }

  printArg(arg: GoValue, verb: string, depth = 0): void {
    if (arg === null || arg === undefined) {
      if (depth > 0 && verb !== "T") {
        this.pad("<nil>");
        return;
      }
      if (verb === "T" || verb === "v") this.pad("<nil>");
      else this.badVerb(verb, arg);
      return;
    }
    if (verb === "T") {
      this.fmtS(typeName(arg));
      return;
    }
    switch (kindOf(arg)) {
      case "bool":
        if (verb === "t" || verb === "v") this.pad(arg ? "true" : "false");
        else this.badVerb(verb, arg);
        return;
      case "float64":
        if (!this.fmtFloatVerb(arg as number, verb)) this.badVerb(verb, arg);
        return;
      case "complex128":
        this.fmtComplex(arg as GoComplex, verb);
        return;
      case "int":
        this.fmtIntegerVerb(arg as bigint, verb, arg);
        return;
      case "uint8":
        this.fmtIntegerVerb(BigInt((arg as GoUint8).value), verb, arg);
        return;
      case "string":
        switch (verb) {
          case "v":
            if (this.f.sharpV) this.fmtQ(arg as string);
            else this.fmtS(arg as string);
            return;
          case "s":
            this.fmtS(arg as string);
            return;
          case "x":
          case "X":
            this.fmtSx(arg as string, verb === "X");
            return;
          case "q":
            this.fmtQ(arg as string);
            return;
          default:
            this.badVerb(verb, arg);
            return;
        }
      case "slice": {
        this.buf += "[";
        (arg as readonly unknown[]).forEach((el, i) => {
          if (i > 0) this.buf += " ";
          this.printArg(fromJs(el), verb, depth + 1);
        });
        this.buf += "]";
        return;
      }
      case "map": {
        const m = arg as GoMap;
        this.buf += "map[";
        sortedKeys(m).forEach((k, i) => {
          if (i > 0) this.buf += " ";
          this.printArg(k, verb, depth + 1);
          this.buf += ":";
          this.printArg(fromJs(m[k]), verb, depth + 1);
        });
        this.buf += "]";
        return;
      }
      case "func":
        // Go prints the function's address; kiln has none to show.
        if (verb === "v" || verb === "p") this.pad("0x0");
        else this.badVerb(verb, arg);
        return;
      default:
        this.badVerb(verb, arg);
    }
  }
}

/** fmt's `#` flag for floats: always a decimal point; %g keeps trailing zeros. */
function sharpFloat(num: string, verb: string, prec: number): string {
  let digits: number;
  switch (verb) {
    case "v":
    case "g":
    case "G":
    case "x":
      digits = prec;
      if (digits === -1) digits = 6;
      break;
    default:
      digits = 0;
  }
  let tail = "";
  let body = num;
  const ePos = body.slice(1).search(/[eEpP]/);
  if (ePos >= 0) {
    tail = body.slice(ePos + 1);
    body = body.slice(0, ePos + 1);
  }
  let sawNonzero = false;
  let hasPoint = false;
  for (let i = 1; i < body.length; i++) {
    const c = body[i];
    if (c === ".") hasPoint = true;
    else if (c !== undefined && c >= "0" && c <= "9") {
      if (c !== "0") sawNonzero = true;
      if (sawNonzero) digits--;
    }
  }
  if (!hasPoint) {
    if (body.length === 2 && body[1] === "0") digits--;
    body += ".";
  }
  if (digits > 0 && (verb === "g" || verb === "G" || verb === "v")) body += "0".repeat(digits);
  return body + tail;
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: readonly GoValue[]): string {
  const p = new Printer();
  let prevString = false;
  args.forEach((arg, i) => {
    const isString = typeof arg === "string";
    if (i > 0 && !isString && !prevString) p.buf += " ";
    p.f = cleanFlags();
    p.printArg(arg, "v");
    prevString = isString;
  });
  return p.buf;
}

/** fmt.Sprintln: always spaces, newline at the end. */
export function sprintln(args: readonly GoValue[]): string {
  const p = new Printer();
  args.forEach((arg, i) => {
    if (i > 0) p.buf += " ";
    p.f = cleanFlags();
    p.printArg(arg, "v");
  });
  return p.buf + "\n";
}

function parsenum(s: string, start: number, end: number): { num: number; isnum: boolean; newi: number } {
  if (start >= end) return { num: 0, isnum: false, newi: end };
  let num = 0;
  let isnum = false;
  let i = start;
  for (; i < end && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57; i++) {
    if (tooLarge(num)) return { num: 0, isnum: false, newi: end };
    num = num * 10 + (s.charCodeAt(i) - 48);
    isnum = true;
  }
  return { num, isnum, newi: i };
}

function intFromArg(a: readonly GoValue[], argNum: number): { num: number; isInt: boolean; newArgNum: number } {
  let num = 0;
  let isInt = false;
  let newArgNum = argNum;
  if (argNum < a.length) {
    const v = a[argNum];
    if (typeof v === "bigint") {
      num = Number(v);
      isInt = true;
    } else if (v instanceof GoUint8) {
      num = v.value;
      isInt = true;
    }
    newArgNum = argNum + 1;
    if (tooLarge(num)) {
      num = 0;
      isInt = false;
    }
  }
  return { num, isInt, newArgNum };
}

/** fmt.Sprintf. */
export function sprintf(format: string, a: readonly GoValue[]): string {
  const p = new Printer();
  const end = format.length;
  let argNum = 0;
  let afterIndex = false;
  let reordered = false;
  let goodArgNum = true;

  const argNumber = (i: number): { argNum: number; i: number; found: boolean } => {
    if (format.length <= i || format[i] !== "[") return { argNum, i, found: false };
    reordered = true;
    // parseArgNumber: "[n]"
    const rest = format.slice(i);
    let index = 0;
    let wid = 1;
    let ok = false;
    if (rest.length >= 3) {
      for (let k = 1; k < rest.length; k++) {
        if (rest[k] === "]") {
          const n = parsenum(rest, 1, k);
          if (!n.isnum || n.newi !== k) {
            wid = k + 1;
          } else {
            index = n.num - 1;
            wid = k + 1;
            ok = true;
          }
          break;
        }
      }
    }
    if (ok && index >= 0 && index < a.length) return { argNum: index, i: i + wid, found: true };
    goodArgNum = false;
    return { argNum, i: i + wid, found: ok };
  };

  let i = 0;
  formatLoop: while (i < end) {
    goodArgNum = true;
    const lasti = i;
    while (i < end && format[i] !== "%") i++;
    if (i > lasti) p.buf += format.slice(lasti, i);
    if (i >= end) break;
    i++;
    p.f = cleanFlags();
    simple: for (; i < end; i++) {
      const c = format[i] ?? "";
      switch (c) {
        case "#":
          p.f.sharp = true;
          break;
        case "0":
          p.f.zero = !p.f.minus;
          break;
        case "+":
          p.f.plus = true;
          break;
        case "-":
          p.f.minus = true;
          p.f.zero = false;
          break;
        case " ":
          p.f.space = true;
          break;
        default:
          if (c >= "a" && c <= "z" && argNum < a.length) {
            if (c === "v") {
              p.f.sharpV = p.f.sharp;
              p.f.sharp = false;
              p.f.plusV = p.f.plus;
              p.f.plus = false;
            }
            p.printArg(a[argNum], c);
            argNum++;
            i++;
            continue formatLoop;
          }
          break simple;
      }
    }
    ({ argNum, i, found: afterIndex } = argNumber(i));
    if (i < end && format[i] === "*") {
      i++;
      const r = intFromArg(a, argNum);
      p.f.wid = r.num;
      p.f.widPresent = r.isInt;
      argNum = r.newArgNum;
      if (!p.f.widPresent) p.buf += "%!(BADWIDTH)";
      if (p.f.wid < 0) {
        p.f.wid = -p.f.wid;
        p.f.minus = true;
        p.f.zero = false;
      }
      afterIndex = false;
    } else {
      const r = parsenum(format, i, end);
      p.f.wid = r.num;
      p.f.widPresent = r.isnum;
      i = r.newi;
      if (afterIndex && p.f.widPresent) goodArgNum = false;
    }
    if (i + 1 < end && format[i] === ".") {
      i++;
      if (afterIndex) goodArgNum = false;
      ({ argNum, i, found: afterIndex } = argNumber(i));
      if (i < end && format[i] === "*") {
        i++;
        const r = intFromArg(a, argNum);
        p.f.prec = r.num;
        p.f.precPresent = r.isInt;
        argNum = r.newArgNum;
        if (p.f.prec < 0) {
          p.f.prec = 0;
          p.f.precPresent = false;
        }
        if (!p.f.precPresent) p.buf += "%!(BADPREC)";
        afterIndex = false;
      } else {
        const r = parsenum(format, i, end);
        p.f.prec = r.num;
        p.f.precPresent = r.isnum;
        i = r.newi;
        if (!p.f.precPresent) {
          p.f.prec = 0;
          p.f.precPresent = true;
        }
      }
    }
    if (!afterIndex) ({ argNum, i, found: afterIndex } = argNumber(i));
    if (i >= end) {
      p.buf += "%!(NOVERB)";
      break;
    }
    const cp = format.codePointAt(i) ?? 0;
    const verb = String.fromCodePoint(cp);
    i += verb.length;
    if (verb === "%") p.buf += "%";
    else if (!goodArgNum) p.buf += "%!" + verb + "(BADINDEX)";
    else if (argNum >= a.length) p.buf += "%!" + verb + "(MISSING)";
    else {
      if (verb === "v") {
        p.f.sharpV = p.f.sharp;
        p.f.sharp = false;
        p.f.plusV = p.f.plus;
        p.f.plus = false;
      }
      p.printArg(a[argNum], verb === "w" ? "w" : verb);
      argNum++;
    }
  }
  if (!reordered && argNum < a.length) {
    p.f = cleanFlags();
    p.buf += "%!(EXTRA ";
    a.slice(argNum).forEach((arg, k) => {
      if (k > 0) p.buf += ", ";
      if (arg === null || arg === undefined) p.buf += "<nil>";
      else {
        p.buf += typeName(arg) + "=";
        p.printArg(arg, "v");
      }
    });
    p.buf += ")";
  }
  return p.buf;
}

/** `%v` of one value (what an action prints). */
export function formatValue(v: GoValue): string {
  return sprint([v]);
}
