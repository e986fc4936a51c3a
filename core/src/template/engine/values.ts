/**
 * How Go values are represented while a template executes. text/template is reflection-driven, so behaviour
 * depends on the dynamic Go type of a value (an `int` and a `float64` never compare equal; a missing map entry is
 * an invalid value that prints `<no value>`, while an explicit `nil` prints `<nil>`). Each Go kind kiln can meet
 * has one JS shape:
 *
 * | Go                          | JS                                   |
 * |-----------------------------|--------------------------------------|
 * | invalid reflect.Value       | `undefined`                          |
 * | nil interface{}             | `null`                               |
 * | string / bool               | `string` / `boolean`                 |
 * | int                         | `bigint` (64-bit range)              |
 * | float64                     | `number`                             |
 * | uint8 (a byte of a string)  | {@link GoUint8}                      |
 * | complex128                  | {@link GoComplex}                    |
 * | []interface{}               | a JS array (elements converted lazily with {@link fromJs}) |
 * | map[string]interface{}      | a plain JS object (same)             |
 * | func                        | a JS function                        |
 */

export class GoUint8 {
  constructor(readonly value: number) {}
}

export class GoComplex {
  constructor(
    readonly re: number,
    readonly im: number,
  ) {}
}

export type GoFunc = (...args: unknown[]) => unknown;
export type GoMap = Readonly<Record<string, unknown>>;

export type GoValue =
  | undefined
  | null
  | string
  | boolean
  | bigint
  | number
  | GoUint8
  | GoComplex
  | readonly unknown[]
  | GoMap
  | GoFunc;

export type GoKind =
  | "invalid"
  | "nil"
  | "string"
  | "bool"
  | "int"
  | "uint8"
  | "float64"
  | "complex128"
  | "slice"
  | "map"
  | "func";

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** Converts a value from kiln's JSON world (template data, plugin function results) to its Go shape. */
export function fromJs(v: unknown): GoValue {
  switch (typeof v) {
    case "undefined":
      return undefined;
    case "string":
    case "boolean":
      return v;
    case "bigint":
      return v;
    case "number":
      // JSON has one number type; Packer's data structs use int for ports and counts, so integral numbers are ints.
      return Number.isSafeInteger(v) ? BigInt(v) : v;
    case "function":
      return v as GoFunc;
    case "symbol":
      return v.toString();
    case "object":
      if (v === null) return null;
      if (v instanceof GoUint8 || v instanceof GoComplex) return v;
      if (Array.isArray(v)) return v as readonly unknown[];
      return v as GoMap;
  }
  return undefined;
}

/** Converts a Go value back to plain JS for a plugin-supplied function. */
export function toJs(v: GoValue): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v instanceof GoUint8) return v.value;
  if (v instanceof GoComplex) return v.im === 0 ? v.re : v;
  return v;
}

export function kindOf(v: GoValue): GoKind {
  switch (typeof v) {
    case "undefined":
      return "invalid";
    case "string":
      return "string";
    case "boolean":
      return "bool";
    case "bigint":
      return "int";
    case "number":
      return "float64";
    case "function":
      return "func";
    default:
      if (v === null) return "nil";
      if (v instanceof GoUint8) return "uint8";
      if (v instanceof GoComplex) return "complex128";
      if (Array.isArray(v)) return "slice";
      return "map";
  }
}

/** Go's reflect.Type.String() for the value, as printed in `%T` and in error messages. */
export function typeName(v: GoValue): string {
  switch (kindOf(v)) {
    case "invalid":
    case "nil":
      return "<nil>";
    case "slice":
      return "[]interface {}";
    case "map":
      return "map[string]interface {}";
    case "func":
      return "func(...interface {}) (interface {}, error)";
    case "string":
      return "string";
    case "bool":
      return "bool";
    case "int":
      return "int";
    case "uint8":
      return "uint8";
    case "float64":
      return "float64";
    case "complex128":
      return "complex128";
  }
}

/** Go's isTrue: the truth of a value for if/with/and/or/not. */
export function isTrue(v: GoValue): boolean {
  switch (kindOf(v)) {
    case "invalid":
    case "nil":
      return false;
    case "string":
      return (v as string).length > 0;
    case "bool":
      return v as boolean;
    case "int":
      return (v as bigint) !== 0n;
    case "uint8":
      return (v as GoUint8).value !== 0;
    case "float64":
      return (v as number) !== 0;
    case "complex128":
      return (v as GoComplex).re !== 0 || (v as GoComplex).im !== 0;
    case "slice":
      return (v as readonly unknown[]).length > 0;
    case "map":
      return Object.keys(v as GoMap).length > 0;
    case "func":
      return true;
  }
}

/** Map keys in Go's fmtsort order (byte-wise for strings, which equals code-point order). */
export function sortedKeys(m: GoMap): string[] {
  return Object.keys(m).sort(compareGoStrings);
}

/** Go compares strings byte-wise; for valid UTF-8 that is code-point order, which differs from JS's UTF-16 order. */
export function compareGoStrings(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done === true) return y.done === true ? 0 : -1;
    if (y.done === true) return 1;
    const cx = x.value.codePointAt(0) ?? 0;
    const cy = y.value.codePointAt(0) ?? 0;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8");

/** Go strings are bytes: `len`, `index` and `slice` work on the UTF-8 encoding. */
export function utf8Bytes(s: string): Uint8Array {
  return utf8.encode(s);
}

/** Decodes bytes back to a JS string; invalid UTF-8 becomes U+FFFD (what a file written by Go shows in an editor). */
export function fromUtf8(b: Uint8Array): string {
  return utf8Decoder.decode(b);
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
