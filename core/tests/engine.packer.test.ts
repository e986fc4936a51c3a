import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TemplateEngineError, render, type EngineContext } from "../src/template/engine/mod.js";

/**
 * The same expressions through the real `packer build` (1.6.6, file builder) and through kiln's engine. Packer
 * runs once: one builder renders every expression that succeeds (separated by a marker line) and one builder per
 * expression that must fail, so the whole file stays within a few seconds.
 */

const PACKER = "/usr/bin/packer";
const SEP = "\n--8<--\n";
const VARS = { region: "us-east-1", list: "a,b,c", name: "My Image", empty: "", csv: "x, y ,z" };

/** Deterministic expressions; the time functions become deterministic once kiln uses packer's own timestamp. */
const OK: readonly string[] = [
  "{{user `region`}}-{{user `name`}}-{{user `empty`}}",
  "{{split (user `list`) `,` 0}}|{{split (user `list`) `,` 2}}|{{split `a::b` `::` 1}}|{{split `é日` `` 1}}",
  "{{replace `a` `b` 1 `aaa`}}|{{replace `a` `b` -1 `aaa`}}|{{replace_all ` ` `-` (user `name`)}}|{{replace `` `.` 2 `xyz`}}",
  "{{lower (user `name`)}}|{{upper `mixed Case é`}}|{{user `name` | lower | replace_all ` ` `_`}}",
  "{{printf `%s-%05d-%.2f-%q-%x-%v-%t` `s` 42 3.14159 `q` 255 1e21 true}}",
  "{{printf `%-6s|%6s|%+d|%o|%b|%X|%c|%U|%e|%g` `ab` `cd` 7 8 5 255 0x263A 0x263A 1234.5678 0.000012345}}",
  "{{printf `%d %s` 1}}|{{printf `%d` `x`}}|{{printf `%s` 1 2}}|{{printf `%.0f %.0f %.1f` 0.5 2.5 0.25}}",
  "{{print 1 2 `a` 3 nil 1.5 -0.0 1e6}}|{{println `x` 1}}",
  "{{if eq (user `region`) `us-east-1`}}east{{else if eq (user `region`) `eu`}}eu{{else}}other{{end}}",
  "{{range $i, $e := .X}}{{$i}}{{else}}no-range{{end}}|{{with $x := user `region`}}{{$x}}{{end}}",
  "{{$n := 0}}{{if and (user `region`) (not (user `empty`))}}{{$n = 2}}{{end}}{{$n}}",
  "{{len (user `csv`)}}|{{index (user `csv`) 0}}|{{slice (user `csv`) 1 4}}|{{html `<&>`}}|{{js `'<`}}|{{urlquery `a b/c`}}",
  "{{lt 1 2}} {{le `a` `b`}} {{gt 2.5 1.5}} {{ge 2 2}} {{ne `a` `b`}} {{eq 1 2 1}} {{or 0 `` `x`}} {{and 1 0}}",
  '{{define "t"}}<{{.}}>{{end}}{{template "t" (user `region`)}}{{block "b" 7}}[{{.}}]{{end}}',
  "a  {{- ` trimmed ` -}}  b {{/* comment */}} c {{- /* trim */ -}} d",
  "{{ 0x1F }} {{ 1e3 }} {{ 'a' }} {{ 017 }} {{ 1_000 }} {{ .5 }} {{ 1i }} {{ -0 }}",
  "{{build_name}} {{build_type}} {{packer_version}}",
  "{{timestamp}}|{{isotime}}|{{isotime `2006-01-02 15:04:05 MST Mon Jan 002 3PM -0700 Z07:00`}}",
  "{{strftime `%Y-%m-%d %H:%M:%S %a %A %b %B %y %I %p %Z %z %% %j %e`}}",
];

/** Expressions Packer rejects; kiln must print the same error text. */
const FAIL: readonly string[] = [
  "{{nope}}",
  "{{if 1}}never closed",
  "{{ } }}",
  "{{env `HOME`}}",
  "{{split (user `list`) `,` 9}}",
  "{{upper 1}}",
  "{{build `ID`}}",
  "{{sed `a` `b`}}",
  "line one\n  {{printf}}",
  "{{eq 1 `a`}}",
  "{{range 3}}{{end}}",
  "{{$x := 1}}{{$x.Field}}",
];

interface PackerRun {
  ok: string[];
  errors: string[];
}

const norm = (s: string): string => s.replace(/\s+/g, " ").trim();

function runPacker(dir: string): PackerRun {
  const builders = [
    { type: "file", name: "ok", target: path.join(dir, "ok.txt"), content: OK.join(SEP) },
    ...FAIL.map((content, i) => ({ type: "file", name: `f${i}`, target: path.join(dir, `f${i}.txt`), content })),
  ];
  fs.writeFileSync(path.join(dir, "template.json"), JSON.stringify({ variables: VARS, builders }));
  const r = spawnSync(PACKER, ["build", "-machine-readable", "template.json"], { cwd: dir, encoding: "utf8" });
  if (r.error) throw new Error("packer build failed to start", { cause: r.error });
  const errors = new Map<number, string>();
  for (const line of r.stdout.split("\n")) {
    const f = line.split(",");
    if (f[2] !== "ui" || f[3] !== "error") continue;
    const msg = f.slice(4).join(",").replaceAll("%!(PACKER_COMMA)", ",").replaceAll("\\n", "\n");
    const re = /Failed to prepare build: "f(\d+)"\n\n([\s\S]*?)(?=\n\nError: Failed to prepare|\n\nWarning|$)/g;
    for (const m of msg.matchAll(re)) errors.set(Number(m[1]), m[2] ?? "");
  }
  const okPath = path.join(dir, "ok.txt");
  if (!fs.existsSync(okPath)) throw new Error(`packer did not build the ok file:\n${r.stdout}\n${r.stderr}`);
  return {
    ok: fs.readFileSync(okPath, "utf8").split(SEP),
    errors: FAIL.map((_, i) => {
      // "render 'content': <go error> in:\n\n<content>" (or "invalid 'content': ..." for parse errors).
      let e = norm(errors.get(i) ?? `no error reported for f${i}`).replace(/^(render|invalid) 'content': /, "");
      const k = e.lastIndexOf(" in:");
      if (k >= 0) e = e.slice(0, k);
      return e;
    }),
  };
}

describe("engine - compared with a live packer 1.6.6", () => {
  let dir = "";
  let run: PackerRun;

  beforeAll(() => {
    if (!fs.existsSync(PACKER)) throw new Error(`${PACKER} is missing: install Debian package packer`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-engine-packer-"));
    run = runPacker(dir);
  }, 60_000);

  afterAll(() => {
    if (dir !== "") fs.rmSync(dir, { recursive: true, force: true });
  });

  const context = (): EngineContext => {
    // Packer's timestamp is in its own output; with it the time functions are deterministic (to the second).
    const ts = Number(run.ok[OK.findIndex((e) => e.startsWith("{{timestamp}}"))]?.split("|")[0]);
    return {
      userVariables: VARS,
      packerVersion: "1.6.6",
      buildName: "ok",
      buildType: "file",
      statics: { initTimeUnix: ts, initTimeMs: ts * 1000, uuid: "unused" },
    };
  };

  it("renders every expression as packer does", () => {
    expect(run.ok).toHaveLength(OK.length);
    const ctx = context();
    expect(OK.map((e) => render(e, ctx))).toEqual(run.ok);
  });

  it("fails with packer's error text", () => {
    const ctx = { ...context(), buildName: "f" };
    const ours = FAIL.map((e) => {
      try {
        return `rendered: ${render(e, ctx)}`;
      } catch (err) {
        if (err instanceof TemplateEngineError) return norm(err.message);
        throw err;
      }
    });
    expect(ours).toEqual(run.errors);
  });
});
