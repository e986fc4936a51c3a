/**
 * text/template's predefined functions (Go 1.19): and or not len index slice print printf println eq ne lt le gt
 * ge html js urlquery call. `and`/`or` are declared here but short-circuited by the executor, as in Go.
 */

import { FuncCallError } from "./errors.js";
import { sprint, sprintf, sprintln } from "./fmt.js";
import { isPrint } from "./strconv.js";
import type { FuncSpec } from "./spec.js";
import {
  GoComplex, GoUint8, type GoFunc, type GoMap, type GoValue, compareGoStrings, fromJs, fromUtf8, isTrue, kindOf, toJs,
  typeName, utf8Bytes, utf8Length,
} from "./values.js";

type BasicKind = "bool" | "int" | "uint" | "float" | "complex" | "string" | "invalid";

function basicKind(v: GoValue): BasicKind {
  switch (kindOf(v)) {
    case "bool":
      return "bool";
    case "int":
      return "int";
    case "uint8":
      return "uint";
    case "float64":
      return "float";
    case "complex128":
      return "complex";
    case "string":
      return "string";
    default:
      return "invalid";
  }
}

const ERR_BAD_COMPARISON_TYPE = "invalid type for comparison";
const ERR_BAD_COMPARISON = "incompatible types for comparison";
const ERR_NO_COMPARISON = "missing argument for comparison";

const intValue = (v: GoValue): bigint => (v instanceof GoUint8 ? BigInt(v.value) : (v as bigint));

function eq(arg1: GoValue, ...arg2: GoValue[]): boolean {
  if (arg2.length === 0) throw new FuncCallError(ERR_NO_COMPARISON);
  const k1 = basicKind(arg1);
  for (const arg of arg2) {
    const k2 = basicKind(arg);
    let truth = false;
    if (k1 !== k2) {
      if ((k1 === "int" && k2 === "uint") || (k1 === "uint" && k2 === "int")) {
        truth = intValue(arg1) === intValue(arg);
      } else if (arg1 !== undefined && arg !== undefined) {
        // Comparing a value with a missing one is false, not an error (Go 1.18+).
        throw new FuncCallError(ERR_BAD_COMPARISON);
      }
    } else {
      switch (k1) {
        case "bool":
        case "string":
        case "float":
          truth = arg1 === arg;
          break;
        case "int":
        case "uint":
          truth = intValue(arg1) === intValue(arg);
          break;
        case "complex":
          truth = (arg1 as GoComplex).re === (arg as GoComplex).re && (arg1 as GoComplex).im === (arg as GoComplex).im;
          break;
        default:
          if (arg1 === undefined || arg === undefined) truth = arg1 === arg;
          else throw new FuncCallError(`non-comparable type ${sprintf("%s", [arg])}: ${typeName(arg)}`);
      }
    }
    if (truth) return true;
  }
  return false;
}

function lt(arg1: GoValue, arg2: GoValue): boolean {
  const k1 = basicKind(arg1);
  if (k1 === "invalid") throw new FuncCallError(ERR_BAD_COMPARISON_TYPE);
  const k2 = basicKind(arg2);
  if (k2 === "invalid") throw new FuncCallError(ERR_BAD_COMPARISON_TYPE);
  if (k1 !== k2) {
    if ((k1 === "int" && k2 === "uint") || (k1 === "uint" && k2 === "int")) return intValue(arg1) < intValue(arg2);
    throw new FuncCallError(ERR_BAD_COMPARISON);
  }
  switch (k1) {
    case "bool":
    case "complex":
      throw new FuncCallError(ERR_BAD_COMPARISON_TYPE);
    case "float":
      return (arg1 as number) < (arg2 as number);
    case "int":
    case "uint":
      return intValue(arg1) < intValue(arg2);
    default:
      return compareGoStrings(arg1 as string, arg2 as string) < 0;
  }
}

const le = (a: GoValue, b: GoValue): boolean => lt(a, b) || eq(a, b);

function indexArg(index: GoValue, cap: number): number {
  let x: bigint;
  switch (kindOf(index)) {
    case "int":
    case "uint8":
      x = intValue(index);
      break;
    case "invalid":
    case "nil":
      throw new FuncCallError("cannot index slice/array with nil");
    default:
      throw new FuncCallError(`cannot index slice/array with type ${typeName(index)}`);
  }
  if (x < 0n || x > BigInt(cap)) throw new FuncCallError(`index out of range: ${x}`);
  return Number(x);
}

function index(item: GoValue, ...indexes: GoValue[]): GoValue {
  if (item === undefined || item === null) throw new FuncCallError("index of untyped nil");
  let cur: GoValue = item;
  let first = true;
  for (const idx of indexes) {
    // Elements of containers are interface values; a nil one cannot be indexed further.
    if (!first && cur === null) throw new FuncCallError("index of nil pointer");
    first = false;
    switch (kindOf(cur)) {
      case "string": {
        const bytes = utf8Bytes(cur as string);
        const x = indexArg(idx, bytes.length);
        if (x === bytes.length) throw new FuncCallError(`index out of range: ${x}`);
        cur = new GoUint8(bytes[x] ?? 0);
        break;
      }
      case "slice": {
        const arr = cur as readonly unknown[];
        const x = indexArg(idx, arr.length);
        if (x === arr.length) throw new FuncCallError(`index out of range: ${x}`);
        cur = fromJs(arr[x]) ?? null;
        break;
      }
      case "map": {
        if (idx === undefined || idx === null) {
          // reflect.Zero(string) is "", an ordinary key.
          cur = mapGet(cur as GoMap, "");
          break;
        }
        if (typeof idx !== "string") throw new FuncCallError(`value has type ${typeName(idx)}; should be string`);
        cur = mapGet(cur as GoMap, idx);
        break;
      }
      default:
        throw new FuncCallError(`can't index item of type ${typeName(cur)}`);
    }
  }
  return cur;
}

/** A map lookup; a missing key yields the element type's zero value, a nil interface{}. */
function mapGet(m: GoMap, key: string): GoValue {
  return Object.prototype.hasOwnProperty.call(m, key) ? (fromJs(m[key]) ?? null) : null;
}

function slice(item: GoValue, ...indexes: GoValue[]): GoValue {
  if (item === undefined || item === null) throw new FuncCallError("slice of untyped nil");
  if (indexes.length > 3) throw new FuncCallError(`too many slice indexes: ${indexes.length}`);
  let len: number;
  const kind = kindOf(item);
  if (kind === "string") {
    if (indexes.length === 3) throw new FuncCallError("cannot 3-index slice a string");
    len = utf8Length(item as string);
  } else if (kind === "slice") {
    len = (item as readonly unknown[]).length;
  } else {
    throw new FuncCallError(`can't slice item of type ${typeName(item)}`);
  }
  const idx = [0, len, len];
  indexes.forEach((ix, i) => {
    idx[i] = indexArg(ix, len);
  });
  const [i0 = 0, i1 = len, i2 = len] = idx;
  if (i0 > i1) throw new FuncCallError(`invalid slice index: ${i0} > ${i1}`);
  if (indexes.length === 3 && i1 > i2) throw new FuncCallError(`invalid slice index: ${i1} > ${i2}`);
  if (kind === "string") return fromUtf8(utf8Bytes(item as string).slice(i0, i1));
  return (item as readonly unknown[]).slice(i0, i1);
}

function length(item: GoValue): GoValue {
  switch (kindOf(item)) {
    case "nil":
      throw new FuncCallError("len of nil pointer");
    case "invalid":
      // Go panics inside reflect here; safeCall turns the panic into this error.
      throw new FuncCallError("reflect: call of reflect.Value.Type on zero Value");
    case "string":
      return BigInt(utf8Length(item as string));
    case "slice":
      return BigInt((item as readonly unknown[]).length);
    case "map":
      return BigInt(Object.keys(item as GoMap).length);
    default:
      throw new FuncCallError(`len of type ${typeName(item)}`);
  }
}

/** text/template's evalArgs: a lone string as is, otherwise fmt.Sprint of the printable forms. */
function evalArgs(args: GoValue[]): string {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  return sprint(args);
}

export function htmlEscape(s: string): string {
  return s.replace(/["'&<>\0]/g, (c) => {
    switch (c) {
      case '"': return "&#34;";
      case "'": return "&#39;";
      case "&": return "&amp;";
      case "<": return "&lt;";
      case ">": return "&gt;";
      default: return "\uFFFD";
    }
  });
}

export function jsEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case "\\": out += "\\\\"; continue;
      case "'": out += "\\'"; continue;
      case '"': out += '\\"'; continue;
      case "<": out += "\\u003C"; continue;
      case ">": out += "\\u003E"; continue;
      case "&": out += "\\u0026"; continue;
      case "=": out += "\\u003D"; continue;
      default: break;
    }
    if (c < 0x20) out += "\\u00" + c.toString(16).toUpperCase().padStart(2, "0");
    else if (c < 0x80 || isPrint(c)) out += ch;
    else out += "\\u" + c.toString(16).toUpperCase().padStart(4, "0");
  }
  return out;
}

/** Go's url.QueryEscape. */
export function queryEscape(s: string): string {
  let out = "";
  for (const b of utf8Bytes(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function call(fn: GoValue, ...args: GoValue[]): GoValue {
  if (fn === undefined || fn === null) throw new FuncCallError("call of nil");
  if (typeof fn !== "function") throw new FuncCallError(`non-function of type ${typeName(fn)}`);
  return callJs(fn, args);
}

/** Calls a plugin-supplied JS function; a thrown error becomes Go's returned error. */
export function callJs(fn: GoFunc, args: GoValue[]): GoValue {
  let result: unknown;
  try {
    result = fn(...args.map(toJs));
  } catch (e) {
    throw new FuncCallError(e instanceof Error ? e.message : String(e));
  }
  return fromJs(result);
}

const V = "value" as const;

/**
 * Go's indirectInterface: reflect.Value builtins see through an interface value, so a nil interface (null: a JSON
 * null in data, or nil from a function) is the zero Value (undefined) for them. Only `len` tells the two apart.
 */
const iface = (v: GoValue): GoValue => (v === null ? undefined : v);
const ifaces = (vs: GoValue[]): GoValue[] => vs.map(iface);

/** The predefined functions, keyed by name. */
export const BUILTINS: ReadonlyMap<string, FuncSpec> = new Map<string, FuncSpec>([
  // The executor evaluates and/or itself (lazily); `call` is never reached.
  ["and", { params: [V], variadic: V, shortCircuit: "and", call: () => undefined }],
  ["or", { params: [V], variadic: V, shortCircuit: "or", call: () => undefined }],
  ["not", { params: [V], call: ([a]) => !isTrue(iface(a)) }],
  ["len", { params: [V], call: ([a]) => length(a) }],
  ["index", { params: [V], variadic: V, call: ([a, ...rest]) => index(iface(a), ...ifaces(rest)) }],
  ["slice", { params: [V], variadic: V, call: ([a, ...rest]) => slice(iface(a), ...ifaces(rest)) }],
  ["call", { params: [V], variadic: V, call: ([f, ...rest]) => call(iface(f), ...rest) }],
  ["print", { params: [], variadic: "any", call: (args) => sprint(args) }],
  ["println", { params: [], variadic: "any", call: (args) => sprintln(args) }],
  ["printf", { params: ["string"], variadic: "any", call: ([f, ...rest]) => sprintf(f as string, rest) }],
  ["eq", { params: [V], variadic: V, call: ([a, ...rest]) => eq(iface(a), ...ifaces(rest)) }],
  ["ne", { params: [V, V], call: ([a, b]) => !eq(iface(a), iface(b)) }],
  ["lt", { params: [V, V], call: ([a, b]) => lt(iface(a), iface(b)) }],
  ["le", { params: [V, V], call: ([a, b]) => le(iface(a), iface(b)) }],
  ["gt", { params: [V, V], call: ([a, b]) => !le(iface(a), iface(b)) }],
  ["ge", { params: [V, V], call: ([a, b]) => !lt(iface(a), iface(b)) }],
  ["html", { params: [], variadic: "any", call: (args) => htmlEscape(evalArgs(args)) }],
  ["js", { params: [], variadic: "any", call: (args) => jsEscape(evalArgs(args)) }],
  ["urlquery", { params: [], variadic: "any", call: (args) => queryEscape(evalArgs(args)) }],
]);

