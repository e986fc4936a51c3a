/**
 * `kiln validate` and `kiln inspect`: Packer 1.6.6's commands, with its text and exit codes. They run locally (no
 * farm needed): what they check is the template and the user's own inputs.
 */
import { readFile } from "node:fs/promises";
import { InvalidArgumentError, formatValidateOutput, inspectTemplateText, validateSyntaxOnly, validateTemplate } from "../../../core/src/mod.js";
import type { VarFileInput } from "../../../core/src/mod.js";
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
  const out = formatValidateOutput(report, { machineReadable });
  io.stdout(out.stdout);
  return out.exitCode;
}

export async function inspectCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs("inspect", argv, {
    "machine-readable": { kind: "bool", help: "Produce machine-readable output." },
    "var-file": { kind: "list", help: "JSON file containing user variables." },
  });
  const file = args.positional[0];
  const text = await readTemplate("inspect", file);
  const out = inspectTemplateText(text, file ?? "", {
    machineReadable: flagBool(args, "machine-readable"),
    varFiles: await readVarFileInputs(flagList(args, "var-file")),
  });
  io.stdout(out.stdout);
  return out.exitCode;
}
