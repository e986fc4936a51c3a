/**
 * Packer decodes a template's JSON into Go structs with `mitchellh/mapstructure` (root keys strictly, builders and
 * provisioners with `WeaklyTypedInput`, post-processors strictly). That decoder decides what is accepted (`"type":
 * 5` is a builder of type "5"; `"only": "x"` is `["x"]` for a provisioner but an error for a post-processor), how
 * keys match (case-insensitively: `"Builders"` works) and what the error says. This module reproduces it over
 * kiln's positioned JSON tree, field type by field type, for the few structs templates use.
 */
import {
  GoDurationError,
  goFormatFloatF,
  goKindName,
  goParseDuration,
  goTypeName,
  goValueString,
} from "./go_compat.js";
import { toPlain, type JsonMember, type JsonNode, type JsonObject } from "./json_parser.js";

/** The Go field types template structs use. */
export type GoFieldType =
  | "string"
  | "[]string"
  | "[]interface{}"
  | "map[string]interface{}"
  | "interface{}"
  | "time.Duration"
  | "*bool"
  | "[]byte"
  | "[]map[string]string";

/** One struct field: Go name, `mapstructure` tag (the key it reads), and type. */
export interface GoField {
  readonly name: string;
  readonly tag?: string;
  readonly type: GoFieldType;
}

/** What decoding one field produced. */
export interface DecodedField {
  /** The member it came from. */
  readonly member: JsonMember;
  readonly value: DecodedValue;
}

export type DecodedValue =
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "[]string"; readonly value: readonly string[] }
  | { readonly type: "[]interface{}"; readonly value: readonly JsonNode[] }
  | { readonly type: "map[string]interface{}"; readonly value: readonly JsonMember[] }
  | { readonly type: "interface{}"; readonly value: JsonNode }
  | { readonly type: "time.Duration"; readonly value: bigint }
  | { readonly type: "*bool"; readonly value: boolean | undefined }
  | { readonly type: "other"; readonly value: undefined };

/** One mapstructure leaf error and the member it is about. */
export interface FieldError {
  readonly message: string;
  readonly member: JsonMember;
}

/** The result of decoding a JSON object into a struct. */
export interface DecodedStruct {
  /** By Go field name; only fields whose key was present. */
  readonly fields: ReadonlyMap<string, DecodedField>;
  /** Leaf errors (mapstructure's texts), in field order. */
  readonly errors: readonly FieldError[];
  /** Members no field claimed (Packer's `md.Unused`). */
  readonly unused: readonly JsonMember[];
}

const unconvertible = (name: string, goType: string, node: JsonNode): string => {
  const v = toPlain(node);
  return `'${name}' expected type '${goType}', got unconvertible type '${goTypeName(v)}', value: '${goValueString(v)}'`;
};
const kindOf = (node: JsonNode): string => goKindName(toPlain(node));

/** mapstructure `decodeString`. Returns [value, error]. */
export function decodeString(name: string, node: JsonNode, weak: boolean): [string, string | undefined] {
  switch (node.kind) {
    case "null":
      return ["", undefined];
    case "string":
      return [node.value, undefined];
    case "bool":
      if (weak) return [node.value ? "1" : "0", undefined];
      break;
    case "number":
      if (weak) return [goFormatFloatF(node.value), undefined];
      break;
    default:
      break;
  }
  return ["", unconvertible(name, "string", node)];
}

function decodeSliceItems(name: string, node: JsonNode, weak: boolean, errors: string[]): readonly JsonNode[] {
  if (node.kind === "null") return [];
  if (node.kind === "array") return node.items;
  if (!weak) {
    errors.push(`'${name}': source data must be an array or slice, got ${kindOf(node)}`);
    return [];
  }
  // WeaklyTypedInput "lifts" a single value into a one-element slice; an empty map is an empty slice.
  if (node.kind === "object" && node.members.length === 0) return [];
  return [node];
}

function decodeStringSlice(name: string, node: JsonNode, weak: boolean, errors: string[]): string[] {
  const out: string[] = [];
  decodeSliceItems(name, node, weak, errors).forEach((item, i) => {
    const [s, err] = decodeString(`${name}[${i}]`, item, weak);
    if (err !== undefined) errors.push(err);
    else out.push(s);
  });
  return out;
}

function decodeMap(name: string, node: JsonNode, weak: boolean, errors: string[]): JsonMember[] {
  if (node.kind === "null") return [];
  if (node.kind === "object") return [...node.members];
  if (node.kind === "array" && weak) {
    // decodeMapFromSlice: each element merged into the map; the first failing element ends it.
    const merged = new Map<string, JsonMember>();
    for (const [i, item] of node.items.entries()) {
      if (item.kind === "null") continue;
      if (item.kind === "array") {
        // A nested slice recurses the same way.
        for (const m of decodeMap(`${name}[${i}]`, item, weak, errors)) merged.set(m.key, m);
        continue;
      }
      if (item.kind !== "object") {
        errors.push(`'${name}[${i}]' expected a map, got '${kindOf(item)}'`);
        return [];
      }
      for (const m of item.members) merged.set(m.key, m);
    }
    return [...merged.values()];
  }
  errors.push(`'${name}' expected a map, got '${kindOf(node)}'`);
  return [];
}

function decodeDuration(name: string, node: JsonNode, weak: boolean, errors: string[]): bigint {
  switch (node.kind) {
    case "null":
      return 0n;
    case "string":
      // The StringToTimeDurationHookFunc decode hook.
      try {
        return goParseDuration(node.value);
      } catch (err) {
        if (err instanceof GoDurationError) {
          errors.push(`error decoding '${name}': ${err.message}`);
          return 0n;
        }
        throw err;
      }
    case "number":
      // int64(float64) truncates toward zero.
      return BigInt(Math.trunc(Math.max(Math.min(node.value, 9.2e18), -9.2e18)));
    case "bool":
      if (weak) return node.value ? 1n : 0n;
      break;
    default:
      break;
  }
  errors.push(unconvertible(name, "time.Duration", node));
  return 0n;
}

function decodeBoolPtr(name: string, node: JsonNode, weak: boolean, errors: string[]): boolean | undefined {
  if (node.kind === "null") return undefined;
  if (node.kind === "bool") return node.value;
  if (weak && node.kind === "number") return node.value !== 0;
  errors.push(unconvertible(name, "bool", node));
  return undefined;
}

function decodeBytes(name: string, node: JsonNode, errors: string[]): void {
  for (const [i, item] of decodeSliceItems(name, node, false, errors).entries()) {
    if (item.kind === "null") continue;
    if (item.kind === "number") {
      if (item.value < 0) errors.push(`cannot parse '${name}[${i}]', ${item.value.toFixed(6)} overflows uint`);
      continue;
    }
    errors.push(unconvertible(`${name}[${i}]`, "uint8", item));
  }
}

function decodeCommentMaps(name: string, node: JsonNode, errors: string[]): void {
  for (const [i, item] of decodeSliceItems(name, node, false, errors).entries()) {
    if (item.kind === "null") continue;
    if (item.kind !== "object") {
      errors.push(`'${name}[${i}]' expected a map, got '${kindOf(item)}'`);
      continue;
    }
    for (const m of item.members) {
      const [, err] = decodeString(`${name}[${i}][${m.key}]`, m.value, false);
      if (err !== undefined) errors.push(err);
    }
  }
}

function decodeField(name: string, type: GoFieldType, node: JsonNode, weak: boolean, errors: string[]): DecodedValue {
  switch (type) {
    case "string": {
      const [value, err] = decodeString(name, node, weak);
      if (err !== undefined) errors.push(err);
      return { type, value };
    }
    case "[]string":
      return { type, value: decodeStringSlice(name, node, weak, errors) };
    case "[]interface{}":
      return { type, value: decodeSliceItems(name, node, weak, errors) };
    case "map[string]interface{}":
      return { type, value: decodeMap(name, node, weak, errors) };
    case "interface{}":
      return { type, value: node };
    case "time.Duration":
      return { type, value: decodeDuration(name, node, weak, errors) };
    case "*bool":
      return { type, value: decodeBoolPtr(name, node, weak, errors) };
    case "[]byte":
      decodeBytes(name, node, errors);
      return { type: "other", value: undefined };
    case "[]map[string]string":
      decodeCommentMaps(name, node, errors);
      return { type: "other", value: undefined };
  }
}

/** Go's `strings.EqualFold`, close enough for JSON keys (simple case folding). */
function equalFold(a: string, b: string): boolean {
  return a.length === b.length ? a.toLowerCase() === b.toLowerCase() || a.toUpperCase() === b.toUpperCase() : a.toLowerCase() === b.toLowerCase();
}

/**
 * mapstructure `decodeStructFromMap`: each field takes the member whose key equals its tag (or Go name), else the
 * first member whose key matches case-insensitively. Field errors are collected, not thrown.
 */
export function decodeStruct(obj: JsonObject, fields: readonly GoField[], weak: boolean): DecodedStruct {
  const errors: FieldError[] = [];
  const claimed = new Set<JsonMember>();
  const out = new Map<string, DecodedField>();
  for (const field of fields) {
    const key = field.tag ?? field.name;
    const member = obj.members.find((m) => m.key === key) ?? obj.members.find((m) => !claimed.has(m) && equalFold(m.key, key));
    if (member === undefined) continue;
    claimed.add(member);
    const messages: string[] = [];
    out.set(field.name, { member, value: decodeField(key, field.type, member.value, weak, messages) });
    for (const message of messages) errors.push({ message, member });
  }
  return { fields: out, errors, unused: obj.members.filter((m) => !claimed.has(m)) };
}

/** The error of decoding a non-object where a struct is expected (`'' expected a map, got 'string'`). */
export function notAMapError(node: JsonNode): string {
  return `'' expected a map, got '${kindOf(node)}'`;
}

/** Reads a decoded field of a known type. */
export function fieldString(s: DecodedStruct, name: string): string {
  const f = s.fields.get(name)?.value;
  return f?.type === "string" ? f.value : "";
}
export function fieldStrings(s: DecodedStruct, name: string): readonly string[] {
  const f = s.fields.get(name)?.value;
  return f?.type === "[]string" ? f.value : [];
}
export function fieldMap(s: DecodedStruct, name: string): readonly JsonMember[] {
  const f = s.fields.get(name)?.value;
  return f?.type === "map[string]interface{}" ? f.value : [];
}
export function fieldItems(s: DecodedStruct, name: string): readonly JsonNode[] {
  const f = s.fields.get(name)?.value;
  return f?.type === "[]interface{}" ? f.value : [];
}
export function fieldDuration(s: DecodedStruct, name: string): bigint {
  const f = s.fields.get(name)?.value;
  return f?.type === "time.Duration" ? f.value : 0n;
}
export function fieldBoolPtr(s: DecodedStruct, name: string): boolean | undefined {
  const f = s.fields.get(name)?.value;
  return f?.type === "*bool" ? f.value : undefined;
}
