/**
 * The template model: what Packer's parser accepts and how it reads it (names, meta keys, the three
 * post-processor forms, durations, weak decoding), all problems of a stage at once, and a frozen result.
 */
import { describe, expect, it } from "vitest";
import { parseTemplate, TemplateParseError, type Template } from "../src/template/mod.js";
import { ErrorCode, InvalidTemplateError } from "../src/errors.js";

function parse(obj: unknown): Template {
  return parseTemplate(JSON.stringify(obj, null, 2), "t.json");
}

function problemsOf(obj: unknown): TemplateParseError {
  try {
    parse(obj);
  } catch (err) {
    if (err instanceof TemplateParseError) return err;
    throw err;
  }
  throw new Error("expected a parse error");
}

describe("template - model", () => {
  it("reads builders: name defaults to type, meta keys out of the config, raw names kept", () => {
    const t = parse({
      builders: [
        { type: "file", target: "a.txt", content: "x" },
        { type: "null", name: "n-{{user `v`}}", communicator: "none" },
        { TYPE: "file", name: "upper" },
        { type: "null", name: "both", Type: "kept" },
      ],
    });
    expect(t.builders.map((b) => [b.index, b.name, b.type])).toEqual([
      [0, "file", "file"],
      [1, "n-{{user `v`}}", "null"],
      [2, "upper", "file"],
      // mapstructure matches the Go field name ("Type") before the lowercase key; packer 1.6.6 says
      // "Unknown builder kept" for this builder.
      [3, "both", "kept"],
    ]);
    expect(t.builders[0]?.config).toEqual({ target: "a.txt", content: "x" });
    // Packer deletes only the exact lowercase meta keys; other spellings reach the plugin (which rejects them).
    expect(t.builders[2]?.config).toEqual({ TYPE: "file" });
    expect(t.builders[3]?.config).toEqual({ Type: "kept" });
    expect(t.builders[1]?.location).toMatchObject({ file: "t.json", path: "builders[1]", line: 8 });
  });

  it("weakly decodes builder names and types like mapstructure", () => {
    const t = parse({ builders: [{ type: 5, name: true }] });
    expect(t.builders[0]).toMatchObject({ type: "5", name: "1" });
  });

  it("reads provisioners: meta keys, only/except lifted from a single value, Go durations, max_retries as text", () => {
    const t = parse({
      builders: [{ type: "null", communicator: "none" }],
      provisioners: [
        { type: "shell-local", inline: ["a"], only: "null", pause_before: "90s", timeout: "1h2m", max_retries: 3, override: { null: { inline: ["b"] } } },
        { type: "shell-local", command: "x", pause_before: 1500000000, except: [] },
      ],
    });
    const [p1, p2] = t.provisioners;
    expect(p1).toMatchObject({ type: "shell-local", only: ["null"], except: [], pauseBefore: "1m30s", timeout: "1h2m0s", maxRetries: "3" });
    expect(p1?.config).toEqual({ inline: ["a"] });
    expect([...(p1?.override.keys() ?? [])]).toEqual(["null"]);
    expect(p2).toMatchObject({ pauseBefore: "1.5s", timeout: "", maxRetries: "" });
  });

  it("reads the three post-processor forms and their meta keys", () => {
    const t = parse({
      builders: [{ type: "null", communicator: "none" }],
      "post-processors": ["compress", { type: "manifest", name: "m", keep_input_artifact: true, output: "x.json" }, ["checksum", { type: "artifice", files: ["a"], only: ["null"] }], []],
    });
    expect(t.postProcessors.map((c) => c.map((p) => `${p.chain}.${p.index}:${p.type}/${p.name}`))).toEqual([
      ["0.0:compress/compress"],
      ["1.0:manifest/m"],
      ["2.0:checksum/checksum", "2.1:artifice/artifice"],
      [],
    ]);
    expect(t.postProcessors[1]?.[0]).toMatchObject({ keepInputArtifact: true, config: { output: "x.json" } });
    expect(t.postProcessors[0]?.[0]?.keepInputArtifact).toBeUndefined();
    expect(t.postProcessors[2]?.[1]).toMatchObject({ only: ["null"], config: { files: ["a"] } });
  });

  it("reads variables, sensitive names, description, comments and root keys case-insensitively", () => {
    const t = parse({
      Description: "hello",
      _comment: "c",
      variables: { a: "1", b: null },
      "sensitive-variables": ["b", "nope"],
      Builders: [{ type: "null", communicator: "none" }],
      "error-cleanup-provisioner": { type: "shell-local", inline: ["cleanup"] },
      push: { name: "legacy" },
    });
    expect(t.description).toBe("hello");
    expect(t.comments).toEqual({ _comment: "c" });
    expect(t.variables.map((v) => [v.name, v.default, v.required, v.sensitive])).toEqual([
      ["a", "1", false, false],
      ["b", "", true, true],
    ]);
    expect(t.sensitiveVariables).toEqual(["b", "nope"]);
    expect(t.builders).toHaveLength(1);
    expect(t.cleanupProvisioner).toMatchObject({ index: -1, type: "shell-local", config: { inline: ["cleanup"] } });
  });

  it("collects every problem of the builders/provisioners/post-processors stage at once, in Packer's order", () => {
    const err = problemsOf({
      variables: { a: 1 },
      builders: [{}, { type: "null" }, { type: "null" }],
      provisioners: [{ inline: ["x"] }, { type: "shell-local", pause_before: "5x" }],
      "post-processors": [[{ type: "manifest" }, ["nested"]], 7],
      "error-cleanup-provisioner": "shell-local",
    });
    expect(err).toBeInstanceOf(InvalidTemplateError);
    expect(err).toMatchObject({ code: ErrorCode.InvalidTemplate });
    expect(err.templateProblems.map((p) => p.message)).toEqual([
      "variable a: '' expected type 'string', got unconvertible type 'float64', value: '1'",
      "builder 1: missing 'type'",
      "builder 3: builder with name 'null' already exists",
      "post-processor 1.2: sequence not allowed to be nested in a sequence",
      "post-processor 2: bad format",
      "provisioner 1: Provisioner missing 'type'",
      "provisioner 2: Error decoding provisioner: 1 error(s) decoding:\n\n* error decoding 'pause_before': time: unknown unit \"x\" in duration \"5x\"",
      "On Error Cleanup Provisioner error: Error decoding provisioner: '' expected a map, got 'string'",
    ]);
    expect(err.packerMessage.startsWith("8 errors occurred:\n\t* variable a: ")).toBe(true);
    // Each problem points at its place.
    expect(err.problems[2]).toMatch(/^t\.json:\d+:\d+: builders\[2\]: builder 3: builder with name 'null' already exists$/);
    expect(err.problems[3]).toMatch(/^t\.json:\d+:\d+: post-processors\[0\]\[1\]: /);
  });

  it("rejects unknown root keys (sorted as Go sorts them) and non-string comments", () => {
    expect(problemsOf({ builders: [], zeta: 1, Alpha: 2, beta: 3 }).packerMessage).toBe(
      "3 errors occurred:\n\t* Unknown root level key in template: 'Alpha'\n\t* Unknown root level key in template: 'beta'\n\t* Unknown root level key in template: 'zeta'\n\n",
    );
    expect(problemsOf({ _c: 5 }).packerMessage).toBe('Failed to cast root level comment value in comment "_c" to string.');
    // Packer crashes on an empty key; kiln reports it.
    expect(problemsOf({ "": 1 }).packerMessage).toBe("1 error occurred:\n\t* Unknown root level key in template: ''\n\n");
  });

  it("freezes the template deeply", () => {
    const t = parse({ builders: [{ type: "file", target: "x", content: "y" }], provisioners: [{ type: "shell-local", inline: ["a"] }] });
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.builders[0]?.config)).toBe(true);
    expect(Object.isFrozen(t.provisioners[0]?.config["inline"])).toBe(true);
    expect(() => {
      (t.builders as unknown as unknown[]).push({});
    }).toThrow(TypeError);
  });
});
