/**
 * User variables: precedence, `env`, references between variables, required variables, var files. The expected
 * values of the first test were printed by `packer console` 1.6.6 for the same template and flags.
 */
import { describe, expect, it } from "vitest";
import {
  parseTemplate,
  readVarFiles,
  resolveVariables,
  resolveVariablesOutcome,
  sensitiveValues,
  TemplateValidationError,
  VarFileError,
} from "../src/template/mod.js";
import { ErrorCode, InvalidTemplateError } from "../src/errors.js";

const STATICS = { initTimeUnix: 1_700_000_000, initTimeMs: 1_700_000_000_000, uuid: "00000000-0000-0000-0000-000000000000" };

function template(variables: Record<string, unknown>, extra: Record<string, unknown> = {}): ReturnType<typeof parseTemplate> {
  return parseTemplate(JSON.stringify({ variables, builders: [{ type: "null", communicator: "none" }], ...extra }), "t.json");
}

describe("template - variables", () => {
  it("resolves like packer 1.6.6: defaults < var files in order < -var, env in defaults, references, dot fields kept", () => {
    const t = template({
      a: "A",
      b: "{{user `a`}}-b",
      c: "{{user `b`}}-c",
      d: "{{ .HTTPIP }}:{{user `a`}}",
      e: "{{env `KILN_T`}}",
      f: "{{user `cli`}}!",
      g: null,
      h: "{{user ``}}h",
      i: '{{user "a"}}q',
    });
    const vars = resolveVariables({
      template: t,
      varFiles: [
        { path: "v1.json", text: '{"a": "FROMFILE", "cli": "{{user `b`}}", "g": "G1"}' },
        { path: "v2.json", text: '{"g": "G2", "k": null}' },
      ],
      vars: { a: "FROMCLI" },
      env: { KILN_T: "envval" },
      statics: STATICS,
    });
    expect(vars).toEqual({
      a: "FROMCLI",
      b: "FROMCLI-b",
      c: "FROMCLI-b-c",
      d: "{{ .HTTPIP }}:FROMCLI",
      e: "envval",
      f: "FROMCLI-b!",
      g: "G2",
      h: "h",
      i: "FROMCLIq",
      k: "",
      cli: "FROMCLI-b",
    });
  });

  it("-var wins over var files whatever the order; later var files win over earlier ones", () => {
    const t = template({ x: "default" });
    expect(resolveVariables({ template: t, env: {} })).toEqual({ x: "default" });
    expect(resolveVariables({ template: t, varFiles: [{ path: "1", text: '{"x":"one"}' }, { path: "2", text: '{"x":"two"}' }], env: {} })).toEqual({ x: "two" });
    expect(resolveVariables({ template: t, varFiles: [{ path: "1", text: '{"x":"one"}' }], vars: { x: "flag" }, env: {} })).toEqual({ x: "flag" });
  });

  it("reports every required variable that is not set, with where it is declared", () => {
    const t = template({ b: null, a: null, c: "x" });
    let err: unknown;
    try {
      resolveVariables({ template: t, env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TemplateValidationError);
    expect(err).toMatchObject({ code: ErrorCode.InvalidTemplate });
    const problems = (err as TemplateValidationError).templateProblems;
    expect(problems.map((p) => p.class)).toEqual(["required-var", "required-var"]);
    expect(problems.map((p) => p.message.split(" (")[0])).toEqual(["required variable not set: b", "required variable not set: a"]);
    expect(problems[0]?.location).toMatchObject({ file: "t.json", path: "variables.b", line: 1 });
    // An empty value is a value.
    expect(resolveVariables({ template: t, vars: { a: "", b: "" }, env: {} })).toMatchObject({ a: "", b: "" });
  });

  it("fails with Packer's message when a reference never resolves", () => {
    const t = template({ baz: "{{user `bar`}}baz" });
    const outcome = resolveVariablesOutcome({ template: t, env: {}, statics: STATICS });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.packerDetail).toBe(
      'Failed to interpolate "baz": "{{user `bar`}}baz"; error: template: root:1:2: executing "root" at <user `bar`>: error calling user: ' +
        "Error: variable not set: bar: Please make sure that the variable you're referencing has been defined; Packer treats all variables " +
        "used to interpolate other user variables as required.",
    );
    expect(outcome.problems[0]?.class).toBe("required-var");
  });

  it("resolves chains in any order, and cycles fail", () => {
    const chain = template({ a: "{{user `b`}}1", b: "{{user `c`}}2", c: "{{user `d`}}3", d: "4" });
    expect(resolveVariables({ template: chain, env: {} })).toMatchObject({ a: "4321" });
    const cycle = template({ a: "{{user `b`}}", b: "{{user `a`}}" });
    expect(() => resolveVariables({ template: cycle, env: {} })).toThrow(/Failed to interpolate "b"/);
  });

  it("allows env only while variables render, and reports template errors in defaults as Packer does", () => {
    const t = template({ a: "{{nope}}" });
    const outcome = resolveVariablesOutcome({ template: t, env: {}, statics: STATICS });
    expect(outcome.ok ? "" : outcome.packerDetail).toBe(`error interpolating default value for 'a': template: root:1: function "nope" not defined`);
    expect(resolveVariables({ template: template({ home: "{{env `HOME`}}" }), env: { HOME: "/home/u" } })).toEqual({ home: "/home/u" });
    expect(resolveVariables({ template: template({ unset: "{{env `NOPE`}}" }), env: {} })).toEqual({ unset: "" });
  });

  it("keeps variables given only on the command line", () => {
    expect(resolveVariables({ template: template({}), vars: { extra: "1" }, env: {} })).toEqual({ extra: "1" });
  });

  it("names the var file and the reason when one does not decode (Packer's words)", () => {
    const cases: [string, string][] = [
      ['{"a": 1', "Error reading variables in 'vars.json': unexpected EOF"],
      ['{"a": 1}', "Error reading variables in 'vars.json': json: cannot unmarshal number into Go value of type string"],
      ['{"a": {"b": 1}}', "Error reading variables in 'vars.json': json: cannot unmarshal object into Go value of type string"],
      ["[1]", "Error reading variables in 'vars.json': json: cannot unmarshal array into Go value of type kvflag.FlagJSON"],
      ["", "Error reading variables in 'vars.json': EOF"],
      ['{"a": x}', "Error reading variables in 'vars.json': invalid character 'x' looking for beginning of value"],
    ];
    for (const [text, message] of cases) {
      let err: unknown;
      try {
        readVarFiles([{ path: "vars.json", text }]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VarFileError);
      expect(err).toBeInstanceOf(InvalidTemplateError);
      expect((err as VarFileError).packerMessage).toBe(message);
      expect((err as VarFileError).problems[0]).toContain("vars.json");
    }
  });

  it("reads var files as Go's decoder does: first value only, later keys win, null is empty, null file resets", () => {
    expect(readVarFiles([{ path: "f", text: '{"a":"1","a":"2"} trailing garbage' }])).toEqual({ a: "2" });
    expect(readVarFiles([{ path: "f", text: '{"a":null}' }])).toEqual({ a: "" });
    expect(readVarFiles([{ path: "1", text: '{"a":"1"}' }, { path: "2", text: "null" }, { path: "3", text: '{"b":"2"}' }])).toEqual({ b: "2" });
  });

  it("lists the values to scrub from output", () => {
    const t = template({ s: "secret", p: "public", e: "" }, { "sensitive-variables": ["s", "e", "undeclared"] });
    const vars = resolveVariables({ template: t, env: {} });
    expect(sensitiveValues(t, vars)).toEqual(["secret"]);
  });
});
