/**
 * The template model: a Packer legacy JSON template, parsed the way Packer 1.6.6 parses it
 * (`packer-plugin-sdk/template/parse.go`), then frozen.
 *
 * ```
 *   text ──parseTemplateJson──▶ JsonDocument ──parseTemplate──▶ Template (deeply frozen)
 *          syntax, duplicates     positions       root keys, builders, provisioners, post-processors, variables
 * ```
 *
 * Parsing accepts exactly what Packer's parser accepts and rejects the rest with Packer's message, collecting every
 * problem of a stage at once. It has no side effects and does not interpolate anything: build names, configs and
 * variable defaults stay as written. The semantic checks that `packer validate` makes later (a builder must exist,
 * only/except must name builds, min_packer_version, required variables, plugin configs) are in validate.ts.
 */
import { formatMapstructureError, formatMultierror, goDurationString, compareGoStrings } from "./go_compat.js";
import {
  decodeString,
  decodeStruct,
  fieldBoolPtr,
  fieldDuration,
  fieldItems,
  fieldMap,
  fieldString,
  fieldStrings,
  notAMapError,
  type GoField,
} from "./decode.js";
import {
  JsonDuplicateKeyError,
  JsonNumberRangeError,
  JsonSyntaxError,
  LineIndex,
  packerHighlight,
  parseJsonBytes,
  toBytes,
  toJsonText,
  toPlain,
  type JsonDocument,
  type JsonMember,
  type JsonNode,
  type JsonObject,
  type SourcePos,
} from "./json_parser.js";
import { ProblemClass, TemplateParseError, joinPath, type SourceLocation, type TemplateProblem } from "./problems.js";

/** A user variable declared in `variables`. */
export interface TemplateVariable {
  readonly name: string;
  /** The default as written (uninterpolated); "" for a required variable. */
  readonly default: string;
  /** The default is `null`: the variable must be set with -var or a var file. */
  readonly required: boolean;
  /** Listed in `sensitive-variables`. */
  readonly sensitive: boolean;
  readonly location: SourceLocation;
}

/** Plugin config as written: plain JSON values, Packer's meta keys removed. */
export type PluginConfig = Readonly<Record<string, unknown>>;

/** One entry of `builders`. */
export interface TemplateBuilder {
  /** Position in `builders` (0-based). */
  readonly index: number;
  /** The build name as written: defaults to the type, may contain template expressions (Packer renders it). */
  readonly name: string;
  readonly type: string;
  readonly config: PluginConfig;
  /** `config` as compact JSON, number literals exactly as written. */
  readonly configJson: string;
  /** The config's members with their positions (for messages that point at a key). */
  readonly configMembers: readonly JsonMember[];
  readonly location: SourceLocation;
}

/** One entry of `provisioners`, or the `error-cleanup-provisioner`. */
export interface TemplateProvisioner {
  /** Position in `provisioners` (0-based); -1 for the error-cleanup provisioner. */
  readonly index: number;
  readonly type: string;
  readonly only: readonly string[];
  readonly except: readonly string[];
  /** `override`: raw build name → config merged over `config` for that build (members in document order). */
  readonly override: ReadonlyMap<string, JsonMember>;
  /** Go duration text (`Duration.String()`), "" when zero (no pause). */
  readonly pauseBefore: string;
  /** A string so that variables work in it (Packer 1.6.2); "" when unset. */
  readonly maxRetries: string;
  /** Go duration text, "" when zero (no timeout). */
  readonly timeout: string;
  readonly config: PluginConfig;
  readonly configMembers: readonly JsonMember[];
  readonly location: SourceLocation;
}

/** One post-processor of a chain. */
export interface TemplatePostProcessor {
  /** Index of the chain in `post-processors` (0-based). */
  readonly chain: number;
  /** Position within the chain (0-based). */
  readonly index: number;
  readonly type: string;
  /** Defaults to the type. `-except` on the command line can name it. */
  readonly name: string;
  readonly only: readonly string[];
  readonly except: readonly string[];
  /** `keep_input_artifact`, undefined when not set (the plugin's default applies). */
  readonly keepInputArtifact?: boolean;
  readonly config: PluginConfig;
  readonly configMembers: readonly JsonMember[];
  readonly location: SourceLocation;
}

/** A parsed legacy JSON template. Deeply frozen. */
export interface Template {
  readonly fileName: string;
  /** The template text as given. */
  readonly text: string;
  readonly description: string;
  /** `min_packer_version` as written ("" when unset). */
  readonly minVersion: string;
  /** `_`-prefixed root keys (and the legacy `comments` list). */
  readonly comments: Readonly<Record<string, string>>;
  /** In document order. */
  readonly variables: readonly TemplateVariable[];
  /** `sensitive-variables` as listed (names need not be declared). */
  readonly sensitiveVariables: readonly string[];
  /** In template order. Names are unique. */
  readonly builders: readonly TemplateBuilder[];
  readonly provisioners: readonly TemplateProvisioner[];
  readonly cleanupProvisioner?: TemplateProvisioner;
  /** Chains in template order; each chain's post-processors in order. A chain may be empty (`[]`). */
  readonly postProcessors: readonly (readonly TemplatePostProcessor[])[];
}

/** The name other components use for a parsed template. */
export type ParsedTemplate = Template;

// ---------------------------------------------------------------------------------------------------------------

const ROOT_FIELDS: readonly GoField[] = [
  { name: "MinVersion", tag: "min_packer_version", type: "string" },
  { name: "Description", type: "string" },
  { name: "Builders", tag: "builders", type: "[]interface{}" },
  { name: "Comments", type: "[]map[string]string" },
  { name: "Push", type: "map[string]interface{}" },
  { name: "PostProcessors", tag: "post-processors", type: "[]interface{}" },
  { name: "Provisioners", type: "[]interface{}" },
  { name: "CleanupProvisioner", tag: "error-cleanup-provisioner", type: "interface{}" },
  { name: "Variables", type: "map[string]interface{}" },
  { name: "SensitiveVariables", tag: "sensitive-variables", type: "[]string" },
  { name: "RawContents", type: "[]byte" },
];

const BUILDER_FIELDS: readonly GoField[] = [
  { name: "Name", type: "string" },
  { name: "Type", type: "string" },
  { name: "Config", type: "map[string]interface{}" },
];

const ONLY_EXCEPT: readonly GoField[] = [
  { name: "Only", type: "[]string" },
  { name: "Except", type: "[]string" },
];

const POST_PROCESSOR_FIELDS: readonly GoField[] = [
  ...ONLY_EXCEPT,
  { name: "Name", type: "string" },
  { name: "Type", type: "string" },
  { name: "KeepInputArtifact", tag: "keep_input_artifact", type: "*bool" },
  { name: "Config", type: "map[string]interface{}" },
];

const PROVISIONER_FIELDS: readonly GoField[] = [
  ...ONLY_EXCEPT,
  { name: "Type", type: "string" },
  { name: "Config", type: "map[string]interface{}" },
  { name: "Override", type: "map[string]interface{}" },
  { name: "PauseBefore", tag: "pause_before", type: "time.Duration" },
  { name: "MaxRetries", tag: "max_retries", type: "string" },
  { name: "Timeout", tag: "timeout", type: "time.Duration" },
];

/** Keys Packer deletes from each plugin's config (exact, lowercase: `"Type"` stays and reaches the plugin). */
const BUILDER_META = new Set(["name", "type"]);
const PROVISIONER_META = new Set(["except", "only", "override", "pause_before", "max_retries", "type", "timeout"]);
const POST_PROCESSOR_META = new Set(["except", "only", "keep_input_artifact", "type", "name"]);

/** Freezes a value and everything reachable from it. */
export function deepFreeze<T>(value: T): T {
  const seen = new Set<unknown>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== "object" || v === null || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof Map) {
      for (const [k, x] of v) stack.push(k, x);
    } else {
      for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
    }
    Object.freeze(v);
  }
  return value;
}

/**
 * Parses template text into a positioned JSON tree, with Packer's JSON rules: syntax errors as Go reports them
 * (`Error parsing JSON: <reason>\nAt line L, column C (offset O):\n<excerpt>`), numbers out of float64 range,
 * duplicate keys at any depth (`template has duplicate field: <k>`).
 *
 * @param text The template; bytes are taken as they are (offsets are byte offsets, as Packer's).
 * @param fileName Used in kiln's messages.
 * @throws TemplateParseError
 */
export function parseTemplateJson(text: string | Uint8Array, fileName: string): JsonDocument {
  const bytes = toBytes(text);
  try {
    return { fileName, bytes, root: parseJsonBytes(bytes) };
  } catch (err) {
    const lines = new LineIndex(bytes);
    if (err instanceof JsonSyntaxError) {
      const { line, col, highlight } = packerHighlight(bytes, err.offset);
      const packerMessage = `Error parsing JSON: ${err.message}\nAt line ${line}, column ${col} (offset ${err.offset}):\n${highlight}`;
      const at = lines.position(err.atEof ? bytes.length : Math.max(0, err.offset - 1));
      throw new TemplateParseError(packerMessage, [
        { class: ProblemClass.ParseError, message: `Error parsing JSON: ${err.message}`, location: { file: fileName, path: "", line: at.line, column: at.column } },
      ]);
    }
    if (err instanceof JsonNumberRangeError || err instanceof JsonDuplicateKeyError) {
      const extra = err instanceof JsonDuplicateKeyError ? ` (first at line ${err.firstPos.line})` : "";
      throw new TemplateParseError(err.message, [
        { class: ProblemClass.ParseError, message: err.message + extra, location: { file: fileName, path: "", line: err.pos.line, column: err.pos.column } },
      ]);
    }
    throw err;
  }
}

/** Collects problems while a template is built, each with Packer's bullet text and where it is. */
class ProblemSink {
  readonly problems: TemplateProblem[] = [];
  constructor(readonly fileName: string) {}

  at(path: string, pos: SourcePos): SourceLocation {
    return { file: this.fileName, path, line: pos.line, column: pos.column };
  }

  add(message: string, path: string, pos: SourcePos): void {
    this.problems.push({ class: ProblemClass.ParseError, message, location: this.at(path, pos) });
  }
}

function objectOf(members: readonly JsonMember[], pos: SourcePos): JsonObject {
  return { kind: "object", pos, members };
}

function plainConfig(members: readonly JsonMember[]): PluginConfig {
  return Object.fromEntries(members.map((m) => [m.key, toPlain(m.value)]));
}

/**
 * Parses a template the way Packer 1.6.6 does (`template.Parse`): JSON, then the root keys (mapstructure, matched
 * case-insensitively), unknown root keys and `_` comments, then variables, builders, post-processors, provisioners
 * and the error-cleanup provisioner, collecting every problem of that last stage at once.
 *
 * The returned template is deeply frozen.
 *
 * @throws TemplateParseError: `packerMessage` is what Packer prints after `Failed to parse template: `.
 */
export function parseTemplate(text: string | Uint8Array, fileName: string): Template {
  const doc = parseTemplateJson(text, fileName);
  const sink = new ProblemSink(fileName);
  const root = doc.root;
  const textString = typeof text === "string" ? text : Buffer.from(text).toString("utf8");

  // --- root keys (strict mapstructure decode into rawTemplate)
  let rootObj: JsonObject;
  if (root.kind === "null") rootObj = objectOf([], root.pos);
  else if (root.kind !== "object") {
    const message = notAMapError(root);
    throw new TemplateParseError(message, [
      { class: ProblemClass.ParseError, message: `${message} (a template is a JSON object)`, location: sink.at("", root.pos) },
    ]);
  } else rootObj = root;

  const decoded = decodeStruct(rootObj, ROOT_FIELDS, false);
  if (decoded.errors.length > 0) {
    throw new TemplateParseError(
      formatMapstructureError(decoded.errors.map((e) => e.message)),
      decoded.errors.map((e) => ({ class: ProblemClass.ParseError, message: e.message, location: sink.at(joinPath("", e.member.key), e.member.keyPos) })),
    );
  }

  // --- unused root keys: `_` comments (string values) or errors; sorted as Go sorts them
  const comments: Record<string, string> = {};
  const unknown: JsonMember[] = [];
  for (const m of [...decoded.unused].sort((a, b) => compareGoStrings(a.key, b.key))) {
    if (m.key.startsWith("_")) {
      if (m.value.kind !== "string") {
        const message = `Failed to cast root level comment value in comment "${m.key}" to string.`;
        throw new TemplateParseError(message, [{ class: ProblemClass.ParseError, message, location: sink.at(joinPath("", m.key), m.keyPos) }]);
      }
      comments[m.key] = m.value.value;
      continue;
    }
    // Packer crashes on an empty key (it indexes unused[0]); kiln reports it like any unknown key.
    unknown.push(m);
  }
  if (unknown.length > 0) {
    const messages = unknown.map((m) => `Unknown root level key in template: '${m.key}'`);
    throw new TemplateParseError(
      formatMultierror(messages),
      unknown.map((m, k) => ({ class: ProblemClass.ParseError, message: messages[k] ?? "", location: sink.at(joinPath("", m.key), m.keyPos) })),
    );
  }
  const legacyComments = decoded.fields.get("Comments")?.member.value;
  if (legacyComments?.kind === "array") {
    for (const item of legacyComments.items) {
      if (item.kind === "object") for (const m of item.members) if (m.value.kind === "string") comments[m.key] = m.value.value;
    }
  }

  const sensitiveNames = fieldStrings(decoded, "SensitiveVariables");
  const sensitive = new Set(sensitiveNames);

  // --- variables
  const variables: TemplateVariable[] = [];
  for (const m of fieldMap(decoded, "Variables")) {
    const path = joinPath("variables", m.key);
    const [value, err] = m.value.kind === "null" ? ["", undefined] : decodeString("", m.value, false);
    if (err !== undefined) {
      sink.add(`variable ${m.key}: ${err}`, path, m.keyPos);
      continue;
    }
    variables.push({ name: m.key, default: value, required: m.value.kind === "null", sensitive: sensitive.has(m.key), location: sink.at(path, m.keyPos) });
  }

  // --- builders (weak decode)
  const builders: TemplateBuilder[] = [];
  const byName = new Set<string>();
  fieldItems(decoded, "Builders").forEach((node, i) => {
    const path = `builders[${i}]`;
    const label = `builder ${i + 1}`;
    if (node.kind !== "object") {
      // Packer panics on `null` here; kiln reports it like any other non-object.
      sink.add(`${label}: ${node.kind === "null" ? "'' expected a map, got 'null'" : notAMapError(node)}`, path, node.pos);
      return;
    }
    const b = decodeStruct(node, BUILDER_FIELDS, true);
    if (b.errors.length > 0) {
      sink.add(`${label}: ${formatMapstructureError(b.errors.map((e) => e.message))}`, path, node.pos);
      return;
    }
    const type = fieldString(b, "Type");
    if (type === "") {
      sink.add(`${label}: missing 'type'`, path, node.pos);
      return;
    }
    const name = fieldString(b, "Name") || type;
    if (byName.has(name)) {
      const nameMember = b.fields.get("Name")?.member;
      sink.add(`${label}: builder with name '${name}' already exists`, nameMember ? joinPath(path, nameMember.key) : path, nameMember?.keyPos ?? node.pos);
      return;
    }
    byName.add(name);
    const configMembers = node.members.filter((m) => !BUILDER_META.has(m.key));
    builders.push({
      index: i,
      name,
      type,
      config: plainConfig(configMembers),
      configJson: toJsonText(objectOf(configMembers, node.pos)),
      configMembers,
      location: sink.at(path, node.pos),
    });
  });

  // --- post-processors (three forms; strict decode)
  const postProcessors: TemplatePostProcessor[][] = [];
  fieldItems(decoded, "PostProcessors").forEach((entry, i) => {
    const chainPath = `post-processors[${i}]`;
    let configs: { node: JsonNode; members: readonly JsonMember[]; path: string }[];
    if (entry.kind === "string") configs = [{ node: entry, members: [{ key: "type", keyPos: entry.pos, value: entry }], path: chainPath }];
    else if (entry.kind === "object") configs = [{ node: entry, members: entry.members, path: chainPath }];
    else if (entry.kind === "array") {
      const before = sink.problems.length;
      configs = [];
      entry.items.forEach((inner, j) => {
        const path = `${chainPath}[${j}]`;
        if (inner.kind === "string") configs.push({ node: inner, members: [{ key: "type", keyPos: inner.pos, value: inner }], path });
        else if (inner.kind === "object") configs.push({ node: inner, members: inner.members, path });
        else if (inner.kind === "array") sink.add(`post-processor ${i + 1}.${j + 1}: sequence not allowed to be nested in a sequence`, path, inner.pos);
        else sink.add(`post-processor ${i + 1}.${j + 1}: unknown format`, path, inner.pos);
      });
      if (sink.problems.length > before) return;
    } else {
      sink.add(`post-processor ${i + 1}: bad format`, chainPath, entry.pos);
      return;
    }
    const chain: TemplatePostProcessor[] = [];
    configs.forEach((c, j) => {
      const label = `post-processor ${i + 1}.${j + 1}`;
      const pp = decodeStruct(objectOf(c.members, c.node.pos), POST_PROCESSOR_FIELDS, false);
      if (pp.errors.length > 0) {
        sink.add(`${label}: ${formatMapstructureError(pp.errors.map((e) => e.message))}`, c.path, c.node.pos);
        return;
      }
      const type = fieldString(pp, "Type");
      if (type === "") {
        sink.add(`${label}: type is required`, c.path, c.node.pos);
        return;
      }
      const configMembers = c.members.filter((m) => !POST_PROCESSOR_META.has(m.key));
      const keep = fieldBoolPtr(pp, "KeepInputArtifact");
      chain.push({
        chain: i,
        index: j,
        type,
        name: fieldString(pp, "Name") || type,
        only: fieldStrings(pp, "Only"),
        except: fieldStrings(pp, "Except"),
        ...(keep === undefined ? {} : { keepInputArtifact: keep }),
        config: plainConfig(configMembers),
        configMembers,
        location: sink.at(c.path, c.node.pos),
      });
    });
    postProcessors.push(chain);
  });

  // --- provisioners (weak decode)
  const decodeProvisioner = (node: JsonNode, index: number, path: string, label: string): TemplateProvisioner | undefined => {
    if (node.kind !== "object" && node.kind !== "null") {
      sink.add(`${label}Error decoding provisioner: ${notAMapError(node)}`, path, node.pos);
      return undefined;
    }
    const obj = node.kind === "object" ? node : objectOf([], node.pos);
    const p = decodeStruct(obj, PROVISIONER_FIELDS, true);
    if (p.errors.length > 0) {
      sink.add(`${label}Error decoding provisioner: ${formatMapstructureError(p.errors.map((e) => e.message))}`, path, node.pos);
      return undefined;
    }
    const type = fieldString(p, "Type");
    if (type === "") {
      sink.add(`${label}Provisioner missing 'type'`, path, node.pos);
      return undefined;
    }
    const configMembers = obj.members.filter((m) => !PROVISIONER_META.has(m.key));
    const pause = fieldDuration(p, "PauseBefore");
    const timeout = fieldDuration(p, "Timeout");
    return {
      index,
      type,
      only: fieldStrings(p, "Only"),
      except: fieldStrings(p, "Except"),
      override: new Map(fieldMap(p, "Override").map((m) => [m.key, m])),
      pauseBefore: pause === 0n ? "" : goDurationString(pause),
      maxRetries: fieldString(p, "MaxRetries"),
      timeout: timeout === 0n ? "" : goDurationString(timeout),
      config: plainConfig(configMembers),
      configMembers,
      location: sink.at(path, node.pos),
    };
  };
  const provisioners: TemplateProvisioner[] = [];
  fieldItems(decoded, "Provisioners").forEach((node, i) => {
    const p = decodeProvisioner(node, i, `provisioners[${i}]`, `provisioner ${i + 1}: `);
    if (p !== undefined) provisioners.push(p);
  });
  let cleanupProvisioner: TemplateProvisioner | undefined;
  const cleanupNode = decoded.fields.get("CleanupProvisioner")?.member.value;
  if (cleanupNode !== undefined && cleanupNode.kind !== "null") {
    cleanupProvisioner = decodeProvisioner(cleanupNode, -1, "error-cleanup-provisioner", "On Error Cleanup Provisioner error: ");
  }

  if (sink.problems.length > 0) {
    throw new TemplateParseError(formatMultierror(sink.problems.map((p) => p.message)), sink.problems);
  }

  return deepFreeze<Template>({
    fileName,
    text: textString,
    description: fieldString(decoded, "Description"),
    minVersion: fieldString(decoded, "MinVersion"),
    comments,
    variables,
    sensitiveVariables: [...sensitiveNames],
    builders,
    provisioners,
    ...(cleanupProvisioner === undefined ? {} : { cleanupProvisioner }),
    postProcessors,
  });
}

/** The merged config of a provisioner for one build: `override[build]` laid over the base config, key by key. */
export function provisionerConfigFor(p: TemplateProvisioner, rawBuildName: string): { members: readonly JsonMember[]; overrideIsObject: boolean } {
  const o = p.override.get(rawBuildName);
  if (o === undefined) return { members: p.configMembers, overrideIsObject: true };
  if (o.value.kind !== "object") return { members: p.configMembers, overrideIsObject: o.value.kind === "null" };
  const merged = new Map<string, JsonMember>(p.configMembers.map((m) => [m.key, m]));
  for (const m of o.value.members) merged.set(m.key, m);
  return { members: [...merged.values()], overrideIsObject: true };
}

/** Compact JSON of a list of members, number literals as written. */
export function membersToJson(members: readonly JsonMember[]): string {
  return toJsonText({ kind: "object", pos: { offset: 0, line: 1, column: 1 }, members });
}
