/**
 * Full validate: Packer's verdict (the first failing stage: its classes and exact output) next to kiln's complete
 * list of problems, kiln-only messages that name file, JSON path and line, and the coordinator's entry point.
 */
import { describe, expect, it } from "vitest";
import {
  assertValid,
  describeProblem,
  formatValidateOutput,
  parseTemplate,
  validateParsed,
  validateTemplate,
  TemplateValidationError,
} from "../src/template/mod.js";
import { ErrorCode } from "../src/errors.js";

const FILE = { type: "file", target: "out.txt", content: "x" };

function validate(obj: unknown, options: Parameters<typeof validateTemplate>[2] = {}): ReturnType<typeof validateTemplate> {
  return validateTemplate(JSON.stringify(obj, null, 2), "t.json", { env: {}, ...options });
}

describe("template - validate", () => {
  it("accepts a template kiln can run, printing nothing, like packer", () => {
    const report = validate({ builders: [FILE], provisioners: [{ type: "shell-local", inline: ["true"] }], "post-processors": ["manifest"] });
    expect(report).toMatchObject({ valid: true, classes: [], problems: [] });
    expect(formatValidateOutput(report)).toEqual({ stdout: "", exitCode: 0 });
  });

  it("reports Packer's first failing stage, and every later problem kiln can still find", () => {
    const report = validate({
      min_packer_version: "99.0",
      variables: { need: null },
      builders: [{ type: "file", target: "o" }],
      provisioners: [{ type: "shell-local", only: ["nope"] }],
    });
    expect(report.valid).toBe(false);
    // Packer stops at Template.Validate: its class and its text.
    expect(report.classes).toEqual(["config"]);
    expect(formatValidateOutput(report).stdout).toBe("Error: \n\n1 error occurred:\n\t* provisioner 1: 'only' specified builder 'nope' not found\n\n\n\n\n");
    // kiln lists the rest too: the version, the variable.
    expect(report.problems.map((p) => p.class)).toEqual(["config", "min-version", "required-var"]);
    expect(describeProblem(report.problems[0] ?? { class: "config", message: "" })).toMatch(/^t\.json:\d+:\d+: provisioners\[0\]: provisioner 1: 'only'/);
  });

  it("names plugin types kiln does not run, with file, JSON path and line; unknown names get Packer's message", () => {
    const report = validate({ builders: [{ type: "amazon-ebs", name: "aws" }, { type: "amazon-ebss", name: "typo" }, FILE], provisioners: [{ type: "chef-solo", only: ["file"] }] });
    expect([...report.classes].sort()).toEqual(["unknown-type", "unsupported"]);
    expect(formatValidateOutput(report).stdout).toBe(
      'Error: Failed to initialize build "aws"\n\nkiln does not run builder type "amazon-ebs" yet (builders[0] in t.json, line 3)\n\n' +
        // Word-wrapped at 80 columns, as Packer's diagnostic writer does.
        "Error: Failed to initialize build \"file\"\n\nkiln does not run provisioner type \"chef-solo\" yet (provisioners[0] in t.json,\nline 18)\n\n" +
        "Error: Failed to initialize build \"typo\"\n\nerror initializing builder 'amazon-ebss': Unknown builder amazon-ebss\n\n\n",
    );
  });

  it("reports plugin config problems where they are, in Packer's words", () => {
    const report = validate({ builders: [{ ...FILE, bogus: 1 }] });
    expect(report.classes).toEqual(["unknown-key"]);
    expect(formatValidateOutput(report).stdout).toBe("Error: Failed to prepare build: \"file\"\n\n1 error occurred:\n\t* unknown configuration key: '\"bogus\"'\n\n\n\n\n");
    expect(report.problems[0]?.location).toMatchObject({ path: "builders[0].bogus", line: 7 });
  });

  it("validates with variables already resolved elsewhere (the coordinator's case)", () => {
    const template = parseTemplate(JSON.stringify({ variables: { who: null }, builders: [{ ...FILE, content: "{{user `who`}}", name: "n-{{user `who`}}" }] }), "t.json");
    expect(validateParsed(template, { resolvedVariables: { who: "me" } }).valid).toBe(true);
    const missing = validateParsed(template, { resolvedVariables: {} });
    expect(missing.classes).toEqual(["required-var"]);
    expect(() => assertValid(missing)).toThrow(TemplateValidationError);
    try {
      assertValid(missing);
    } catch (err) {
      expect(err).toMatchObject({ code: ErrorCode.InvalidTemplate });
    }
  });

  it("warns about build names that render the same (Packer silently keeps one), keeping Packer's verdict", () => {
    const report = validate({ variables: { a: "x", b: "x" }, builders: [{ ...FILE, name: "{{user `a`}}" }, { ...FILE, name: "{{user `b`}}" }] });
    expect(report.valid).toBe(true);
    expect(report.warnings[0]?.message).toContain("both have the build name 'x'");
    expect(formatValidateOutput(report).stdout).toMatch(/^Warning: Duplicate build name\n\n.*\(builders\[1\] in t\.json, line \d+\)\n\n\n$/s);
  });

  it("prints machine-readable lines with commas and newlines escaped", () => {
    const report = validate({});
    expect(formatValidateOutput(report, { machineReadable: true, nowUnix: 42 }).stdout).toBe(
      "42,,ui,error,Error: \\n\\n1 error occurred:\\n\t* at least one builder must be defined\\n\\n\\n\\n\n",
    );
  });

  it("checks -only/-except like Packer: unselected builds are not validated", () => {
    const template = { builders: [FILE, { type: "file", name: "broken" }] };
    expect(validate(template).valid).toBe(false);
    expect(validate(template, { only: ["file"] }).valid).toBe(true);
    expect(validate(template, { except: ["broken"] }).valid).toBe(true);
  });

  it("says kiln does not run HCL2 templates, after checking their syntax", () => {
    const report = validateTemplate('{"source": {"file": {"a": {"content": "x", "target": "y"}}}, "build": {"sources": ["source.file.a"]}}', "t.pkr.json");
    expect(report.classes).toEqual(["unsupported"]);
    expect(report.problems[0]?.message).toContain("HCL2");
  });
});
