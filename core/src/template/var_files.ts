/**
 * `-var-file` files, read as Packer 1.6.6 reads them (`kvflag.FlagJSON.Set`: one `json.Decoder.Decode` into a
 * `map[string]string` shared by every file): the first JSON value only (trailing text is ignored), an object of
 * strings, `null` values become "", later keys and later files win, and Go's error texts
 * (`Error reading variables in 'f.json': unexpected EOF`).
 */
import { JsonSyntaxError, parseJsonBytes, toBytes, type JsonNode } from "./json_parser.js";
import { VarFileError } from "./problems.js";

/** A var file as the CLI read it from the user's disk. */
export interface VarFileInput {
  /** The path as the user gave it (Packer names it so in its messages). */
  readonly path: string;
  readonly text: string | Uint8Array;
}

const GO_KIND: Readonly<Record<JsonNode["kind"], string>> = {
  null: "null",
  bool: "bool",
  number: "number",
  string: "string",
  array: "array",
  object: "object",
};

function isBlank(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d);
}

/**
 * Reads var files in order into one map (later files win, as Packer's shared map does).
 *
 * @throws VarFileError for the first file that does not decode; `packerMessage` is Packer's line.
 */
export function readVarFiles(files: readonly VarFileInput[]): Record<string, string> {
  let values = new Map<string, string>();
  for (const file of files) {
    const bytes = toBytes(file.text);
    const fail = (reason: string, line?: number): never => {
      const where = line === undefined ? file.path : `${file.path}:${line}`;
      throw new VarFileError(file.path, `Error reading variables in '${file.path}': ${reason}`, `${where}: cannot read variables: ${reason}`);
    };
    if (isBlank(bytes)) fail("EOF");
    let root: JsonNode;
    try {
      root = parseJsonBytes(bytes, { firstValueOnly: true, rejectDuplicateKeys: false, checkNumberRange: false });
    } catch (err) {
      if (err instanceof JsonSyntaxError) return fail(err.atEof ? "unexpected EOF" : err.message);
      throw err;
    }
    if (root.kind === "null") {
      // Go sets the map to nil: what earlier files set is gone.
      values = new Map();
      continue;
    }
    if (root.kind !== "object") return fail(`json: cannot unmarshal ${GO_KIND[root.kind]} into Go value of type kvflag.FlagJSON`, root.pos.line);
    let firstError: { reason: string; line: number } | undefined;
    for (const m of root.members) {
      if (m.value.kind === "string") values.set(m.key, m.value.value);
      else if (m.value.kind === "null") values.set(m.key, "");
      else firstError ??= { reason: `json: cannot unmarshal ${GO_KIND[m.value.kind]} into Go value of type string`, line: m.value.pos.line };
    }
    if (firstError !== undefined) fail(firstError.reason, firstError.line);
  }
  return Object.fromEntries(values);
}
