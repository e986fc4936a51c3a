/**
 * Differential test against the corpus oracle (Packer 1.6.6 run on 121 real and fixture templates, see
 * ../shared/corpus/README.md): `validate -syntax-only` and `inspect` must print exactly what Packer printed, with the
 * same exit code; full `validate` must reach the same result class wherever kiln runs the plugin types involved.
 * Every accepted difference is listed, with its reason, in corpus-known-differences.md.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { formatValidateOutput, inspectTemplateText, validateSyntaxOnly, validateTemplate, type VarFileInput } from "../src/template/mod.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const corpusDir = path.resolve(repoRoot, process.env["KILN_CORPUS"] ?? "../shared/corpus");
const haveCorpus = existsSync(path.join(corpusDir, "ORACLE.tsv"));
const knownDifferencesFile = path.join(path.dirname(fileURLToPath(import.meta.url)), "corpus-known-differences.md");

/** A row of the "result class differs" table of corpus-known-differences.md. */
interface KnownDifference {
  readonly packer: string;
  readonly kiln: string;
  readonly unsupported: string;
}

function readKnownDifferences(): Map<string, KnownDifference> {
  const out = new Map<string, KnownDifference>();
  for (const line of readFileSync(knownDifferencesFile, "utf8").split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    // | template | packer | kiln | types |
    if (cells.length !== 6 || !(cells[1] ?? "").endsWith(".json")) continue;
    out.set(`templates/${cells[1] ?? ""}`, { packer: cells[2] ?? "", kiln: cells[3] ?? "", unsupported: cells[4] ?? "" });
  }
  return out;
}

/** A class list as ORACLE.tsv writes it: sorted, joined by "+", "ok" when empty. */
function classLabel(classes: readonly string[]): string {
  return classes.length === 0 ? "ok" : [...classes].sort().join("+");
}

/** One ORACLE.tsv row. */
interface OracleRow {
  readonly localPath: string;
  readonly slug: string;
  readonly category: string;
  readonly syntaxRc: number;
  readonly inspectRc: number;
  readonly validateRc: number;
  readonly validateClass: string;
  readonly varFiles: number;
  readonly nondet: string;
}

function readOracle(dir: string): OracleRow[] {
  const [header, ...lines] = readFileSync(path.join(dir, "ORACLE.tsv"), "utf8").trimEnd().split("\n");
  const cols = (header ?? "").split("\t");
  const col = (name: string): number => cols.indexOf(name);
  return lines.map((line) => {
    const f = line.split("\t");
    const get = (name: string): string => f[col(name)] ?? "";
    return {
      localPath: get("local_path"),
      slug: get("slug"),
      category: get("category"),
      syntaxRc: Number(get("syntax_rc")),
      inspectRc: Number(get("inspect_rc")),
      validateRc: Number(get("validate_rc")),
      validateClass: get("validate_class"),
      varFiles: Number(get("var_files")),
      nondet: get("nondet"),
    };
  });
}

/** The template path as the oracle passed it (relative to its cwd, `<corpus>/cwd`). */
function oraclePath(row: OracleRow): string {
  return `../${row.localPath}`;
}

/**
 * Splits inspect output around the "Required variables:" block, which Packer prints in Go map order (random per
 * run; the `.nondet` files show three different orders in three runs). The block is compared as a set, everything
 * else exactly.
 */
function splitRequiredBlock(out: string): { before: string; required: string[]; after: string } {
  const start = out.indexOf("Required variables:\n\n");
  if (start < 0) return { before: out, required: [], after: "" };
  const bodyStart = start + "Required variables:\n\n".length;
  const end = out.indexOf("\n\n", bodyStart);
  return { before: out.slice(0, bodyStart), required: out.slice(bodyStart, end).split("\n"), after: out.slice(end) };
}

describe("corpus - Packer 1.6.6 oracle", () => {
  // Every developer and CI run has the corpus at ../shared (or KILN_CORPUS): a missing one is an error, not a skip.
  it(`finds the corpus at ${corpusDir}`, () => {
    expect(haveCorpus, `no ORACLE.tsv under ${corpusDir}; set KILN_CORPUS to the corpus folder`).toBe(true);
  });
  const rows = haveCorpus ? readOracle(corpusDir) : [];
  const read = (row: OracleRow, suffix: string): string => readFileSync(path.join(corpusDir, row.localPath + suffix), "utf8");

  it("has the 121 templates the README describes", () => {
    expect(rows).toHaveLength(121);
  });

  describe("validate -syntax-only: same output and exit code", () => {
    for (const row of rows) {
      it(row.localPath, () => {
        const text = readFileSync(path.join(corpusDir, row.localPath));
        const got = formatValidateOutput(validateSyntaxOnly(text, oraclePath(row)));
        expect(got.stdout).toBe(read(row, ".validate-syntax.out"));
        expect(got.exitCode).toBe(Number(read(row, ".validate-syntax.rc").trim()));
      });
    }
  });

  describe("inspect: same output and exit code", () => {
    for (const row of rows) {
      it(row.localPath, () => {
        const text = readFileSync(path.join(corpusDir, row.localPath));
        const got = inspectTemplateText(text, oraclePath(row));
        const expected = read(row, ".inspect.out");
        expect(got.exitCode).toBe(Number(read(row, ".inspect.rc").trim()));
        const nondetFile = path.join(corpusDir, `${row.localPath}.inspect.nondet`);
        if (!existsSync(nondetFile)) {
          expect(row.nondet).not.toContain("inspect");
          expect(got.stdout).toBe(expected);
          return;
        }
        // Documented nondeterminism: only the order of the required variables may differ.
        expect(row.nondet).toContain("inspect");
        expect(readFileSync(nondetFile, "utf8")).toContain("Required variables:");
        const g = splitRequiredBlock(got.stdout);
        const e = splitRequiredBlock(expected);
        expect(g.before).toBe(e.before);
        expect(g.after).toBe(e.after);
        expect([...g.required].sort()).toEqual([...e.required].sort());
        expect(g.required.length).toBeGreaterThan(1);
      });
    }
  });

  describe("validate: same result class wherever kiln runs the plugin types (differences listed and explained)", () => {
    const known = haveCorpus ? readKnownDifferences() : new Map<string, KnownDifference>();
    for (const row of rows) {
      it(row.localPath, () => {
        const file = path.join(corpusDir, row.localPath);
        // The oracle's exact argv: var files are given relative to its cwd.
        const args = read(row, ".validate.args").trim().split(/\s+/);
        const varFiles: VarFileInput[] = args
          .filter((a) => a.startsWith("-var-file="))
          .map((a) => a.slice("-var-file=".length))
          .map((p) => ({ path: p, text: readFileSync(path.resolve(corpusDir, "cwd", p)) }));
        expect(varFiles).toHaveLength(row.varFiles);
        const report = validateTemplate(readFileSync(file), oraclePath(row), {
          varFiles,
          env: {},
          // `{{template_dir}}` is absolute; the oracle's outputs write the corpus folder as `<corpus>`.
          templateDir: path.dirname(`<corpus>/${row.localPath}`),
          pwd: path.join(corpusDir, "cwd"),
        });
        const kiln = classLabel(report.classes);
        const difference = known.get(row.localPath);
        if (report.classes.includes("unsupported")) {
          expect(difference, `${row.localPath} differs (${row.validateClass} vs ${kiln}): list it in corpus-known-differences.md`).toBeDefined();
          expect(difference?.packer).toBe(row.validateClass);
          expect(difference?.kiln).toBe(kiln);
          const types = [...new Set(report.problems.filter((p) => p.class === "unsupported").map((p) => /kiln does not run (\S+) type "([^"]+)"/.exec(p.message)?.slice(1, 3).join(" ") ?? "HCL2 template"))].sort();
          expect(difference?.unsupported).toBe(types.join(", "));
          return;
        }
        if (difference !== undefined && difference.unsupported === "—") {
          // Packer 1.6.6 stats local files (floppy_dirs, playbook_file) and runs tools (ansible-playbook --version)
          // where it validates; kiln leaves those to the agent that runs the job. Such a row may differ only by them.
          expect(difference.packer).toBe(row.validateClass);
          expect(difference.kiln).toBe(kiln);
          const packerOnly = row.validateClass.split("+").filter((c) => !report.classes.includes(c as (typeof report.classes)[number]));
          expect(packerOnly.length).toBeGreaterThan(0);
          for (const c of packerOnly) expect(["missing-file", "host-tool"]).toContain(c);
          for (const c of report.classes) expect(row.validateClass.split("+")).toContain(c);
          return;
        }
        expect(difference, `${row.localPath} is listed as a known difference but matches`).toBeUndefined();
        expect(kiln).toBe(row.validateClass.split("+").sort().join("+"));
        expect(report.valid).toBe(row.validateRc === 0);
        // Where the verdict agrees, so does the text.
        const out = formatValidateOutput(report);
        expect(out.stdout).toBe(read(row, ".validate.out"));
        expect(out.exitCode).toBe(row.validateRc);
      });
    }

    it("lists no template that is not in the corpus", () => {
      for (const listed of known.keys()) expect(rows.map((r) => r.localPath)).toContain(listed);
    });
  });
});
