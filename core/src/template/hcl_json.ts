/**
 * Packer switches to HCL2 mode for `*.pkr.hcl` and `*.pkr.json` files. kiln runs legacy JSON templates only, but
 * `inspect` and `validate -syntax-only` of an HCL2 file in JSON syntax are cheap to answer the way Packer 1.6.6 does
 * (`Packer Inspect: HCL2 mode`, `> input-variables:` ... `> builds:`), so users get the same overview.
 *
 * Scope, deliberately small: the HCL JSON body rules (a property is a block when its value is an object or a list
 * of objects, labels nest, duplicate property names are separate blocks), the blocks `variable`, `variables`,
 * `locals`, `source`, `build` (with `sources`, `source`, `provisioner`, `post-processor`, `post-processors`) and
 * `packer`. Expressions are not evaluated: a string default prints as written. HCL native syntax (`.pkr.hcl`) is
 * not read at all.
 */
import { JsonDuplicateKeyError, JsonSyntaxError, parseJsonBytes, toBytes, type JsonMember, type JsonNode, type JsonObject } from "./json_parser.js";
import { compareGoStrings, goFormatFloatV } from "./go_compat.js";
import { ProblemClass, TemplateParseError, type TemplateProblem } from "./problems.js";
import { quote as goQuote } from "./engine/strconv.js";

/** A build of an HCL2 config, as inspect lists it. */
export interface HclBuild {
  readonly name: string;
  readonly description: string;
  /** `type.name` */
  readonly sources: readonly string[];
  /** `type` or `type.name` */
  readonly provisioners: readonly string[];
  readonly postProcessors: readonly (readonly string[])[];
}

/** What kiln reads from an HCL2 JSON config. */
export interface HclJsonConfig {
  readonly fileName: string;
  readonly variables: readonly { readonly name: string; readonly value: string }[];
  readonly locals: readonly { readonly name: string; readonly value: string }[];
  readonly builds: readonly HclBuild[];
}

/** Packer reads these paths in HCL2 mode. */
export function isHcl2Path(fileName: string): boolean {
  return fileName.endsWith(".pkr.hcl") || fileName.endsWith(".pkr.json");
}

interface Block {
  readonly labels: readonly string[];
  readonly body: JsonObject;
  readonly member: JsonMember;
}

class HclProblems {
  readonly problems: TemplateProblem[] = [];
  constructor(readonly fileName: string) {}
  add(summary: string, detail: string, node: { readonly pos: { readonly line: number; readonly column: number } }): void {
    this.problems.push({
      class: ProblemClass.ParseError,
      message: `${summary}: ${detail}`,
      location: { file: this.fileName, path: "", line: node.pos.line, column: node.pos.column },
    });
  }
}

/** Blocks of one property: `labels` levels of object nesting, lists allowed at every level. */
function blocksOf(member: JsonMember, labels: number, sink: HclProblems): Block[] {
  const out: Block[] = [];
  const walk = (node: JsonNode, depth: number, got: string[]): void => {
    if (node.kind === "array") {
      for (const item of node.items) walk(item, depth, got);
      return;
    }
    if (node.kind !== "object") {
      sink.add("Incorrect JSON value type", `Either a JSON object or a JSON array of objects is required for the "${member.key}" block.`, node);
      return;
    }
    if (depth === labels) {
      out.push({ labels: got, body: node, member });
      return;
    }
    for (const m of node.members) walk(m.value, depth + 1, [...got, m.key]);
  };
  walk(member.value, 0, []);
  return out;
}

/** How Packer prints a value in inspect (`PrintableCtyValue`), for the literal JSON values kiln can see. */
function printable(node: JsonNode): string {
  switch (node.kind) {
    case "string":
      return node.value;
    case "number":
      return goFormatFloatV(node.value);
    case "bool":
      return node.value ? "true" : "false";
    case "null":
      return "<unknown>";
    default:
      return JSON.stringify(node);
  }
}

function sourceRef(ref: string): string | undefined {
  let parts = ref.split(".");
  if (parts.length < 2) return undefined;
  if (parts.length > 2) parts = parts.slice(1);
  const [type = "", name = ""] = parts;
  const ident = /^[A-Za-z][A-Za-z0-9_-]*$/;
  return ident.test(type) && ident.test(name) ? `${type}.${name}` : undefined;
}

function stringAttr(body: JsonObject, key: string): string {
  const v = body.members.find((m) => m.key === key)?.value;
  return v?.kind === "string" ? v.value : "";
}

/**
 * Reads an HCL2 config written in JSON syntax.
 * @throws TemplateParseError with an HCL-style diagnostic (`packerMessage`) on anything kiln cannot read.
 */
export function parseHclJson(text: string | Uint8Array, fileName: string): HclJsonConfig {
  const sink = new HclProblems(fileName);
  let root: JsonNode;
  try {
    root = parseJsonBytes(toBytes(text), { rejectDuplicateKeys: false });
  } catch (err) {
    if (err instanceof JsonSyntaxError || err instanceof JsonDuplicateKeyError) {
      const message = `Error: Invalid JSON syntax\n\n  on ${fileName}:\n\n${err.message}\n\n`;
      throw new TemplateParseError(message, [{ class: ProblemClass.ParseError, message: `Invalid JSON syntax: ${err.message}`, location: { file: fileName, path: "", line: 1, column: 1 } }], { mode: "hcl" });
    }
    throw err;
  }
  if (root.kind !== "object") {
    sink.add("Incorrect JSON value type", "The root of a JSON-based configuration must be a JSON object.", root);
    return fail(sink);
  }

  const variables: { name: string; value: string }[] = [];
  const locals: { name: string; value: string }[] = [];
  const sources = new Set<string>();
  const buildBlocks: Block[] = [];
  for (const m of root.members) {
    switch (m.key) {
      case "variable":
        for (const b of blocksOf(m, 1, sink)) {
          const sensitive = b.body.members.find((x) => x.key === "sensitive")?.value;
          const def = b.body.members.find((x) => x.key === "default")?.value;
          const value = sensitive?.kind === "bool" && sensitive.value ? "<sensitive>" : def === undefined ? "<unknown>" : printable(def);
          variables.push({ name: b.labels[0] ?? "", value });
        }
        break;
      case "variables":
        for (const b of blocksOf(m, 0, sink)) for (const a of b.body.members) variables.push({ name: a.key, value: printable(a.value) });
        break;
      case "locals":
        for (const b of blocksOf(m, 0, sink)) for (const a of b.body.members) locals.push({ name: a.key, value: printable(a.value) });
        break;
      case "source":
        for (const b of blocksOf(m, 2, sink)) sources.add(`${b.labels[0] ?? ""}.${b.labels[1] ?? ""}`);
        break;
      case "build":
        buildBlocks.push(...blocksOf(m, 0, sink));
        break;
      case "packer":
        blocksOf(m, 0, sink);
        break;
      default:
        sink.add("Unsupported block type", `Blocks of type "${m.key}" are not expected here.`, m.value);
    }
  }

  const builds: HclBuild[] = buildBlocks.map((b) => {
    const used: string[] = [];
    const provisioners: string[] = [];
    const postProcessors: string[][] = [];
    const useSource = (ref: string, at: JsonNode): void => {
      const r = sourceRef(ref);
      if (r === undefined) sink.add("Invalid source reference", "A valid source reference looks like: `source.type.name`", at);
      else if (!sources.has(r)) sink.add("Unknown source", `Unknown source ${r}`, at);
      else used.push(r);
    };
    const named = (block: Block): string => {
      const name = stringAttr(block.body, "name");
      return name === "" ? (block.labels[0] ?? "") : `${block.labels[0] ?? ""}.${name}`;
    };
    for (const m of b.body.members) {
      switch (m.key) {
        case "name":
        case "description":
          break;
        case "sources":
          if (m.value.kind === "array") for (const s of m.value.items) useSource(s.kind === "string" ? s.value : "", s);
          else sink.add("Incorrect attribute value type", "Inappropriate value for attribute \"sources\": list of string required.", m.value);
          break;
        case "source":
          for (const s of blocksOf(m, 1, sink)) useSource(s.labels[0] ?? "", s.body);
          break;
        case "provisioner":
          for (const p of blocksOf(m, 1, sink)) provisioners.push(named(p));
          break;
        case "post-processor":
          for (const p of blocksOf(m, 1, sink)) postProcessors.push([named(p)]);
          break;
        case "post-processors":
          for (const list of blocksOf(m, 0, sink)) {
            const chain: string[] = [];
            for (const inner of list.body.members) {
              if (inner.key === "post-processor") for (const p of blocksOf(inner, 1, sink)) chain.push(named(p));
              else sink.add("Unsupported block type", `Blocks of type "${inner.key}" are not expected here.`, inner.value);
            }
            postProcessors.push(chain);
          }
          break;
        case "error-cleanup-provisioner":
          blocksOf(m, 1, sink);
          break;
        default:
          sink.add("Unsupported argument", `An argument named "${m.key}" is not expected here.`, m.value);
      }
    }
    return { name: stringAttr(b.body, "name"), description: stringAttr(b.body, "description"), sources: used, provisioners, postProcessors };
  });

  if (sink.problems.length > 0) return fail(sink);
  const byName = (a: { name: string }, b: { name: string }): number => compareGoStrings(a.name, b.name);
  return { fileName, variables: variables.sort(byName), locals: locals.sort(byName), builds };
}

function fail(sink: HclProblems): never {
  const text = sink.problems
    .map((p) => {
      const [summary = "", ...rest] = p.message.split(": ");
      return `Error: ${summary}\n\n  on ${p.location?.file ?? ""} line ${p.location?.line ?? 0}:\n\n${rest.join(": ")}\n\n`;
    })
    .join("");
  throw new TemplateParseError(text, sink.problems, { mode: "hcl" });
}

/**
 * `packer inspect`'s HCL2 output as the three messages Packer says (`InspectConfig`): the header, the variables and
 * the builds. Each is printed followed by a newline (or is one `ui,say` line when machine-readable).
 */
export function hclInspectMessages(cfg: HclJsonConfig): [header: string, variables: string, builds: string] {
  let vars = "> input-variables:\n\n";
  for (const v of cfg.variables) vars += `var.${v.name}: ${goQuote(v.value)}\n`;
  vars += "\n> local-variables:\n\n";
  for (const v of cfg.locals) vars += `local.${v.name}: ${goQuote(v.value)}\n`;
  let out = "> builds:\n";
  cfg.builds.forEach((b, i) => {
    out += `\n  > ${b.name === "" ? `<unnamed build ${i}>` : b.name}:\n`;
    if (b.description !== "") out += `\n  > Description: ${b.description}\n`;
    out += "\n    sources:\n";
    if (b.sources.length === 0) out += "\n      <no source>\n";
    for (const s of b.sources) out += `\n      ${s}\n`;
    out += "\n    provisioners:\n\n";
    if (b.provisioners.length === 0) out += "      <no provisioner>\n";
    for (const p of b.provisioners) out += `      ${p}\n`;
    out += "\n    post-processors:\n";
    if (b.postProcessors.length === 0) out += "\n      <no post-processor>\n";
    b.postProcessors.forEach((list, k) => {
      out += `\n      ${k}:\n`;
      for (const p of list) out += `        ${p}\n`;
    });
  });
  return ["Packer Inspect: HCL2 mode\n", vars, out];
}
