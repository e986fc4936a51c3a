/**
 * `kiln validate` and `kiln inspect`: Packer 1.6.6's commands, with its text and exit codes. They run locally (no
 * farm needed): what they check is the template and the user's own inputs.
 */
import { readFile } from "node:fs/promises";
import { InvalidArgumentError, formatValidateOutput, inspectTemplateText, parseTemplate, validateSyntaxOnly, validateTemplate } from "../../../core/src/mod.js";
import type { TemplateProblem, VarFileInput } from "../../../core/src/mod.js";
import { flagBool, flagCsv, flagList, parseArgs } from "../args.js";
import type { CliIo } from "../farm_access.js";
import { parseVarFlag } from "../template_inputs.js";

async function readTemplate(command: string, file: string | undefined): Promise<Uint8Array> {
  if (!file) throw new InvalidArgumentError(`kiln ${command}: expected a template file: kiln ${command} [options] TEMPLATE`);
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InvalidArgumentError(`kiln ${command}: cannot read template ${file}: ${code === "ENOENT" ? "no such file" : String(err)}`, { cause: err });
  }
}

async function readVarFileInputs(paths: readonly string[]): Promise<VarFileInput[]> {
  const out: VarFileInput[] = [];
  for (const p of paths) {
    try {
      out.push({ path: p, text: await readFile(p) });
    } catch (err) {
      throw new InvalidArgumentError(`cannot read -var-file ${p}: no such file. Fix the path given to -var-file.`, { cause: err });
    }
  }
  return out;
}

export async function validateCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("validate", argv, {
    "syntax-only": { kind: "bool", help: "Only check syntax. Do not verify config of the template." },
    var: { kind: "list", help: "Variable for templates, can be used multiple times." },
    "var-file": { kind: "list", help: "JSON file containing user variables." },
    only: { kind: "list", help: "Validate only these builds." },
    except: { kind: "list", help: "Validate all builds other than these." },
    "machine-readable": { kind: "bool", help: "Produce machine-readable output." },
    json: { kind: "bool", help: "Print the verdict as JSON: {valid, problems, warnings} with file, path, line, column." },
  });
  const file = args.positional[0];
  const text = await readTemplate("validate", file);
  const varFiles = await readVarFileInputs(flagList(args, "var-file"));
  const machineReadable = flagBool(args, "machine-readable");
  const report = flagBool(args, "syntax-only")
    ? validateSyntaxOnly(text, file ?? "", { varFiles })
    : validateTemplate(text, file ?? "", {
        varFiles,
        vars: Object.fromEntries(flagList(args, "var").map(parseVarFlag)),
        env: process.env,
        only: flagCsv(args, "only"),
        except: flagCsv(args, "except"),
      });
  if (flagBool(args, "json")) {
    const problem = (p: TemplateProblem): object => ({ class: p.class, message: p.message, ...(p.location ? { location: p.location } : {}) });
    io.stdout(`${JSON.stringify({ valid: report.valid, classes: report.classes, problems: report.problems.map(problem), warnings: report.warnings.map(problem) }, null, 2)}\n`);
    return report.valid ? 0 : 1;
  }
  const out = formatValidateOutput(report, { machineReadable });
  io.stdout(out.stdout);
  return out.exitCode;
}

export async function inspectCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("inspect", argv, {
    "machine-readable": { kind: "bool", help: "Produce machine-readable output." },
    "var-file": { kind: "list", help: "JSON file containing user variables." },
    json: { kind: "bool", help: "Print the template's components as JSON." },
  });
  const file = args.positional[0];
  const text = await readTemplate("inspect", file);
  if (flagBool(args, "json")) {
    const t = parseTemplate(text, file ?? "");
    io.stdout(
      `${JSON.stringify(
        {
          description: t.description,
          variables: t.variables.map((v) => ({ name: v.name, required: v.required, sensitive: v.sensitive, default: v.sensitive ? "<sensitive>" : v.default })),
          builders: t.builders.map((b) => ({ name: b.name, type: b.type })),
          provisioners: t.provisioners.map((p) => ({ type: p.type, only: p.only, except: p.except })),
          post_processors: t.postProcessors.map((chain) => chain.map((pp) => ({ type: pp.type, name: pp.name }))),
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  const out = inspectTemplateText(text, file ?? "", {
    machineReadable: flagBool(args, "machine-readable"),
    varFiles: await readVarFileInputs(flagList(args, "var-file")),
  });
  io.stdout(out.stdout);
  return out.exitCode;
}
