/**
 * Property and fuzz tests: random and mutated templates (seeded, so a failure replays) never crash the parser,
 * validator, inspector or planner — every rejection is an InvalidTemplateError — and the JSON parser accepts exactly
 * the JSON that `JSON.parse` accepts (minus duplicate keys and numbers out of range, which Packer rejects).
 *
 * With `KILN_PACKER_FUZZ=<n>` and Packer 1.6.6 at /usr/bin/packer, n cases are also run through the real binary
 * and `validate -syntax-only` must print the same (slow: one process per case; off by default).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  formatValidateOutput,
  inspectTemplateText,
  parseTemplate,
  planBuild,
  validateSyntaxOnly,
  validateTemplate,
  type Template,
} from "../src/template/mod.js";
import { JsonDuplicateKeyError, JsonNumberRangeError, JsonSyntaxError, parseJsonBytes, toPlain } from "../src/template/json_parser.js";
import { InvalidTemplateError } from "../src/errors.js";
import { seededRandom } from "../../test/src/mod.js";

const prng = seededRandom;

class Gen {
  constructor(readonly rnd: () => number) {}
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
}

const ROOT_KEYS = ["builders", "provisioners", "post-processors", "variables", "sensitive-variables", "description", "min_packer_version", "error-cleanup-provisioner", "push", "_comment", "Builders", "comments", "bogus", ""];
const PLUGIN_TYPES = ["file", "null", "shell-local", "manifest", "checksum", "compress", "artifice", "amazon-ebs", "qemu", "shell", "nope", "{{upper `x`}}", ""];
const META_KEYS = ["type", "name", "only", "except", "override", "pause_before", "max_retries", "timeout", "keep_input_artifact", "Type", "ONLY"];
const CONFIG_KEYS = ["target", "content", "source", "communicator", "inline", "command", "output", "checksum_types", "files", "env", "strip_path", "x"];
const STRINGS = ["", "a", "null", "file", "5s", "1h2m", "x5", "{{user `v`}}", "{{env `HOME`}}", "{{timestamp}}", "{{ .HTTPIP }}", "{{", "}}", "{{nope}}", "{{build_name}}", "ü", "\u0000", "9.0", "1.6.6", "a,b", "none", "md5"];

function value(g: Gen, depth: number): unknown {
  const r = g.int(depth > 3 ? 5 : 8);
  switch (r) {
    case 0:
      return null;
    case 1:
      return g.chance(0.5);
    case 2:
      return g.pick([0, 1, -1, 1.5, 1e21, 3]);
    case 3:
    case 4:
      return g.pick(STRINGS);
    case 5:
      return Array.from({ length: g.int(4) }, () => value(g, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = g.int(5); i > 0; i--) out[g.pick([...META_KEYS, ...CONFIG_KEYS, ...STRINGS])] = value(g, depth + 1);
      return out;
    }
  }
}

function plugin(g: Gen): unknown {
  if (g.chance(0.1)) return value(g, 2);
  const out: Record<string, unknown> = {};
  if (g.chance(0.9)) out["type"] = g.chance(0.9) ? g.pick(PLUGIN_TYPES) : value(g, 3);
  for (let i = g.int(5); i > 0; i--) out[g.pick([...META_KEYS, ...CONFIG_KEYS])] = value(g, 2);
  return out;
}

function template(g: Gen): unknown {
  const out: Record<string, unknown> = {};
  for (let i = g.int(7); i > 0; i--) {
    const key = g.pick(ROOT_KEYS);
    switch (key) {
      case "builders":
      case "Builders":
      case "provisioners":
        out[key] = g.chance(0.9) ? Array.from({ length: g.int(4) }, () => plugin(g)) : value(g, 1);
        break;
      case "post-processors":
        out[key] = Array.from({ length: g.int(3) }, () => (g.chance(0.3) ? Array.from({ length: g.int(3) }, () => plugin(g)) : g.chance(0.2) ? g.pick(PLUGIN_TYPES) : plugin(g)));
        break;
      case "variables": {
        const vars: Record<string, unknown> = {};
        for (let k = g.int(4); k > 0; k--) vars[g.pick(["v", "w", "HOME", "", "x y"])] = g.chance(0.8) ? g.pick([...STRINGS, null]) : value(g, 2);
        out[key] = vars;
        break;
      }
      case "error-cleanup-provisioner":
        out[key] = plugin(g);
        break;
      default:
        out[key] = value(g, 1);
    }
  }
  return out;
}

const PUNCT = ['{', '}', '[', ']', ',', ':', '"', "\\", " ", "\n", "0", "-", ".", "e", "t", "n", "\u00e9", "\t", "'", "/"];

/** Mutates template text: byte-level edits plus structural ones (a duplicated member, a truncation). */
function mutate(g: Gen, text: string): string {
  let s = text;
  for (let i = 1 + g.int(3); i > 0; i--) {
    const at = g.int(s.length + 1);
    switch (g.int(6)) {
      case 0:
        s = s.slice(0, at) + s.slice(at + 1 + g.int(3));
        break;
      case 1:
        s = s.slice(0, at) + g.pick(PUNCT) + s.slice(at);
        break;
      case 2:
        s = s.slice(0, at) + g.pick(PUNCT) + s.slice(at + 1);
        break;
      case 3:
        s = s.slice(0, at);
        break;
      case 4: {
        // duplicate a `"key": value` member somewhere in the same object, as text
        const m = /"[^"\\]*"\s*:\s*("[^"\\]*"|[0-9]+|true|false|null)/.exec(s.slice(at));
        if (m) s = s.slice(0, at + m.index) + `${m[0]}, ` + s.slice(at + m.index);
        break;
      }
      default: {
        const from = g.int(s.length + 1);
        s = s.slice(0, at) + s.slice(from, from + g.int(20)) + s.slice(at);
      }
    }
  }
  return s;
}

const SEEDS = [
  { builders: [{ type: "file", name: "a", target: "x", content: "{{user `v`}}" }, { type: "null", communicator: "none" }], variables: { v: "1", w: null }, provisioners: [{ type: "shell-local", inline: ["x"], only: ["a"], override: { a: { inline: ["y"] } } }], "post-processors": [["manifest", { type: "checksum", checksum_types: ["md5"] }]] },
  { description: "d", min_packer_version: "1.5.0", "sensitive-variables": ["v"], variables: { v: "s" }, builders: [{ type: "amazon-ebs", name: "{{user `v`}}" }], "error-cleanup-provisioner": { type: "shell-local", inline: ["c"] } },
];

/** Every entry point a template goes through; returns what was thrown, if anything. */
function exercise(text: string, g: Gen): unknown {
  try {
    for (const out of [formatValidateOutput(validateSyntaxOnly(text, "t.json")), inspectTemplateText(text, "t.json"), formatValidateOutput(validateTemplate(text, "t.json", { env: { HOME: "/h" }, vars: g.chance(0.5) ? { v: "1" } : {} }))]) {
      if (typeof out.stdout !== "string" || (out.exitCode !== 0 && out.exitCode !== 1)) throw new Error(`bad output ${JSON.stringify(out)}`);
    }
    let t: Template;
    try {
      t = parseTemplate(text, "t.json");
    } catch (err) {
      return err;
    }
    planBuild({ template: t, variables: { v: "1", w: "2" }, only: g.chance(0.3) ? ["a"] : [], except: g.chance(0.3) ? ["manifest"] : [], buildId: "b", statics: {}, options: {}, workspace: {}, datacenter: "" });
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("template - fuzz", () => {
  it("never crashes on random and mutated templates; every rejection is an InvalidTemplateError", () => {
    const started = Date.now();
    const g = new Gen(prng(0x6b696c6e));
    let rejected = 0;
    const N = 3000;
    for (let i = 0; i < N; i++) {
      const text = i % 2 === 0 ? JSON.stringify(template(g), null, g.chance(0.5) ? 2 : undefined) : mutate(g, JSON.stringify(g.pick(SEEDS), null, 2));
      const err = exercise(text, g);
      if (err !== undefined) {
        rejected++;
        if (!(err instanceof InvalidTemplateError)) {
          throw new Error(`case ${i} threw ${String(err)} for ${JSON.stringify(text)}`, { cause: err });
        }
      }
    }
    // Both outcomes occur, and the whole run stays fast.
    expect(rejected).toBeGreaterThan(N / 10);
    expect(rejected).toBeLessThan(N);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it("accepts exactly the JSON that JSON.parse accepts, and reads the same values", () => {
    const g = new Gen(prng(42));
    for (let i = 0; i < 3000; i++) {
      const text = mutate(g, JSON.stringify(i % 3 === 0 ? template(g) : g.pick(SEEDS)));
      let expected: unknown;
      let jsOk = true;
      try {
        expected = JSON.parse(text);
      } catch {
        jsOk = false;
      }
      try {
        const node = parseJsonBytes(Buffer.from(text, "utf8"));
        expect(jsOk, text).toBe(true);
        expect(toPlain(node), text).toEqual(expected);
      } catch (err) {
        if (err instanceof JsonDuplicateKeyError || err instanceof JsonNumberRangeError) {
          expect(jsOk, text).toBe(true);
          continue;
        }
        if (!(err instanceof JsonSyntaxError)) throw err;
        expect(jsOk, text).toBe(false);
      }
    }
  });
});

const packerFuzz = Number(process.env["KILN_PACKER_FUZZ"] ?? "0");
describe.skipIf(!(packerFuzz > 0 && existsSync("/usr/bin/packer")))("template - fuzz against packer 1.6.6", () => {
  it(`prints what packer prints for validate -syntax-only on ${packerFuzz} cases`, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kiln-fuzz-"));
    const cwd = path.join(dir, "cwd");
    mkdirSync(cwd);
    // Asynchronous, so the test worker stays responsive while Packer runs.
    const packer = (args: string[]): Promise<{ stdout: string; code: number }> =>
      new Promise((resolve) => {
        execFile("/usr/bin/packer", args, { cwd, env: { PATH: "/usr/bin:/bin", HOME: dir, CHECKPOINT_DISABLE: "1" }, encoding: "utf8", timeout: 20_000, killSignal: "SIGKILL" }, (err, stdout) => {
          const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
          resolve({ stdout, code });
        });
      });
    try {
      const g = new Gen(prng(Date.now() & 0xffff));
      for (let i = 0; i < packerFuzz; i++) {
        const text = i % 2 === 0 ? JSON.stringify(template(g)) : mutate(g, JSON.stringify(g.pick(SEEDS), null, 2));
        writeFileSync(path.join(dir, "t.json"), text);
        const r = await packer(["validate", "-syntax-only", "../t.json"]);
        if (r.code === 2) continue; // packer crashed: kiln reports instead (see corpus-known-differences.md)
        const got = formatValidateOutput(validateSyntaxOnly(text, "../t.json"));
        if (text.includes("variables") && got.stdout.includes("variable") && got.stdout !== r.stdout) continue; // Go map order
        expect(got.stdout, text).toBe(r.stdout);
        expect(got.exitCode, text).toBe(r.code);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000 + packerFuzz * 2_000);
});
