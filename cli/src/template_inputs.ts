/**
 * Reads what Packer reads on the machine where the command runs: the template, -var-file files and -var flags, and
 * the environment for `env` in variable defaults. Every problem is a one-line error naming the file and the fix.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InvalidArgumentError, parseTemplate, resolveVariables } from "../../core/src/mod.js";
import type { ParsedTemplate } from "../../core/src/mod.js";

export interface TemplateInputs {
  readonly templateText: string;
  readonly templateDir: string;
  readonly template: ParsedTemplate;
  readonly variables: Record<string, string>;
}

export interface TemplateInputRequest {
  templatePath: string;
  varFiles: readonly string[];
  vars: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
}

async function readUserFile(file: string, what: string, fix: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : code === "EACCES" ? "permission denied" : String(err);
    throw new InvalidArgumentError(`${what} ${file}: ${reason}. ${fix}`, { cause: err });
  }
}

/** `-var 'k=v'` → [k, v]; Packer splits on the first '='. */
export function parseVarFlag(flag: string): [string, string] {
  const eq = flag.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`-var '${flag}': expected key=value, e.g. -var 'region=us-east-1'`);
  return [flag.slice(0, eq), flag.slice(eq + 1)];
}

export async function loadTemplateInputs(req: TemplateInputRequest): Promise<TemplateInputs> {
  const templateText = await readUserFile(req.templatePath, "cannot read template", "Pass the path of a Packer JSON template.");
  const template = parseTemplate(templateText, req.templatePath);
  const varFiles = [];
  for (const file of req.varFiles) {
    varFiles.push({ path: file, text: await readUserFile(file, "cannot read -var-file", "Fix the path given to -var-file.") });
  }
  const vars = Object.fromEntries(req.vars.map(parseVarFlag));
  const variables = resolveVariables({ template, varFiles, vars, env: req.env });
  return { templateText, templateDir: path.dirname(path.resolve(req.templatePath)), template, variables };
}
