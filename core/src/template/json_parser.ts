/**
 * kiln's JSON parser for templates and var files. `JSON.parse` cannot be used: it silently keeps the last of two
 * duplicate keys (Packer rejects them), it does not know where a value came from (kiln names the line of every
 * problem), and its error texts differ from Go's `encoding/json`, which users see in `packer validate`.
 *
 * The parser works on UTF-8 bytes, as Go does, so offsets, the first error and its wording are Go's exactly:
 * - syntax errors follow Go's scanner state machine (`invalid character 'x' after object key:value pair`,
 *   `unexpected end of JSON input`, nesting deeper than 10000 levels is an error), with Go's byte offset;
 * - a number that does not fit a float64 is Go's `json: cannot unmarshal number 1e400 into Go value of type float64`;
 * - strings decode as Go decodes them (each invalid UTF-8 byte becomes U+FFFD, lone surrogates too), so that
 *   duplicate detection compares the same keys Go compares.
 *
 * It is iterative, so hostile input (deep nesting, huge files) cannot overflow the call stack.
 */
import { goQuoteJsonByte, type GoJson } from "./go_compat.js";

/** Where something is in a source file. `line` and `column` are 1-based; `column` counts characters. */
export interface SourcePos {
  /** Byte offset (0-based) of the first byte, in the UTF-8 text. */
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

interface NodeBase {
  readonly pos: SourcePos;
}
export interface JsonNull extends NodeBase {
  readonly kind: "null";
}
export interface JsonBool extends NodeBase {
  readonly kind: "bool";
  readonly value: boolean;
}
export interface JsonNumber extends NodeBase {
  readonly kind: "number";
  readonly value: number;
  /** The literal as written (kept so numbers reach plugins unchanged, e.g. 64-bit integers). */
  readonly raw: string;
}
export interface JsonString extends NodeBase {
  readonly kind: "string";
  readonly value: string;
}
export interface JsonArray extends NodeBase {
  readonly kind: "array";
  readonly items: readonly JsonNode[];
}
export interface JsonMember {
  readonly key: string;
  readonly keyPos: SourcePos;
  readonly value: JsonNode;
}
export interface JsonObject extends NodeBase {
  readonly kind: "object";
  /** In document order. Keys are unique (duplicates are rejected). */
  readonly members: readonly JsonMember[];
}
export type JsonNode = JsonNull | JsonBool | JsonNumber | JsonString | JsonArray | JsonObject;

/** A parsed JSON file: its tree and how to turn byte offsets into lines. */
export interface JsonDocument {
  readonly fileName: string;
  readonly bytes: Uint8Array;
  readonly root: JsonNode;
}

/** Go's `json.SyntaxError`: `message` is Go's text; `offset` is Go's `Offset` (bytes read, the bad byte included). */
export class JsonSyntaxError extends Error {
  readonly offset: number;
  /** True when the input ended before the value did (Go's streaming decoder then says `unexpected EOF`). */
  readonly atEof: boolean;
  constructor(message: string, offset: number, atEof: boolean) {
    super(message);
    this.name = "JsonSyntaxError";
    this.offset = offset;
    this.atEof = atEof;
  }
}

/** A number literal does not fit a float64 (Go: `*json.UnmarshalTypeError`). */
export class JsonNumberRangeError extends Error {
  readonly pos: SourcePos;
  constructor(raw: string, pos: SourcePos) {
    super(`json: cannot unmarshal number ${raw} into Go value of type float64`);
    this.name = "JsonNumberRangeError";
    this.pos = pos;
  }
}

/** The second occurrence of a key in one object (Packer: `template has duplicate field: <key>`). */
export class JsonDuplicateKeyError extends Error {
  readonly key: string;
  readonly pos: SourcePos;
  readonly firstPos: SourcePos;
  constructor(key: string, pos: SourcePos, firstPos: SourcePos) {
    super(`template has duplicate field: ${key}`);
    this.name = "JsonDuplicateKeyError";
    this.key = key;
    this.pos = pos;
    this.firstPos = firstPos;
  }
}

/** Go's `maxNestingDepth` (encoding/json, since Go 1.15). */
export const MAX_NESTING_DEPTH = 10000;

// ---------------------------------------------------------------------------------------------------------------
// Positions.

/** Maps byte offsets of one text to lines and character columns. */
export class LineIndex {
  private readonly starts: number[] = [0];
  // The last answer: the parser asks in increasing order, so columns are counted incrementally (linear overall
  // even for a megabyte on one line).
  private lastLine = -1;
  private lastOffset = 0;
  private lastColumn = 1;
  constructor(private readonly bytes: Uint8Array) {
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) this.starts.push(i + 1);
  }

  position(offset: number): SourcePos {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    let from = this.starts[lo] ?? 0;
    let column = 1;
    if (lo === this.lastLine && offset >= this.lastOffset) {
      from = this.lastOffset;
      column = this.lastColumn;
    }
    for (let i = from; i < offset && i < this.bytes.length; i++) {
      if (((this.bytes[i] ?? 0) & 0xc0) !== 0x80) column++;
    }
    this.lastLine = lo;
    this.lastOffset = offset;
    this.lastColumn = column;
    return { offset, line: lo + 1, column };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// UTF-8 the way Go decodes it (utf8.DecodeRune): an invalid byte yields U+FFFD and consumes one byte.

function decodeRune(b: Uint8Array, i: number): [codePoint: number, size: number] {
  const c0 = b[i] ?? 0;
  if (c0 < 0x80) return [c0, 1];
  const cont = (j: number, lo = 0x80, hi = 0xbf): number => {
    const c = b[j];
    return c !== undefined && c >= lo && c <= hi ? c & 0x3f : -1;
  };
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    const c1 = cont(i + 1);
    if (c1 >= 0) return [((c0 & 0x1f) << 6) | c1, 2];
  } else if (c0 >= 0xe0 && c0 <= 0xef) {
    const c1 = cont(i + 1, c0 === 0xe0 ? 0xa0 : 0x80, c0 === 0xed ? 0x9f : 0xbf);
    const c2 = c1 >= 0 ? cont(i + 2) : -1;
    if (c2 >= 0) return [((c0 & 0x0f) << 12) | (c1 << 6) | c2, 3];
  } else if (c0 >= 0xf0 && c0 <= 0xf4) {
    const c1 = cont(i + 1, c0 === 0xf0 ? 0x90 : 0x80, c0 === 0xf4 ? 0x8f : 0xbf);
    const c2 = c1 >= 0 ? cont(i + 2) : -1;
    const c3 = c2 >= 0 ? cont(i + 3) : -1;
    if (c3 >= 0) return [((c0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, 4];
  }
  return [0xfffd, 1];
}

/** Decodes bytes as Go converts `[]byte` to runes: invalid bytes become U+FFFD one by one. */
export function goDecodeUtf8(whole: Uint8Array, start = 0, end = whole.length): string {
  const b = whole.subarray(0, end);
  let ascii = true;
  for (let i = start; i < end; i++) {
    if ((b[i] ?? 0) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString("latin1");
  const parts: string[] = [];
  for (let i = start; i < end; ) {
    const [cp, size] = decodeRune(b, i);
    parts.push(String.fromCodePoint(cp));
    i += size;
  }
  return parts.join("");
}

function hex4(b: Uint8Array, i: number): number {
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = b[i + k];
    if (c === undefined) return -1;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Go's `unquoteBytes` for a string literal already checked by the scanner (between the quotes). */
function unquote(b: Uint8Array, start: number, end: number): string {
  let simple = true;
  for (let i = start; i < end; i++) {
    const c = b[i] ?? 0;
    if (c === 0x5c || c >= 0x80) {
      simple = false;
      break;
    }
  }
  if (simple) return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString("latin1");
  const parts: string[] = [];
  let i = start;
  while (i < end) {
    const c = b[i] ?? 0;
    if (c === 0x5c) {
      const e = b[i + 1] ?? 0;
      const simpleEsc: Readonly<Record<number, string>> = { 0x22: '"', 0x5c: "\\", 0x2f: "/", 0x27: "'", 0x62: "\b", 0x66: "\f", 0x6e: "\n", 0x72: "\r", 0x74: "\t" };
      const s = simpleEsc[e];
      if (s !== undefined) {
        parts.push(s);
        i += 2;
        continue;
      }
      // \uXXXX (the scanner guarantees four hex digits)
      let r = hex4(b, i + 2);
      i += 6;
      if (r >= 0xd800 && r < 0xe000) {
        const r2 = b[i] === 0x5c && b[i + 1] === 0x75 ? hex4(b, i + 2) : -1;
        if (r < 0xdc00 && r2 >= 0xdc00 && r2 < 0xe000) {
          parts.push(String.fromCodePoint(0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00)));
          i += 6;
          continue;
        }
        r = 0xfffd;
      }
      parts.push(String.fromCodePoint(r));
      continue;
    }
    if (c < 0x80) {
      parts.push(String.fromCharCode(c));
      i++;
      continue;
    }
    const [cp, size] = decodeRune(b, i);
    parts.push(String.fromCodePoint(cp));
    i += size;
  }
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------------------------
// The scanner/parser.

/** Options of {@link parseJsonBytes}. */
export interface ParseJsonOptions {
  /** Stop after the first complete value, ignoring what follows (Go's `json.Decoder.Decode`). */
  readonly firstValueOnly?: boolean;
  /** Report duplicate keys (Packer's check). @default true */
  readonly rejectDuplicateKeys?: boolean;
  /** Report numbers outside float64 range (Go does when decoding into `interface{}`). @default true */
  readonly checkNumberRange?: boolean;
}

type Frame =
  | { readonly kind: "array"; readonly pos: SourcePos; readonly items: JsonNode[] }
  | {
      readonly kind: "object";
      readonly pos: SourcePos;
      readonly members: JsonMember[];
      readonly seen: Map<string, SourcePos>;
      key: string;
      keyPos: SourcePos;
    };

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/**
 * Parses JSON bytes with Go's rules and errors. Errors are thrown in Go's precedence: a syntax error anywhere
 * first (Go validates the whole input before decoding), then the first number out of float64 range, then the first
 * duplicate key in document order.
 *
 * @throws JsonSyntaxError, JsonNumberRangeError or JsonDuplicateKeyError
 */
export function parseJsonBytes(bytes: Uint8Array, options: ParseJsonOptions = {}): JsonNode {
  const lines = new LineIndex(bytes);
  const n = bytes.length;
  let i = 0;
  const stack: Frame[] = [];
  let rangeError: JsonNumberRangeError | undefined;
  let duplicate: JsonDuplicateKeyError | undefined;
  const rejectDuplicates = options.rejectDuplicateKeys ?? true;
  const checkRange = options.checkNumberRange ?? true;

  const syntax = (context: string, at: number): JsonSyntaxError => {
    if (at >= n) return new JsonSyntaxError(`invalid character ' ' ${context}`, n, true);
    return new JsonSyntaxError(`invalid character ${goQuoteJsonByte(bytes[at] ?? 0)} ${context}`, at + 1, false);
  };
  const unexpectedEnd = (): JsonSyntaxError => new JsonSyntaxError("unexpected end of JSON input", n, true);
  const skipSpace = (): void => {
    while (i < n && isSpace(bytes[i])) i++;
  };

  const scanString = (): [start: number, end: number] => {
    // bytes[i] is the opening quote
    const start = ++i;
    for (;;) {
      if (i >= n) throw unexpectedEnd();
      const c = bytes[i] ?? 0;
      if (c === 0x22) return [start, i++];
      if (c < 0x20) throw syntax("in string literal", i);
      if (c === 0x5c) {
        i++;
        if (i >= n) throw syntax("in string escape code", i);
        const e = bytes[i] ?? 0;
        if (e === 0x75) {
          for (let k = 1; k <= 4; k++) {
            const h = bytes[i + k];
            const ok = h !== undefined && (isDigit(h) || (h >= 0x61 && h <= 0x66) || (h >= 0x41 && h <= 0x46));
            if (!ok) throw syntax("in \\u hexadecimal character escape", i + k);
          }
          i += 5;
          continue;
        }
        if (![0x62, 0x66, 0x6e, 0x72, 0x74, 0x5c, 0x2f, 0x22].includes(e)) throw syntax("in string escape code", i);
        i++;
        continue;
      }
      i++;
    }
  };

  const scanLiteral = (word: string): void => {
    for (let k = 1; k < word.length; k++) {
      if (bytes[i + k] !== word.charCodeAt(k)) throw syntax(`in literal ${word} (expecting ${goQuoteJsonByte(word.charCodeAt(k))})`, i + k);
    }
    i += word.length;
  };

  const scanNumber = (): void => {
    if (bytes[i] === 0x2d) {
      i++;
      if (!isDigit(bytes[i])) throw syntax("in numeric literal", i);
    }
    if (bytes[i] === 0x30) i++;
    else while (isDigit(bytes[i])) i++;
    if (bytes[i] === 0x2e) {
      i++;
      if (!isDigit(bytes[i])) throw syntax("after decimal point in numeric literal", i);
      while (isDigit(bytes[i])) i++;
    }
    if (bytes[i] === 0x65 || bytes[i] === 0x45) {
      i++;
      if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
      if (!isDigit(bytes[i])) throw syntax("in exponent of numeric literal", i);
      while (isDigit(bytes[i])) i++;
    }
  };

  /** Parses a scalar at i, or opens a container (returns undefined). */
  const beginValue = (): JsonNode | undefined => {
    if (i >= n) throw unexpectedEnd();
    const c = bytes[i] ?? 0;
    const pos = lines.position(i);
    switch (c) {
      case 0x7b: // {
      case 0x5b: {
        // [
        if (stack.length >= MAX_NESTING_DEPTH) throw syntax("exceeded max depth", i);
        i++;
        if (c === 0x7b) stack.push({ kind: "object", pos, members: [], seen: new Map(), key: "", keyPos: pos });
        else stack.push({ kind: "array", pos, items: [] });
        return undefined;
      }
      case 0x22: {
        const [s, e] = scanString();
        return { kind: "string", pos, value: unquote(bytes, s, e) };
      }
      case 0x74:
        scanLiteral("true");
        return { kind: "bool", pos, value: true };
      case 0x66:
        scanLiteral("false");
        return { kind: "bool", pos, value: false };
      case 0x6e:
        scanLiteral("null");
        return { kind: "null", pos };
      default: {
        if (c !== 0x2d && !isDigit(c)) throw syntax("looking for beginning of value", i);
        const start = i;
        scanNumber();
        const raw = Buffer.from(bytes.buffer, bytes.byteOffset + start, i - start).toString("latin1");
        const value = Number(raw);
        if (!Number.isFinite(value) && checkRange) rangeError ??= new JsonNumberRangeError(raw, pos);
        return { kind: "number", pos, value: Number.isFinite(value) ? value : 0, raw };
      }
    }
  };

  /** After `{` or `,` in an object: reads `"key" :` and leaves i at the value. */
  const readKey = (frame: Frame & { kind: "object" }, afterComma: boolean): boolean => {
    skipSpace();
    if (i >= n) throw unexpectedEnd();
    if (!afterComma && bytes[i] === 0x7d) {
      i++;
      return false;
    }
    if (bytes[i] !== 0x22) throw syntax("looking for beginning of object key string", i);
    const keyPos = lines.position(i);
    const [s, e] = scanString();
    const key = unquote(bytes, s, e);
    skipSpace();
    if (i >= n) throw unexpectedEnd();
    if (bytes[i] !== 0x3a) throw syntax("after object key", i);
    i++;
    const first = frame.seen.get(key);
    if (first !== undefined) {
      if (rejectDuplicates) duplicate ??= new JsonDuplicateKeyError(key, keyPos, first);
    } else frame.seen.set(key, keyPos);
    frame.key = key;
    frame.keyPos = keyPos;
    return true;
  };

  let root: JsonNode | undefined;
  skipSpace();
  let value = beginValue();
  for (;;) {
    if (value === undefined) {
      // A container was just opened: read its first element, or close it when empty.
      const top = stack[stack.length - 1];
      if (top === undefined) throw new Error("unreachable");
      if (top.kind === "object") {
        if (readKey(top, false)) {
          skipSpace();
          value = beginValue();
          continue;
        }
        stack.pop();
        value = { kind: "object", pos: top.pos, members: top.members };
      } else {
        skipSpace();
        if (i >= n) throw unexpectedEnd();
        if (bytes[i] === 0x5d) {
          i++;
          stack.pop();
          value = { kind: "array", pos: top.pos, items: top.items };
        } else {
          value = beginValue();
          continue;
        }
      }
    }
    // A complete value: attach it and decide what comes next.
    const parent = stack[stack.length - 1];
    if (parent === undefined) {
      root = value;
      break;
    }
    if (parent.kind === "array") parent.items.push(value);
    else parent.members.push({ key: parent.key, keyPos: parent.keyPos, value });
    skipSpace();
    if (i >= n) throw unexpectedEnd();
    const c = bytes[i];
    if (parent.kind === "array") {
      if (c === 0x2c) {
        i++;
        skipSpace();
        value = beginValue();
        continue;
      }
      if (c === 0x5d) {
        i++;
        stack.pop();
        value = { kind: "array", pos: parent.pos, items: parent.items };
        continue;
      }
      throw syntax("after array element", i);
    }
    if (c === 0x2c) {
      i++;
      readKey(parent, true);
      skipSpace();
      value = beginValue();
      continue;
    }
    if (c === 0x7d) {
      i++;
      stack.pop();
      value = { kind: "object", pos: parent.pos, members: parent.members };
      continue;
    }
    throw syntax("after object key:value pair", i);
  }
  if (options.firstValueOnly !== true) {
    skipSpace();
    if (i < n) throw syntax("after top-level value", i);
  }
  if (rangeError !== undefined) throw rangeError;
  if (duplicate !== undefined) throw duplicate;
  return root;
}

/** UTF-8 bytes of a template given as text or bytes. */
export function toBytes(text: string | Uint8Array): Uint8Array {
  return typeof text === "string" ? Buffer.from(text, "utf8") : text;
}

/**
 * Packer's `highlightPosition` for a syntax error: its line/column arithmetic (column counts bytes and is one more
 * on every line but the first) and its excerpt (the previous line, then the current line up to the error, then a
 * caret). Reproduced exactly because `packer validate` prints it.
 */
export function packerHighlight(bytes: Uint8Array, pos: number): { line: number; col: number; highlight: string } {
  let line = 1;
  let col = 0;
  let lastStart = -1;
  let lastEnd = -1;
  let thisStart = 0;
  for (let k = 0; k < pos && k < bytes.length; k++) {
    if (bytes[k] === 0x0a) {
      lastStart = thisStart;
      lastEnd = k;
      thisStart = k + 1;
      line++;
      col = 1;
    } else col++;
  }
  const thisEnd = Math.min(pos, bytes.length);
  const pad = (x: number): string => String(x).padStart(5, " ");
  let highlight = "";
  if (line > 1) highlight += `${pad(line - 1)}: ${goDecodeUtf8(bytes, lastStart, lastEnd)}\n`;
  highlight += `${pad(line)}: ${goDecodeUtf8(bytes, thisStart, thisEnd)}\n`;
  highlight += `${" ".repeat(col + 5)}^\n`;
  return { line, col, highlight };
}

/**
 * Turns a parsed node into plain JS values (objects keep document order; `__proto__` stays an ordinary key): the Go
 * value `encoding/json` would give `interface{}`.
 */
export function toPlain(node: JsonNode): GoJson {
  switch (node.kind) {
    case "null":
      return null;
    case "bool":
    case "number":
    case "string":
      return node.value;
    case "array":
      return node.items.map(toPlain);
    case "object":
      return Object.fromEntries(node.members.map((m) => [m.key, toPlain(m.value)]));
  }
}

/** Re-serialises a node as compact JSON, keeping number literals as written. */
export function toJsonText(node: JsonNode): string {
  const parts: string[] = [];
  const stack: (JsonNode | string)[] = [node];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === undefined) break;
    if (typeof item === "string") {
      parts.push(item);
      continue;
    }
    switch (item.kind) {
      case "null":
        parts.push("null");
        break;
      case "bool":
        parts.push(item.value ? "true" : "false");
        break;
      case "number":
        parts.push(item.raw);
        break;
      case "string":
        parts.push(JSON.stringify(item.value));
        break;
      case "array": {
        parts.push("[");
        const pending: (JsonNode | string)[] = [];
        item.items.forEach((v, k) => {
          if (k > 0) pending.push(",");
          pending.push(v);
        });
        pending.push("]");
        for (let k = pending.length - 1; k >= 0; k--) stack.push(pending[k] ?? "");
        break;
      }
      case "object": {
        parts.push("{");
        const pending: (JsonNode | string)[] = [];
        item.members.forEach((m, k) => {
          pending.push(`${k > 0 ? "," : ""}${JSON.stringify(m.key)}:`);
          pending.push(m.value);
        });
        pending.push("}");
        for (let k = pending.length - 1; k >= 0; k--) stack.push(pending[k] ?? "");
        break;
      }
    }
  }
  return parts.join("");
}
