/**
 * The planner. The selection cases reproduce what `packer build` 1.6.6 ran for the same template and flags
 * (recorded by running it: which builds finished, which provisioners and post-processors printed).
 */
import { describe, expect, it } from "vitest";
import { codecs, type Job } from "../../proto/src/mod.js";
import { parseTemplate, planBuild, resolveVariables, TemplateValidationError, type Template } from "../src/template/mod.js";

const TEMPLATE = {
  builders: [
    { type: "null", name: "a", communicator: "none" },
    { type: "null", name: "b{{user `x`}}", communicator: "none" },
  ],
  variables: { x: "X", secret: "s3cret" },
  "sensitive-variables": ["secret"],
  provisioners: [
    { type: "shell-local", inline: ["echo PROV1 $PACKER_BUILD_NAME"], only: ["a"] },
    {
      type: "shell-local",
      inline: ["echo PROV2 $PACKER_BUILD_NAME"],
      pause_before: "10s",
      max_retries: "{{user `x`}}",
      override: { "b{{user `x`}}": { inline: ["echo PROV2-OVERRIDE $PACKER_BUILD_NAME"], env: { K: "V" } } },
    },
  ],
  "error-cleanup-provisioner": { type: "shell-local", inline: ["echo cleanup"] },
  "post-processors": [
    [
      { type: "shell-local", name: "first", inline: ["echo PP-first"], keep_input_artifact: true },
      { type: "shell-local", name: "second", inline: ["echo PP-second"] },
      { type: "shell-local", inline: ["echo PP-third"] },
    ],
    { type: "shell-local", name: "solo", inline: ["echo PP-solo"], except: ["a"] },
  ],
};

const STATICS = { run_uuid: "build-1", init_time_unix: 1_700_000_000, init_time_nanos: "1700000000000000000", template_uuid: "u-1" };

function plan(template: Template, only: string[] = [], except: string[] = []): Job[] {
  return planBuild({
    template,
    variables: resolveVariables({ template, env: {} }),
    only,
    except,
    buildId: "build-1",
    statics: STATICS,
    options: { on_error: "cleanup", force: false, debug: false, parallel_builds: 0, timestamp_ui: false },
    workspace: { bundle_object: "bundles/b1", template_path: "t.json" },
    datacenter: "",
  });
}

/** What packer build printed, per build: its provisioners' lines and its post-processors' lines. */
function summary(jobs: Job[]): Record<string, { prov: string[]; pp: string[][] }> {
  const echo = (configJson: string | undefined): string => (JSON.parse(configJson ?? "{}") as { inline: string[] }).inline.join(";").replace(/^echo /, "");
  return Object.fromEntries(
    jobs.map((j) => [j.name, { prov: (j.provisioners ?? []).map((p) => echo(p.config_json)), pp: (j.post_processor_chains ?? []).map((c) => (c.steps ?? []).map((s) => echo(s.config_json))) }]),
  );
}

describe("template - planBuild", () => {
  const template = parseTemplate(JSON.stringify(TEMPLATE, null, 2), "t.json");

  it("makes one job per build in template order, with everything the agent needs", () => {
    const jobs = plan(template);
    expect(jobs.map((j) => [j.job_id, j.name, j.builder_type])).toEqual([
      ["j0", "a", "null"],
      ["j1", "bX", "null"],
    ]);
    const [a, b] = jobs;
    expect(JSON.parse(a?.builder_config_json ?? "")).toEqual({ communicator: "none" });
    expect(a).toMatchObject({
      build_id: "build-1",
      datacenter: "any",
      user_variables: { x: "X", secret: "s3cret" },
      sensitive_variables: ["secret"],
      statics: STATICS,
      workspace: { bundle_object: "bundles/b1", template_path: "t.json" },
      has_error_cleanup_provisioner: true,
      template_json: template.text,
    });
    expect(a?.provisioners?.[1]).toMatchObject({ type: "shell-local", pause_before: "10s", max_retries: "{{user `x`}}", timeout: "" });
    // `override` is merged for the build it names (by raw name), key by key.
    expect(JSON.parse(b?.provisioners?.[0]?.config_json ?? "")).toEqual({ inline: ["echo PROV2-OVERRIDE $PACKER_BUILD_NAME"], env: { K: "V" } });
    expect(JSON.parse(a?.error_cleanup_provisioner?.config_json ?? "")).toEqual({ inline: ["echo cleanup"] });
    expect(a?.post_processor_chains?.[0]?.steps?.[0]).toMatchObject({ type: "shell-local", name: "first", has_keep_input_artifact: true, keep_input_artifact: true });
    expect(a?.post_processor_chains?.[0]?.steps?.[2]).toMatchObject({ name: "shell-local", has_keep_input_artifact: false });
    // The wire codec accepts every job as it is.
    for (const job of jobs) expect(codecs.Job.decode(codecs.Job.encode(job))).toMatchObject({ job_id: job.job_id, name: job.name });
  });

  const all = { prov: ["PROV1 $PACKER_BUILD_NAME", "PROV2 $PACKER_BUILD_NAME"] };
  const cases: [string, string[], string[], Record<string, { prov: string[]; pp: string[][] }>][] = [
    ["no flags", [], [], { a: { ...all, pp: [["PP-first", "PP-second", "PP-third"]] }, bX: { prov: ["PROV2-OVERRIDE $PACKER_BUILD_NAME"], pp: [["PP-first", "PP-second", "PP-third"], ["PP-solo"]] } }],
    ["-only=a", ["a"], [], { a: { ...all, pp: [["PP-first", "PP-second", "PP-third"]] } }],
    ["-only=bX (the rendered name)", ["bX"], [], { bX: { prov: ["PROV2-OVERRIDE $PACKER_BUILD_NAME"], pp: [["PP-first", "PP-second", "PP-third"], ["PP-solo"]] } }],
    ["-only with the raw name matches nothing", ["b{{user `x`}}"], [], {}],
    ["-only ignores post-processors", ["first"], [], {}],
    ["-except=second ends the chain there", [], ["second"], { a: { ...all, pp: [["PP-first"]] }, bX: { prov: ["PROV2-OVERRIDE $PACKER_BUILD_NAME"], pp: [["PP-first"], ["PP-solo"]] } }],
    ["-except=<type> matches an unnamed post-processor", [], ["shell-local"], { a: { ...all, pp: [["PP-first", "PP-second"]] }, bX: { prov: ["PROV2-OVERRIDE $PACKER_BUILD_NAME"], pp: [["PP-first", "PP-second"], ["PP-solo"]] } }],
    ["-except=solo drops the emptied chain", [], ["solo"], { a: { ...all, pp: [["PP-first", "PP-second", "PP-third"]] }, bX: { prov: ["PROV2-OVERRIDE $PACKER_BUILD_NAME"], pp: [["PP-first", "PP-second", "PP-third"]] } }],
    ["-except=a,first", [], ["a", "first"], { bX: { prov: ["PROV2-OVERRIDE $PACKER_BUILD_NAME"], pp: [["PP-solo"]] } }],
  ];
  for (const [title, only, except, expected] of cases) {
    it(`selects like packer build: ${title}`, () => {
      expect(summary(plan(template, only, except))).toEqual(expected);
    });
  }

  it("numbers the selected jobs j0, j1, ... in template order", () => {
    expect(plan(template, ["bX"]).map((j) => j.job_id)).toEqual(["j0"]);
  });

  it("keeps configs uninterpolated and number literals as written", () => {
    const t = parseTemplate('{"builders":[{"type":"file","target":"{{template_dir}}/x","content":"{{user `v`}}","n":12345678901234567890}],"variables":{"v":"1"}}', "t.json");
    expect(plan(t)[0]?.builder_config_json).toBe('{"target":"{{template_dir}}/x","content":"{{user `v`}}","n":12345678901234567890}');
  });

  it("refuses what Packer refuses before building, all problems at once", () => {
    const t = parseTemplate(
      JSON.stringify({
        min_packer_version: "9.0",
        variables: { need: null },
        builders: [{ type: "null", communicator: "none" }],
        provisioners: [{ type: "shell-local", inline: ["x"], only: ["missing"] }],
      }),
      "t.json",
    );
    let err: unknown;
    try {
      planBuild({ template: t, variables: {}, buildId: "b", statics: STATICS, options: {}, workspace: {}, datacenter: "dc1" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TemplateValidationError);
    expect((err as TemplateValidationError).templateProblems.map((p) => p.class)).toEqual(["config", "min-version", "required-var"]);
  });

  it("refuses build names that render to the same name (Packer would drop one at random)", () => {
    const t = parseTemplate(
      JSON.stringify({ variables: { a: "x", b: "x" }, builders: [{ type: "null", name: "{{user `a`}}" }, { type: "null", name: "{{user `b`}}" }] }),
      "t.json",
    );
    expect(() => plan(t)).toThrow(/both have the build name 'x'/);
  });

  it("renders build names with the run's statics and routes to the datacenter given", () => {
    const t = parseTemplate(JSON.stringify({ builders: [{ type: "null", name: "n-{{timestamp}}", communicator: "none" }] }), "t.json");
    const jobs = planBuild({ template: t, variables: {}, buildId: "b", statics: STATICS, options: {}, workspace: {}, datacenter: "dc1" });
    expect(jobs[0]).toMatchObject({ name: "n-1700000000", datacenter: "dc1", has_error_cleanup_provisioner: false });
  });
});
