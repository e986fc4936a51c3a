import { describe, expect, it } from "vitest";
import { ErrorCode, hasErrorCode } from "../src/errors.js";
import {
  BUILD_PLACEHOLDER_MSG, MAX_EXEC_DEPTH, TemplateEngineError, basicPlaceholderData, hasTemplateSyntax,
  interpolateValue, parseTemplateText, render, type EngineContext,
} from "../src/template/engine/mod.js";
import { seededRandom } from "../../test/src/mod.js";

/** Go's reference time, 2006-01-02T15:04:05.123Z: formatting it with a layout gives the layout back. */
const REF_MS = Date.UTC(2006, 0, 2, 15, 4, 5, 123);

const ctx: EngineContext = {
  userVariables: { a: "A", list: "x,y,z", empty: "", region: "us-east-1" },
  packerVersion: "1.6.6",
  buildName: "web",
  buildType: "docker",
  templateDir: "/srv/tpl",
  pwd: "/work",
  statics: { initTimeUnix: Math.floor(REF_MS / 1000), initTimeMs: REF_MS, uuid: "0a1b2c3d-0000-4000-8000-000000000001" },
};

const data = {
  Path: "/tmp/script.sh",
  Vars: "A=1 B=2",
  Port: 8080,
  Float: 1.5,
  Flag: true,
  Null: null,
  Nested: { A: { B: "deep" } },
  List: ["a", "b", "c"],
  Mixed: [1, "two", null, 2.5, true],
  Map: { b: 2, a: 1, c: 3 },
  Empty: [],
  EmptyMap: {},
};
const withData: EngineContext = { ...ctx, data };

function err(fn: () => unknown): TemplateEngineError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TemplateEngineError) return e;
    throw new Error(`expected TemplateEngineError, got ${String(e)}`);
  }
  throw new Error("expected an error");
}

describe("engine - grammar", () => {
  const cases: [string, string][] = [
    ["plain text", "plain text"],
    ["", ""],
    ["a {{ `b` }} c", "a b c"],
    ['{{"esc\\t\\x41\\u00e9\\101"}}', "esc\tAéA"],
    ["{{`raw \\n`}}", "raw \\n"],
    ["{{1}} {{-2}} {{3.5}} {{0x1F}} {{1e3}} {{'a'}} {{017}} {{1_000}} {{0b101}} {{.5}}", "1 -2 3.5 31 1000 97 15 1000 5 0.5"],
    ["{{true}} {{false}}", "true false"],
    ["{{print nil}}", "<nil>"],
    ["{{/* a comment */}}x", "x"],
    ["a {{- 1 -}} b", "a1b"],
    ["a  \n\t{{- `x` }}  y", "ax  y"],
    ["{{`x` -}}  \n  y", "xy"],
    ["{{- /* gone */ -}}  \n", ""],
    ["{{$x := 1}}{{$x}}", "1"],
    ["{{$x := 1}}{{$x = 2}}{{$x}}", "2"],
    ['{{$x := "a"}}{{if 1}}{{$x := "b"}}{{$x}}{{end}}{{$x}}', "ba"],
    ['{{$x := "a"}}{{if 1}}{{$x = "b"}}{{end}}{{$x}}', "b"],
    ["{{$}}", "<no value>"],
    ['{{"a" | printf "%s-%s" "b"}}', "b-a"],
    ['{{"x" | upper | printf "<%s>"}}', "<X>"],
    ["{{(print 1 2)}}", "1 2"],
    ["{{print (print 1) (2)}}", "12"], // no space next to a string operand
    ["{{if 1}}a{{else if 0}}b{{else}}c{{end}}", "a"],
    ["{{if 0}}a{{else if 1}}b{{else}}c{{end}}", "b"],
    ["{{if 0}}a{{else if 0}}b{{else}}c{{end}}", "c"],
    ["{{if ``}}a{{else}}b{{end}}", "b"],
    ["{{with 0}}a{{else}}b{{end}}", "b"],
    ["{{with $x := 3}}{{$x}}{{.}}{{end}}", "33"],
    ['{{define "x"}}[{{.}}]{{end}}{{template "x" 5}}{{template "x"}}', "[5][<no value>]"],
    ['{{block "b" "v"}}<{{.}}>{{end}}', "<v>"],
    ["{{and 1 0}} {{and 1 2}} {{or 0 `` 3}} {{or 0 ``}} {{not 0}}", "0 2 3  true"],
    ["{{and 0 (env `X`)}} {{or 1 (env `X`)}}", "0 1"], // short-circuit: env is never called
    ["{{eq 1 2 3 1}} {{eq `a` `a`}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt 2.5 1.5}} {{ge `a` `b`}}", "true true true true true true false"],
    ["{{len `héllo`}} {{index `abc` 1}} {{slice `abcdef` 1 3}} {{slice `abc` 1}}", "6 98 bc bc"],
    ["{{print 1 2 `a` `b` 3}}|{{println 1 `x`}}|", "1 2ab3|1 x\n|"],
    ["{{html `<a href='x'>&\"`}}", "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"],
    ["{{js `<a>'\"\\=&`}}", "\\u003Ca\\u003E\\'\\\"\\\\\\u003D\\u0026"],
    ["{{urlquery `a b&c/é`}}", "a+b%26c%2F%C3%A9"],
    ["{{print 1.0 2.5 1e6 1e21 0.00001 123456789.0 -0.0}}", "1 2.5 1e+06 1e+21 1e-05 1.23456789e+08 -0"],
    ["{{1i}} {{1+2i}}", "(0+1i) (1+2i)"],
  ];
  it.each(cases)("%j", (tpl, want) => {
    expect(render(tpl, ctx)).toBe(want);
  });
});

describe("engine - printf", () => {
  const cases: [string, string][] = [
    ['{{printf "%d-%s-%v-%q-%x" 3 "s" true "q" 255}}', '3-s-true-"q"-ff'],
    ['{{printf "%5s|%-5s|%05d|%+d|%X|%o|%b|%c|%U" "ab" "ab" 42 42 255 8 5 65 65}}', "   ab|ab   |00042|+42|FF|10|101|A|U+0041"],
    ['{{printf "%e|%f|%.2f|%g|%G" 1.5 1.5 3.14159 1e7 1e-10}}', "1.500000e+00|1.500000|3.14|1e+07|1E-10"],
    ['{{printf "%.0f %.0f %.0f %.2f" 0.5 1.5 2.5 2.675}}', "0 2 2 2.67"], // round half to even on the exact binary value
    ['{{printf "%08.3f|%-8d|%+05d|% d" -3.14159 7 42 5}}', "-003.142|7       |+0042| 5"],
    ['{{printf "%T %T %T %T %T" 1 1.5 "s" true nil}}', "int float64 string bool <nil>"],
    ['{{printf "%[2]s %[1]s" "a" "b"}}', "b a"],
    ['{{printf "%*d|%.*f" 5 1 2 3.14159}}', "    1|3.14"],
    ['{{printf "%d" "s"}}', "%!d(string=s)"],
    ['{{printf "%s"}}', "%!s(MISSING)"],
    ['{{printf "%s" 1 2}}', "%!s(int=1)%!(EXTRA int=2)"],
    ['{{printf "%s %d" nil nil}}', "%!s(<nil>) %!d(<nil>)"],
    ['{{printf "%!"}}|{{printf "%"}}|{{printf "%z" 1}}', "%!!(MISSING)|%!(NOVERB)|%!z(int=1)"],
    ['{{printf "%q|%+q|%#q" "a\\"b\\n" "héllo" "hi"}}', '"a\\"b\\n"|"h\\u00e9llo"|`hi`'],
    ['{{printf "%x|% x|%#x" "hi" "hi" "hi"}}', "6869|68 69|0x6869"],
    ['{{printf "%.2s|%5.1s|" "日本語" "日本語"}}', "日本|    日|"],
    ['{{printf "%v|%d" .Map .List}}', "map[a:1 b:2 c:3]|[%!d(string=a) %!d(string=b) %!d(string=c)]"],
    ['{{printf "%v" .Mixed}}', "[1 two <nil> 2.5 true]"],
    ['{{printf "%x|%b" 1.5 1.5}}', "0x1.8p+00|6755399441055744p-52"],
  ];
  it.each(cases)("%j", (tpl, want) => {
    expect(render(tpl, withData)).toBe(want);
  });
});

describe("engine - dot data", () => {
  const cases: [string, string][] = [
    ["{{.Path}} {{.Vars}} {{.Port}} {{.Float}} {{.Flag}}", "/tmp/script.sh A=1 B=2 8080 1.5 true"],
    ["{{.Missing}} {{.Missing.Deeper}} {{.Null}}", "<no value> <no value> <no value>"],
    ["{{.Nested.A.B}} {{$.Nested.A.B}} {{with .Nested.A}}{{.B}}{{end}}", "deep deep deep"],
    ["{{.List}} {{.Map}} {{.Empty}} {{.EmptyMap}}", "[a b c] map[a:1 b:2 c:3] [] map[]"],
    ["{{range .List}}<{{.}}>{{end}}", "<a><b><c>"],
    ["{{range $i, $e := .List}}{{$i}}={{$e}};{{end}}", "0=a;1=b;2=c;"],
    ["{{range $e := .List}}{{$e}}{{end}}", "abc"],
    ["{{range $k, $v := .Map}}{{$k}}={{$v}};{{end}}", "a=1;b=2;c=3;"], // maps iterate in key order
    ["{{range .Empty}}x{{else}}empty{{end}} {{range .Missing}}x{{else}}none{{end}}", "empty none"],
    ["{{range .List}}{{if eq . `b`}}{{break}}{{end}}{{.}}{{end}}", "a"],
    ["{{range .List}}{{if eq . `b`}}{{continue}}{{end}}{{.}}{{end}}", "ac"],
    ["{{range .Mixed}}[{{.}}]{{end}}", "[1][two][<no value>][2.5][true]"],
    ["{{len .List}} {{len .Map}} {{index .List 1}} {{index .Map `b`}} {{index .Map `zz`}} {{index .Nested `A` `B`}}", "3 3 b 2 <no value> deep"],
    ["{{slice .List 1}} {{slice .List 0 1}}", "[b c] [a]"],
    ["{{eq .Port 8080}} {{lt .Float 2.0}} {{eq .Path `/tmp/script.sh`}} {{eq .Missing `x`}}", "true true true false"],
    ["{{if .Flag}}yes{{end}}{{if .Missing}}no{{end}}{{if .Empty}}no{{end}}", "yes"],
    ["{{.Path | upper}} {{upper .Vars}}", "/TMP/SCRIPT.SH A=1 B=2"],
    ["{{$p := .Path}}{{range .List}}{{$p}}{{end}}", "/tmp/script.sh/tmp/script.sh/tmp/script.sh"],
    ['{{define "d"}}{{.B}}{{end}}{{template "d" .Nested.A}}', "deep"],
  ];
  it.each(cases)("%j", (tpl, want) => {
    expect(render(tpl, withData)).toBe(want);
  });

  it("renders .Field as <no value> without any data", () => {
    expect(render("{{.Path}}|{{.}}|{{print .}}", ctx)).toBe("<no value>|<no value>|<nil>");
  });
});

describe("engine - Packer functions", () => {
  const cases: [string, string][] = [
    ["{{user `a`}} {{user `region`}}|{{user `empty`}}|{{user `undefined`}}|", "A us-east-1|||"],
    ["{{timestamp}}", String(Math.floor(REF_MS / 1000))],
    ["{{uuid}}", "0a1b2c3d-0000-4000-8000-000000000001"],
    ["{{isotime}}", "2006-01-02T15:04:05Z"],
    ['{{isotime "2006-01-02"}}', "2006-01-02"],
    ['{{strftime "%Y-%m-%d %H:%M:%S"}}', "2006-01-02 15:04:05"],
    ["{{build_name}} {{build_type}} {{template_dir}} {{pwd}} {{packer_version}}", "web docker /srv/tpl /work 1.6.6"],
    ['{{split "a,b,c" "," 1}} {{split (user `list`) "," 2}} {{split "héllo" "" 1}}', "b z é"],
    ['{{replace "a" "b" 1 "aaa"}} {{replace "a" "b" -1 "aaa"}} {{replace "" "-" 2 "ab"}}', "baa bbb -a-b"],
    ['{{replace_all "a" "b" "aaa"}} {{replace_all "" "-" "日本"}}', "bbb -日-本-"],
    ['{{upper "straße àb"}} {{lower "ÀB İ"}}', "STRAßE ÀB àb i"], // Go maps case per rune: ß stays ß
    ['{{"a,b" | upper}} {{1 | split "a,b" ","}}', "A,B b"],
  ];
  it.each(cases)("%j", (tpl, want) => {
    expect(render(tpl, ctx)).toBe(want);
  });

  it("env works only while ctx.env is set", () => {
    expect(render("{{env `HOME`}}|{{env `NOPE`}}", { ...ctx, env: { HOME: "/root" } })).toBe("/root|");
    expect(err(() => render("{{env `HOME`}}", ctx)).message).toBe(
      'template: root:1:2: executing "root" at <env `HOME`>: error calling env: env vars are not allowed here',
    );
  });

  it("user fails on an unknown name only while resolving variables, or when strict", () => {
    expect(err(() => render("{{user `nope`}}", { ...ctx, env: {} })).message).toBe(
      'template: root:1:2: executing "root" at <user `nope`>: error calling user: Error: variable not set: nope',
    );
    expect(err(() => render("{{user `nope`}}", { ...ctx, strictUserVariables: true })).message).toContain(
      "Error: variable not set: nope",
    );
  });

  it("build follows the SDK: error without data, placeholder on the first pass, value later", () => {
    expect(err(() => render("{{build `ID`}}", ctx)).message).toBe(
      'template: root:1:2: executing "root" at <build `ID`>: error calling build: Error validating build variable: the given variable ID will not be passed into your plugin.',
    );
    const first = { ...ctx, buildValues: basicPlaceholderData() };
    expect(render("ssh {{build `User`}}@{{build `Host`}}", first)).toBe("ssh {{.User}}@{{.Host}}");
    expect(first.buildValues.ID).toContain(BUILD_PLACEHOLDER_MSG);
    expect(render("{{build `ID`}}", { ...ctx, buildValues: { ID: "i-123" } })).toBe("i-123");
    expect(err(() => render("{{build `Foo`}}", { ...ctx, buildValues: { ID: "i-123" } })).message).toContain(
      "error calling build: loaded data, but couldnt find Foo in it.",
    );
  });

  it("consul_key, vault and aws_secretsmanager: not allowed outside variables, unsupported inside", () => {
    expect(err(() => render("{{consul_key `k`}}", ctx)).message).toContain("consul_key is not allowed here");
    expect(err(() => render("{{vault `p` `k`}}", ctx)).message).toContain(
      "Vault vars are only allowed in the variables section",
    );
    expect(err(() => render("{{aws_secretsmanager `s`}}", ctx)).message).toContain(
      "AWS Secrets Manager is only allowed in the variables section",
    );
    const inVariables = { ...ctx, env: {} };
    for (const tpl of ["{{consul_key `k`}}", "{{vault `p` `k`}}", "{{aws_secretsmanager `s`}}"]) {
      const e = err(() => render(tpl, inVariables));
      expect(e.message).toContain("kiln does not reach");
      expect(hasErrorCode(e, ErrorCode.Unsupported)).toBe(true);
    }
    expect(err(() => render("{{aws_secretsmanager}}", inVariables)).message).toContain("secret name must be provided");
  });

  it("sed is deprecated, as in Packer", () => {
    expect(err(() => render("{{sed `s/a/b/` `a`}}", ctx)).message).toContain(
      "error calling sed: template function `sed` is deprecated use `replace` or `replace_all` instead.",
    );
  });

  it("build_name / build_type / template_dir fail when the context has none", () => {
    const bare: EngineContext = { userVariables: {}, packerVersion: "1.6.6", statics: ctx.statics };
    expect(err(() => render("{{build_name}}", bare)).message).toContain("error calling build_name: build_name not available");
    expect(err(() => render("{{build_type}}", bare)).message).toContain("error calling build_type: build_type not available");
    expect(err(() => render("{{template_dir}}", bare)).message).toContain(
      "error calling template_dir: template path not available",
    );
  });

  it("plugin functions from ctx.funcs are callable and checked at parse time", () => {
    const withFuncs: EngineContext = {
      ...ctx,
      funcs: {
        clean_resource_name: (s: unknown) => String(s).replace(/[^a-z0-9-]/gi, "-").toLowerCase(),
        fail: () => {
          throw new Error("boom");
        },
      },
    };
    expect(render("{{clean_resource_name `My Image_1`}}", withFuncs)).toBe("my-image-1");
    expect(render("{{`A B` | clean_resource_name}}", withFuncs)).toBe("a-b");
    expect(err(() => render("{{fail}}", withFuncs)).message).toBe(
      'template: root:1:2: executing "root" at <fail>: error calling fail: boom',
    );
    expect(err(() => render("{{clean_resource_name `x`}}", ctx)).message).toBe(
      'template: root:1: function "clean_resource_name" not defined',
    );
  });
});

describe("engine - isotime and strftime", () => {
  // Layouts are Go reference-time strings; formatting the reference time itself must reproduce them (in UTC).
  const layouts: [string, string][] = [
    ["2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z"],
    ["Mon Jan _2 15:04:05 MST 2006", "Mon Jan  2 15:04:05 UTC 2006"],
    ["Monday, 02-Jan-06 15:04:05 MST", "Monday, 02-Jan-06 15:04:05 UTC"],
    ["January 2, 2006 3:04:05 PM", "January 2, 2006 3:04:05 PM"],
    ["1/2 03:4:5 pm", "1/2 03:4:5 pm"],
    ["-0700 -07:00 -07 Z0700 Z07:00 Z07 -070000 -07:00:00", "+0000 +00:00 +00 Z Z Z +000000 +00:00:00"],
    ["15:04:05.000 .999 ,000 .0 .000000", "15:04:05.123 .123 ,123 .1 .123000"],
    ["002 __2 _2006", "002   2 _2006"],
    ["Janx Monx", "Janx Monx"], // a lower-case letter after Jan/Mon makes them literal
    ["20060102150405", "20060102150405"],
  ];
  it.each(layouts)("isotime %j", (layout, want) => {
    expect(render(`{{isotime \`${layout}\`}}`, ctx)).toBe(want);
  });

  const at = (iso: string, layout: string): string =>
    render(`{{isotime \`${layout}\`}}`, { ...ctx, statics: { ...ctx.statics, initTimeMs: Date.parse(iso) } });

  it("formats other instants", () => {
    expect(at("2024-02-29T00:07:09.5Z", "Mon Monday Jan January 2 02 _2 002 __2 3 03 15 PM pm 4 04 5 05 .9 .000")).toBe(
      "Thu Thursday Feb February 29 29 29 060  60 12 12 00 AM am 7 07 9 09 .5 .500",
    );
    expect(at("1999-12-31T23:59:59.999Z", "2006 06 1 01 002 3PM .999999")).toBe("1999 99 12 12 365 11PM .999");
    expect(at("2023-12-31T12:00:00Z", "002 3 PM .999")).toBe("365 12 PM ");
    expect(at("0042-03-04T05:06:07Z", "2006-01-02 06")).toBe("0042-03-04 42");
  });

  it("isotime takes at most one layout", () => {
    expect(err(() => render("{{isotime `2006` `x`}}", ctx)).message).toContain(
      "error calling isotime: too many values, 1 needed: [2006 x]",
    );
  });

  it("strftime supports Packer's directives and copies the rest literally", () => {
    expect(render('{{strftime "%a %A %b %B %d %H %I %M %S %y %Y %p %Z %z %L %m %%"}}', ctx)).toBe(
      "Mon Monday Jan January 02 15 03 04 05 06 2006 PM UTC +0000 .123 01 %",
    );
    // Packer 1.6.6's go-strftime does not know these; they print as written.
    expect(render('{{strftime "%j %e %s %c %D %T %Q"}}', ctx)).toBe("%j %e %s %c %D %T %Q");
    expect(render('{{strftime "100%"}}|{{strftime "%%%"}}|{{strftime "a%"}}', ctx)).toBe("100%|%%|a%");
  });
});

describe("engine - errors", () => {
  const cases: [string, string][] = [
    ["{{foo}}", 'template: root:1: function "foo" not defined'],
    ["{{ } }}", 'template: root:1: unexpected "}" in command'],
    ["{{ 1 }", 'template: root:1: unexpected "}" in operand'],
    ["{{", "template: root:1: unclosed action"],
    ["a\n\n{{if 1}}x", "template: root:3: unexpected EOF"],
    ["{{end}}", "template: root:1: unexpected {{end}}"],
    ["{{if}}{{end}}", "template: root:1: missing value for if"],
    ["{{$x}}", 'template: root:1: undefined variable "$x"'],
    ['{{"abc}}', "template: root:1: unterminated quoted string"],
    ["{{print (1}}", "template: root:1: unclosed left paren"],
    ["{{1 | 2}}", "template: root:1: non executable command in pipeline stage 2"],
    ["{{break}}", "template: root:1: {{break}} outside {{range}}"],
    ["{{if 0}}{{else with 1}}{{end}}", "template: root:1: unexpected <with> in else"],
    ['{{define "a"}}x{{end}}{{define "a"}}y{{end}}', 'template: root:1: template: multiple definition of template "a"'],
    ["{{'ab'}}", "template: root:1: malformed character constant: 'ab'"],
    ['{{"\\z"}}', "template: root:1: invalid syntax"],
    ["{{end}", "template: root:1: bad character U+007D '}'"],
    ["{{1 2}}", 'template: root:1:2: executing "root" at <1>: can\'t give argument to non-function 1'],
    ["x\n  {{env `X`}}", 'template: root:2:4: executing "root" at <env `X`>: error calling env: env vars are not allowed here'],
    ["é {{env `X`}}", 'template: root:1:5: executing "root" at <env `X`>: error calling env: env vars are not allowed here'],
    ["{{user}}", 'template: root:1:2: executing "root" at <user>: wrong number of args for user: want 1 got 0'],
    ["{{upper 1}}", 'template: root:1:8: executing "root" at <1>: expected string; found 1'],
    ['{{split "a" "," "0"}}', 'template: root:1:16: executing "root" at <"0">: expected integer; found "0"'],
    ['{{split "a,b" "," 5}}', 'template: root:1:2: executing "root" at <split "a,b" "," 5>: error calling split: the substring 5 was unavailable using the separator value, ,, only 2 values were found'],
    ["{{$x := 1}}{{upper $x}}", 'template: root:1:19: executing "root" at <$x>: wrong type for value; expected string; got int'],
    ["{{upper .X}}", 'template: root:1:8: executing "root" at <.X>: invalid value; expected string'],
    ["{{eq 1 1.0}}", 'template: root:1:2: executing "root" at <eq 1 1.0>: error calling eq: incompatible types for comparison'],
    ["{{lt true false}}", 'template: root:1:2: executing "root" at <lt true false>: error calling lt: invalid type for comparison'],
    ["{{len 3}}", 'template: root:1:2: executing "root" at <len 3>: error calling len: len of type int'],
    ['{{index "ab" 5}}', 'template: root:1:2: executing "root" at <index "ab" 5>: error calling index: index out of range: 5'],
    ["{{range 3}}{{end}}", 'template: root:1:8: executing "root" at <3>: range can\'t iterate over 3'],
    ["{{nil}}", 'template: root:1:2: executing "root" at <nil>: nil is not a command'],
    ['{{template "nope"}}', 'template: root:1:11: executing "root" at <{{template "nope"}}>: template "nope" not defined'],
    ['{{define "a"}}{{env `X`}}{{end}}{{template "a"}}', 'template: root:1:16: executing "a" at <env `X`>: error calling env: env vars are not allowed here'],
    ["{{9223372036854775808}}", 'template: root:1:2: executing "root" at <9223372036854775808>: 9223372036854775808 overflows int'],
  ];
  it.each(cases)("%j", (tpl, want) => {
    const e = err(() => render(tpl, ctx));
    expect(e.message).toBe(want);
    expect(e).toMatchObject({ code: ErrorCode.InvalidTemplate, name: "TemplateEngineError" });
  });

  it("data errors name the Go types", () => {
    expect(err(() => render("{{.Path.X}}", withData)).message).toBe(
      // Go gives a folded field chain the position of its second field.
      'template: root:1:7: executing "root" at <.Path.X>: can\'t evaluate field X in type interface {}',
    );
    expect(err(() => render("{{.Port 1}}", withData)).message).toBe(
      'template: root:1:2: executing "root" at <.Port>: Port is not a method but has arguments',
    );
    expect(err(() => render("{{range .List}}{{.X}}{{end}}", withData)).message).toContain(
      "can't evaluate field X in type interface {}",
    );
    expect(err(() => render("{{upper .Null}}", withData)).message).toContain(
      "wrong type for value; expected string; got interface {}",
    );
    // A JSON null is a nil interface{}: len tells it from a missing key, the other builtins see no value.
    expect(err(() => render("{{len .Null}}", withData)).message).toContain("error calling len: len of nil pointer");
    expect(err(() => render("{{len .Missing}}", withData)).message).toContain(
      "error calling len: reflect: call of reflect.Value.Type on zero Value",
    );
    expect(render("{{eq .Null .Missing}} {{not .Null}} {{index .Mixed 2}} {{.Null | print}} {{print .Null}}", withData)).toBe(
      "true true <no value> <nil> <nil>",
    );
  });

  it("stops runaway template recursion", () => {
    const e = err(() => render('{{define "a"}}{{template "a"}}{{end}}{{template "a"}}', ctx));
    expect(e.message).toContain(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`);
  });

  it("tells parse errors from execution errors", () => {
    expect(err(() => render("{{foo}}", ctx)).phase).toBe("parse");
    expect(err(() => render("{{env `X`}}", ctx)).phase).toBe("exec");
  });
});

describe("engine - parseTemplateText / hasTemplateSyntax", () => {
  it("checks syntax without executing", () => {
    expect(() => parseTemplateText("{{env `X`}} {{user `y`}} {{build `ID`}}")).not.toThrow();
    expect(() => parseTemplateText("no actions")).not.toThrow();
    expect(err(() => parseTemplateText("{{if 1}}")).message).toBe("template: root:1: unexpected EOF");
    expect(err(() => parseTemplateText("{{clean_resource_name `x`}}")).message).toContain("not defined");
    expect(() => parseTemplateText("{{clean_resource_name `x`}}", { funcNames: ["clean_resource_name"] })).not.toThrow();
  });

  it("detects actions cheaply", () => {
    expect(hasTemplateSyntax("a {{b}}")).toBe(true);
    expect(hasTemplateSyntax("a { {b} }")).toBe(false);
  });
});

describe("engine - interpolateValue", () => {
  it("renders every string of a JSON value and leaves skipped keys raw", () => {
    const config = {
      type: "shell",
      inline: ["echo {{user `a`}}", "echo {{build_name}}"],
      execute_command: "{{.Vars}} sudo {{.Path}}",
      nested: { list: [{ v: "{{upper `x`}}", execute_command: "{{.Raw}}" }], n: 3, b: true, z: null },
    };
    const out = interpolateValue(config, ctx, { skipKeys: new Set(["execute_command"]) });
    expect(out).toEqual({
      type: "shell",
      inline: ["echo A", "echo web"],
      execute_command: "{{.Vars}} sudo {{.Path}}",
      nested: { list: [{ v: "X", execute_command: "{{.Raw}}" }], n: 3, b: true, z: null },
    });
    expect(config.inline[0]).toBe("echo {{user `a`}}"); // input untouched
  });

  it("renders object keys too, as Packer's decode hook does for maps", () => {
    expect(interpolateValue({ tags: { "{{user `a`}}-key": "{{upper `v`}}", plain: 1 } }, ctx)).toEqual({
      tags: { "A-key": "V", plain: 1 },
    });
  });

  it("says where a failing string is", () => {
    const e = err(() => interpolateValue({ provisioners: [{ inline: ["ok", "{{env `X`}}"] }] }, ctx));
    expect(e.path).toBe("provisioners[0].inline[1]");
    expect(e.message).toContain("env vars are not allowed here");
  });
});

// --- property test ---------------------------------------------------------------------------------------------

const mulberry32 = seededRandom;

const ATOMS = [
  "{{", "}}", "{{- ", " -}}", "{{/*", "*/}}", "if", "else", "end", "range", "with", "define", "template", "block",
  "break", "continue", "$", "$x", "$i", ":=", "=", "|", "(", ")", ".", ".Path", ".List", ".Map", ".Nested.A.B",
  ".Missing", '"s"', '"%d %s %v %q %x %5.2f"', "`raw`", "'c'", "'\\n'", "1", "-2", "3.5", "0x1f", "1e3", "1i", "nil",
  "true", "print", "printf", "println", "len", "index", "slice", "eq", "ne", "lt", "and", "or", "not", "html", "js",
  "urlquery", "call", "upper", "lower", "split", "replace", "replace_all", "user", "env", "isotime", "strftime",
  "timestamp", "uuid", "build", "build_name", "sed", '"a"', '","', "0", "2", " ", " ", "\n", "\t", "x", "é", "😀",
  "{", "}", "-", "\\", '"', "`", "'", ",",
];

function randomTemplate(rnd: () => number): string {
  const n = 1 + Math.floor(rnd() * 14);
  let s = "";
  for (let i = 0; i < n; i++) s += ATOMS[Math.floor(rnd() * ATOMS.length)] ?? "";
  return s;
}

const MUTATION_CHARS = "{}$.|()\"`'-/* \n\t\\é😀0a:=,x";

function mutate(rnd: () => number, s: string): string {
  const chars = Array.from(s);
  const edits = 1 + Math.floor(rnd() * 3);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rnd() * (chars.length + 1));
    const c = Array.from(MUTATION_CHARS)[Math.floor(rnd() * Array.from(MUTATION_CHARS).length)] ?? "x";
    const op = rnd();
    if (op < 0.4) chars.splice(at, 0, c);
    else if (op < 0.7) chars.splice(at, 1);
    else chars.splice(at, 1, c);
  }
  return chars.join("");
}

const SEEDS = [
  '{{if eq .Port 8080}}{{range $i, $e := .List}}{{$i}}{{$e | upper}}{{end}}{{else}}{{printf "%d" 1}}{{end}}',
  '{{define "t"}}{{.}}{{end}}{{template "t" .Path}}{{with .Nested}}{{.A.B}}{{end}}',
  "{{- $x := split (user `list`) `,` 1 -}} {{ $x }} {{ replace `a` `b` -1 $x }}",
  '{{ isotime "2006-01-02" }} {{ strftime "%Y" }} {{ timestamp }} {{ uuid }} {{ build_name }}',
  "{{ and .Flag (or .Missing 1) | not }} {{ index .Map `a` }} {{ slice .List 1 2 }} {{ len .Map }}",
  '{{/* c */}}{{ printf "%v %q %x" .Mixed "s" 255 }}{{ html "<" }}{{ js "\'" }}{{ urlquery "a b" }}',
];

describe("engine - property: never throws anything but TemplateEngineError, never hangs", () => {
  it("survives thousands of random and mutated templates", () => {
    const rnd = mulberry32(0x6b696c6e);
    const envCtx: EngineContext = { ...withData, env: { X: "x" } };
    const failures: string[] = [];
    let slowest = 0;
    const started = performance.now();
    const N = 6000;
    for (let i = 0; i < N; i++) {
      const base = SEEDS[i % SEEDS.length] ?? "";
      const tpl = i % 3 === 0 ? randomTemplate(rnd) : mutate(rnd, i % 2 === 0 ? base : randomTemplate(rnd) + base);
      const c = i % 5 === 0 ? envCtx : withData;
      const t0 = performance.now();
      try {
        const out = render(tpl, c);
        if (typeof out !== "string") failures.push(`non-string result for ${JSON.stringify(tpl)}`);
        // Rendering is a pure function of text and context.
        if (render(tpl, c) !== out) failures.push(`nondeterministic: ${JSON.stringify(tpl)}`);
      } catch (e) {
        if (!(e instanceof TemplateEngineError)) failures.push(`${JSON.stringify(tpl)} threw ${String(e)}`);
        else if (!e.message.startsWith("template: ") || e.message.includes("internal error")) {
          failures.push(`${JSON.stringify(tpl)}: ${e.message}`);
        }
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }
    expect(failures.slice(0, 10)).toEqual([]);
    expect(slowest).toBeLessThan(500);
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});
