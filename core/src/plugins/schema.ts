/**
 * Declarative plugin config schemas and the decoder behind `validatePluginConfig`.
 *
 * A schema lists every key a Packer plugin accepts, with its type, default and whether it is required. Decoding
 * follows what Packer 1.6.6 does with a JSON template (mapstructure with `WeaklyTypedInput`): `"5"` is accepted for an
 * int, `true` becomes `"1"` for a string, a single value becomes a one-element list. Problems are phrased with
 * Packer's wording (`unknown configuration key: '"x"'`, `cannot parse 'n' as int: ...`), but unlike Packer, which
 * stops at the first stage that fails, every problem is reported at once.
 *
 * Validation has no side effects: no file system, no environment. Checks that need the disk (does `script` exist?)
 * run on the agent, where the files are.
 */
import { goFormatFloatF, goValueString, type GoJson } from "../template/go_compat.js";
import { DurationSyntaxError, parseGoDurationNs } from "./duration.js";

/** The three kinds of Packer plugins, named as in templates. */
export const PluginKind = {
  Builder: "builder",
  Provisioner: "provisioner",
  PostProcessor: "post-processor",
} as const;
export type PluginKind = (typeof PluginKind)[keyof typeof PluginKind];

/** The value types of plugin config fields. */
export const FieldType = {
  String: "string",
  Bool: "bool",
  Int: "int",
  /** A list; `items` gives the element type. */
  Array: "array",
  /** A map of string to string (Go `map[string]string`). */
  Map: "map",
  /** A Go duration ("5m", "1h30m"); compiled to milliseconds. */
  Duration: "duration",
  /** A nested block (a Go struct field): an object decoded with its own `fields`. */
  Block: "block",
  /** A repeated nested block (a Go slice of structs, HCL's repeated `name { }`): a list of objects, each decoded with `fields`. */
  Blocks: "blocks",
} as const;
export type FieldType = (typeof FieldType)[keyof typeof FieldType];

/** One config key of a plugin. */
export interface FieldSpec {
  readonly type: FieldType;
  /** Element type of an `array` field; `string-list` is a list of string lists (qemu's `qemuargs`). @default "string" */
  readonly items?: "string" | "int" | "string-list";
  /**
   * The key must be set (not missing, not "", not an empty list). `true` reports `<key> must be specified`; a string
   * is the exact message Packer prints (e.g. the file builder's `target required`).
   */
  readonly required?: boolean | string;
  /** Applied when the key is missing (or an empty string, as Packer's `if c.X == ""` defaults do). */
  readonly default?: unknown;
  /** Set when the key is deprecated: what to use instead. Setting it yields a warning, not a problem. */
  readonly deprecated?: string;
  /** One line for humans (docs, `kiln inspect`). */
  readonly description?: string;
  /** The keys of a `block` / `blocks` field (squashed Go structs flattened into one list). */
  readonly fields?: FieldSpecs;
}

export type FieldSpecs = Readonly<Record<string, FieldSpec>>;

type FieldValue<S extends FieldSpec> = S extends { readonly type: "block"; readonly fields: infer B extends FieldSpecs }
  ? BlockValue<B>
  : S extends { readonly type: "blocks"; readonly fields: infer B extends FieldSpecs }
    ? readonly BlockValue<B>[]
    : ScalarValue<S>;

/** A decoded nested block: its keys typed, each possibly unset (blocks get no defaults; their plugin applies them). */
export type BlockValue<B extends FieldSpecs> = { readonly [K in keyof B]?: FieldValue<B[K]> };

type ScalarValue<S extends FieldSpec> = S["type"] extends "string"
  ? string
  : S["type"] extends "bool"
    ? boolean
    : S["type"] extends "int"
      ? number
      : S["type"] extends "duration"
        ? number
        : S["type"] extends "map"
          ? Readonly<Record<string, string>>
          : S["type"] extends "array"
            ? S["items"] extends "int"
              ? readonly number[]
              : S["items"] extends "string-list"
                ? readonly (readonly string[])[]
                : readonly string[]
            : never;

/**
 * The compiled, frozen config a schema yields: every declared key, typed; keys that are required or have a default
 * are always present, the others are `undefined` when unset. Durations are milliseconds.
 */
export type CompiledConfig<F extends FieldSpecs> = {
  readonly [K in keyof F]: F[K] extends { readonly default: unknown } | { readonly required: true | string }
    ? FieldValue<F[K]>
    : FieldValue<F[K]> | undefined;
};

/** What a schema's cross-field check found. */
export interface CheckResult {
  readonly problems?: readonly string[];
  readonly warnings?: readonly string[];
}

/** The declarative description of one plugin's config. */
export interface PluginSchema<F extends FieldSpecs = FieldSpecs> {
  readonly kind: PluginKind;
  readonly type: string;
  readonly fields: F;
  /**
   * Keys the plugin renders itself at run time with extra data (Packer's `InterpolateFilter.Exclude`, e.g.
   * shell-local's `execute_command` with `{{.Script}}`): the agent skips them when interpolating the config.
   */
  readonly lateRenderedKeys?: readonly string[];
  /** Packer's `Prepare` checks across fields, pure. Runs after decoding, on the decoded values. */
  check?(config: CompiledConfig<F>): CheckResult;
  /** Normalisations Packer applies after validation (e.g. `command` becomes `inline`); pure. */
  normalize?(config: CompiledConfig<F>): CompiledConfig<F>;
  /**
   * Whether a config that does not decode (type errors, unknown keys) reports only that, as plugins whose Prepare
   * returns as soon as `config.Decode` fails do (Packer 1.6.6's shell and file provisioners).
   */
  readonly decodeErrorsOnly?: boolean;
}

/** Declares a schema, keeping the literal field types so `CompiledConfig` is precise. */
export function definePluginSchema<const F extends FieldSpecs>(schema: PluginSchema<F>): PluginSchema<F> {
  return schema;
}

/** The result of validating one plugin config. */
export interface ValidationResult<C> {
  /** Every problem found, in Packer's wording. Empty when the config is valid. */
  readonly problems: readonly string[];
  /** Things that work but deserve attention (Packer's Prepare warnings, deprecated keys). */
  readonly warnings: readonly string[];
  /** The compiled config with defaults applied, deeply frozen; set only when there are no problems. */
  readonly compiled?: C;
}

/**
 * Keys core Packer injects into every plugin's config (`common.PackerConfig`). Templates may set them too; Packer
 * accepts them and then overrides them with its own values.
 */
export const PACKER_CONFIG_FIELDS = {
  packer_build_name: { type: "string" },
  packer_builder_type: { type: "string" },
  packer_core_version: { type: "string" },
  packer_debug: { type: "bool" },
  packer_force: { type: "bool" },
  packer_on_error: { type: "string" },
  packer_user_variables: { type: "map" },
  packer_sensitive_variables: { type: "array", items: "string" },
} as const satisfies FieldSpecs;

// ---------------------------------------------------------------------------------------------------------------
// Go-flavoured rendering of values, for mapstructure's error messages. Values print with the template module's
// `%v` (goValueString) and numbers turn into strings with its `strconv.FormatFloat(f, 'f', -1, 64)`; only the type
// names are the plugin side's own (after the plugin RPC, maps are interface-keyed).

/** Go's name for the type a JSON value decodes to inside Packer (after the plugin RPC, maps are interface-keyed). */
function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return "float64";
  if (Array.isArray(v)) return "[]interface {}";
  return "map[interface {}]interface {}";
}

/** Go's reflect Kind name, used by "expected a map, got '<kind>'". */
function goKindName(v: unknown): string {
  if (Array.isArray(v)) return "slice";
  const t = goTypeName(v);
  return t.startsWith("map") ? "map" : t === "<nil>" ? "invalid" : t;
}

// Go's strconv.ParseInt(s, 0, 64) syntax: optional sign, then decimal, 0x hex, 0o or leading-0 octal, 0b binary.
const GO_INT = /^([+-]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$/;
const GO_BOOL_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_BOOL_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

function parseGoInt(s: string): { value: number } | { error: string } {
  const m = GO_INT.exec(s);
  if (m === null) return { error: `strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax` };
  const digits = m[2] ?? "0";
  const literal = /^0[0-7]+$/.test(digits) ? `0o${digits.slice(1)}` : digits;
  const big = (m[1] === "-" ? -1n : 1n) * BigInt(literal);
  if (big > 2n ** 63n - 1n || big < -(2n ** 63n)) {
    return { error: `strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range` };
  }
  return { value: Number(big) };
}

// ---------------------------------------------------------------------------------------------------------------
// Weakly typed decoding (mapstructure.WeakDecode semantics).

type Decoded = { ok: true; value: unknown } | { ok: false };

class Decoder {
  readonly errors: string[] = [];

  private unconvertible(name: string, expected: string, v: unknown): Decoded {
    this.errors.push(`'${name}' expected type '${expected}', got unconvertible type '${goTypeName(v)}', value: '${goValueString(v as GoJson)}'`);
    return { ok: false };
  }

  string(name: string, v: unknown): Decoded {
    if (typeof v === "string") return { ok: true, value: v };
    if (typeof v === "boolean") return { ok: true, value: v ? "1" : "0" };
    if (typeof v === "number") return { ok: true, value: goFormatFloatF(v) };
    return this.unconvertible(name, "string", v);
  }

  bool(name: string, v: unknown): Decoded {
    if (typeof v === "boolean") return { ok: true, value: v };
    if (typeof v === "number") return { ok: true, value: v !== 0 };
    if (typeof v === "string") {
      if (v === "") return { ok: true, value: false };
      if (GO_BOOL_TRUE.has(v)) return { ok: true, value: true };
      if (GO_BOOL_FALSE.has(v)) return { ok: true, value: false };
      this.errors.push(`cannot parse '${name}' as bool: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
      return { ok: false };
    }
    return this.unconvertible(name, "bool", v);
  }

  int(name: string, v: unknown): Decoded {
    if (typeof v === "number") return { ok: true, value: Math.trunc(v) };
    if (typeof v === "boolean") return { ok: true, value: v ? 1 : 0 };
    if (typeof v === "string") {
      if (v === "") return { ok: true, value: 0 };
      const parsed = parseGoInt(v);
      if ("value" in parsed) return { ok: true, value: parsed.value };
      this.errors.push(`cannot parse '${name}' as int: ${parsed.error}`);
      return { ok: false };
    }
    return this.unconvertible(name, "int", v);
  }

  /** Milliseconds. Strings go through `time.ParseDuration`; numbers are nanoseconds, as Go's int64 duration. */
  duration(name: string, v: unknown): Decoded {
    if (typeof v === "string") {
      try {
        return { ok: true, value: parseGoDurationNs(v) / 1e6 };
      } catch (err) {
        if (!(err instanceof DurationSyntaxError)) throw err;
        this.errors.push(`error decoding '${name}': ${err.message}`);
        return { ok: false };
      }
    }
    const n = this.int(name, v);
    return n.ok ? { ok: true, value: (n.value as number) / 1e6 } : n;
  }

  array(name: string, v: unknown, items: "string" | "int" | "string-list"): Decoded {
    let list: unknown[];
    if (Array.isArray(v)) list = v;
    else if (typeof v === "object" && v !== null && Object.keys(v).length === 0) list = [];
    else list = [v]; // weak decoding lifts a single value (even a map) into a one-element list
    const out: unknown[] = [];
    let ok = true;
    list.forEach((item, i) => {
      const d =
        items === "int"
          ? this.int(`${name}[${i}]`, item)
          : items === "string-list"
            ? this.array(`${name}[${i}]`, item, "string")
            : this.string(`${name}[${i}]`, item);
      if (d.ok) out.push(d.value);
      else ok = false;
    });
    return ok ? { ok: true, value: out } : { ok: false };
  }

  map(name: string, v: unknown): Decoded {
    let sources: Record<string, unknown>[];
    if (Array.isArray(v) && v.every((x) => typeof x === "object" && x !== null && !Array.isArray(x))) {
      sources = v as Record<string, unknown>[]; // weak decoding merges a list of maps
    } else if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      sources = [v as Record<string, unknown>];
    } else {
      this.errors.push(`'${name}' expected a map, got '${goKindName(v)}'`);
      return { ok: false };
    }
    const out: Record<string, string> = {};
    let ok = true;
    for (const source of sources) {
      for (const [k, item] of Object.entries(source)) {
        if (item === null) {
          out[k] = "";
          continue;
        }
        const d = this.string(`${name}[<interface {} Value>]`, item);
        if (d.ok) out[k] = d.value as string;
        else ok = false;
      }
    }
    return ok ? { ok: true, value: out } : { ok: false };
  }

  /** mapstructure's struct decoding: every key of the object against `fields`, unknown keys reported with their path. */
  block(name: string, v: unknown, fields: FieldSpecs, unknown: string[]): Decoded {
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      this.errors.push(`'${name}' expected a map, got '${goKindName(v)}'`);
      return { ok: false };
    }
    const out: Record<string, unknown> = {};
    let ok = true;
    for (const [key, raw] of Object.entries(v)) {
      const spec = fields[key];
      if (spec === undefined) {
        unknown.push(`unknown configuration key: '${JSON.stringify(`${name}.${key}`)}'`);
        ok = false;
        continue;
      }
      if (raw === null || raw === undefined) continue;
      const d = this.field(`${name}.${key}`, spec, raw, unknown);
      if (d.ok) out[key] = d.value;
      else ok = false;
    }
    return ok ? { ok: true, value: out } : { ok: false };
  }

  blocks(name: string, v: unknown, fields: FieldSpecs, unknown: string[]): Decoded {
    const list = Array.isArray(v) ? v : [v]; // a single block is lifted into a one-element list
    const out: unknown[] = [];
    let ok = true;
    list.forEach((item, i) => {
      const d = this.block(`${name}[${i}]`, item, fields, unknown);
      if (d.ok) out.push(d.value);
      else ok = false;
    });
    return ok ? { ok: true, value: out } : { ok: false };
  }

  field(name: string, spec: FieldSpec, v: unknown, unknown: string[]): Decoded {
    switch (spec.type) {
      case "block":
        return this.block(name, v, spec.fields ?? {}, unknown);
      case "blocks":
        return this.blocks(name, v, spec.fields ?? {}, unknown);
      case "string":
        return this.string(name, v);
      case "bool":
        return this.bool(name, v);
      case "int":
        return this.int(name, v);
      case "duration":
        return this.duration(name, v);
      case "array":
        return this.array(name, v, spec.items ?? "string");
      case "map":
        return this.map(name, v);
    }
  }
}

function isMissing(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    v === "" ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)
  );
}

/** Freezes a compiled config and the lists and maps inside it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Compares like Go's sort.Strings (byte order), which mapstructure uses for its error lists. */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Validates and compiles one plugin config against its schema: decodes every key (weakly typed, like Packer),
 * reports unknown keys and missing required keys, runs the schema's checks, applies defaults, freezes.
 * `ignoredKeys` are accepted and dropped (template meta-keys such as `only`, when a caller passes them along).
 */
export function validateWithSchema<F extends FieldSpecs>(
  schema: PluginSchema<F>,
  config: Readonly<Record<string, unknown>>,
  ignoredKeys: ReadonlySet<string> = new Set(),
): ValidationResult<CompiledConfig<F>> {
  const decoder = new Decoder();
  const unknown: string[] = [];
  const warnings: string[] = [];
  const failed = new Set<string>();
  const values: Record<string, unknown> = {};
  const fields: FieldSpecs = { ...PACKER_CONFIG_FIELDS, ...schema.fields };

  for (const [key, raw] of Object.entries(config)) {
    if (ignoredKeys.has(key)) continue;
    const spec = fields[key];
    if (spec === undefined) {
      unknown.push(`unknown configuration key: '${JSON.stringify(key)}'`);
      continue;
    }
    if (raw === null || raw === undefined) continue; // JSON null leaves Go's zero value
    const d = decoder.field(key, spec, raw, unknown);
    if (d.ok) {
      values[key] = d.value;
      if (spec.deprecated !== undefined) warnings.push(`${key} is deprecated: ${spec.deprecated}`);
    } else failed.add(key);
  }

  for (const [key, spec] of Object.entries(schema.fields)) {
    const v = values[key];
    if (spec.default !== undefined && (v === undefined || (spec.type === "string" && v === ""))) {
      values[key] = structuredClone(spec.default);
    }
  }

  const problems: string[] = [...decoder.errors.sort(byteOrder), ...unknown.sort(byteOrder)];
  if (schema.decodeErrorsOnly === true && problems.length > 0) return { problems, warnings };
  for (const [key, spec] of Object.entries(schema.fields)) {
    if (spec.required && !failed.has(key) && isMissing(values[key])) {
      problems.push(typeof spec.required === "string" ? spec.required : `${key} must be specified`);
    }
  }

  let compiled = values as CompiledConfig<F>;
  const checked = schema.check?.(compiled) ?? {};
  problems.push(...(checked.problems ?? []));
  warnings.push(...(checked.warnings ?? []));
  if (problems.length > 0) return { problems, warnings };
  if (schema.normalize) compiled = schema.normalize(compiled);
  return { problems, warnings, compiled: deepFreeze(compiled) };
}
