/**
 * kiln's JSON parser: positions of every value, duplicate keys at any depth, Go's error texts and offsets, and the
 * Go decoding details Packer's messages depend on.
 */
import { describe, expect, it } from "vitest";
import { parseTemplateJson, TemplateParseError, type JsonNode } from "../src/template/mod.js";
import { JsonSyntaxError, MAX_NESTING_DEPTH, parseJsonBytes, toJsonText, toPlain } from "../src/template/json_parser.js";
import { ErrorCode } from "../src/errors.js";

function parseError(text: string | Uint8Array): TemplateParseError {
  try {
    parseTemplateJson(text, "t.json");
  } catch (err) {
    if (err instanceof TemplateParseError) return err;
    throw err;
  }
  throw new Error("expected a parse error");
}

function member(node: JsonNode, ...path: (string | number)[]): JsonNode {
  let cur = node;
  for (const step of path) {
    if (typeof step === "number" && cur.kind === "array") cur = cur.items[step] as JsonNode;
    else if (typeof step === "string" && cur.kind === "object") cur = (cur.members.find((m) => m.key === step)?.value ?? cur) as JsonNode;
    else throw new Error(`no ${String(step)}`);
  }
  return cur;
}

describe("template - JSON parser", () => {
  it("keeps the line and column of every value", () => {
    const text = '{\n  "builders": [\n    {"type": "file", "content": "é\\u00e9x"},\n    {"type": "null"}\n  ]\n}\n';
    const { root } = parseTemplateJson(text, "t.json");
    expect(member(root, "builders", 1).pos).toMatchObject({ line: 4, column: 5 });
    const content = member(root, "builders", 0, "content");
    expect(content).toMatchObject({ kind: "string", value: "ééx", pos: { line: 3, column: 33 } });
    // A column counts characters; the offset counts UTF-8 bytes, as Go's do.
    expect(content.pos.offset).toBe(Buffer.byteLength(text.slice(0, text.indexOf('"é'))));
  });

  it("rejects duplicate keys at any depth, naming the first duplicate in document order and both places", () => {
    const err = parseError('{"a": {"x": 1, "x": 2}, "a": 3}');
    expect(err.packerMessage).toBe("template has duplicate field: x");
    expect(err.problems[0]).toBe("t.json:1:16: template has duplicate field: x (first at line 1)");
    expect(err).toMatchObject({ code: ErrorCode.InvalidTemplate });
    // Keys are compared after unescaping, as Go does.
    expect(parseError('{"a": 1, "\\u0061": 2}').packerMessage).toBe("template has duplicate field: a");
  });

  it("formats syntax errors exactly as Packer does, with Go's offset and Packer's column arithmetic", () => {
    expect(parseError('{"builders":[{"type":"test"}]*').packerMessage).toBe(
      "Error parsing JSON: invalid character '*' after object key:value pair\nAt line 1, column 30 (offset 30):\n    1: {\"builders\":[{\"type\":\"test\"}]*\n                                   ^\n",
    );
    // Packer's column is one more on every line but the first.
    expect(parseError("{\n  x\n}").packerMessage).toBe(
      "Error parsing JSON: invalid character 'x' looking for beginning of object key string\nAt line 2, column 4 (offset 5):\n    1: {\n    2:   x\n         ^\n",
    );
    expect(parseError("").packerMessage).toBe("Error parsing JSON: unexpected end of JSON input\nAt line 1, column 0 (offset 0):\n    1: \n     ^\n");
    // kiln's own line says where, in characters.
    expect(parseError("{\n  x\n}").problems[0]).toBe("t.json:2:3: Error parsing JSON: invalid character 'x' looking for beginning of object key string");
  });

  it("reports numbers out of float64 range as Go's decoder does, before duplicates", () => {
    expect(parseError('{"a": 1e400, "a": 1}').packerMessage).toBe("json: cannot unmarshal number 1e400 into Go value of type float64");
  });

  it("follows Go at the end of input and inside literals", () => {
    const msg = (s: string): string => {
      try {
        parseJsonBytes(Buffer.from(s));
      } catch (err) {
        if (err instanceof JsonSyntaxError) return `${err.message} @${err.offset}`;
        throw err;
      }
      return "ok";
    };
    expect(msg("1.")).toBe("invalid character ' ' after decimal point in numeric literal @2");
    expect(msg("tru")).toBe("invalid character ' ' in literal true (expecting 'e') @3");
    expect(msg('"\\')).toBe("invalid character ' ' in string escape code @2");
    expect(msg("[1")).toBe("unexpected end of JSON input @2");
    expect(msg("12")).toBe("ok");
    expect(msg("01")).toBe("invalid character '1' after top-level value @2");
    expect(msg("\u00a0")).toBe("invalid character 'Â' looking for beginning of value @1");
  });

  it("accepts nesting up to Go's limit and rejects one more level", () => {
    const deep = (n: number): string => "[".repeat(n) + "]".repeat(n);
    expect(() => parseJsonBytes(Buffer.from(deep(MAX_NESTING_DEPTH)))).not.toThrow();
    expect(() => parseJsonBytes(Buffer.from(deep(MAX_NESTING_DEPTH + 1)))).toThrow("invalid character '[' exceeded max depth");
  });

  it("decodes strings as Go does: invalid UTF-8 bytes and lone surrogates become U+FFFD", () => {
    const node = parseJsonBytes(Uint8Array.from([0x22, 0xe2, 0x82, 0x41, 0x22]));
    expect(node).toMatchObject({ kind: "string", value: "\ufffd\ufffdA" });
    expect(parseJsonBytes(Buffer.from('"\\ud800x"'))).toMatchObject({ value: "\ufffdx" });
    expect(parseJsonBytes(Buffer.from('"\\ud83d\\ude00"'))).toMatchObject({ value: "😀" });
  });

  it("re-serialises configs keeping number literals as written", () => {
    const node = parseJsonBytes(Buffer.from('{"big": 12345678901234567890, "f": 1.50, "s": "\\u00e9", "__proto__": {"x": [true, null]}}'));
    expect(toJsonText(node)).toBe('{"big":12345678901234567890,"f":1.50,"s":"é","__proto__":{"x":[true,null]}}');
    const plain = toPlain(node) as Record<string, unknown>;
    expect(Object.keys(plain)).toEqual(["big", "f", "s", "__proto__"]);
    expect(Object.getPrototypeOf(plain)).toBe(Object.prototype);
  });
});
