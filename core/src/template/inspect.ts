/**
 * `packer inspect` for a JSON template (Packer 1.6.6 `Core.InspectConfig`), byte for byte: description, required
 * variables, optional variables with their defaults (sorted, padded to the longest name), builders (sorted, with the
 * type when it differs from the name), provisioners, and the closing note. Build names are shown raw.
 *
 * Two places where Packer is not deterministic, and what kiln prints instead:
 * - "Required variables" come in Go map order (random per run); kiln lists them in template order.
 * - Masking with `<sensitive>` compares default values while mutating them, so the result depends on map order;
 *   kiln masks every sensitive variable and every variable whose default equals a sensitive variable's default —
 *   one of the outputs Packer can print, and the one that never shows a secret.
 */
import { compareGoStrings } from "./go_compat.js";
import { hclInspectMessages, isHcl2Path, parseHclJson } from "./hcl_json.js";
import { parseTemplate, type Template } from "./model.js";
import { PackerUi, type CommandOutput, type OutputOptions } from "./output.js";
import { formatValidateOutput, reportFromParseError } from "./report.js";
import { readVarFiles, type VarFileInput } from "./var_files.js";

const NOTE =
  "\nNote: If your build names contain user variables or template\n" +
  "functions such as 'timestamp', these are processed at build time,\n" +
  "and therefore only show in their raw form here.";

const byteLength = (s: string): number => Buffer.byteLength(s, "utf8");

/** The default inspect shows for each variable, after `<sensitive>` masking. */
export function inspectDefaults(template: Template): Map<string, string> {
  const sensitiveDefaults = new Set(template.variables.filter((v) => v.sensitive).map((v) => v.default));
  return new Map(template.variables.map((v) => [v.name, v.sensitive || sensitiveDefaults.has(v.default) ? "<sensitive>" : v.default]));
}

/** Writes `packer inspect`'s output for a parsed template to a Packer UI. */
export function writeInspect(ui: PackerUi, template: Template): void {
  ui.say("Packer Inspect: JSON mode");
  if (template.description !== "") {
    ui.say("Description:\n");
    ui.say(`${template.description}\n`);
  }

  const shown = inspectDefaults(template);
  if (template.variables.length === 0) {
    ui.say("Variables:\n");
    ui.say("  <No variables>");
  } else {
    const required = template.variables.filter((v) => v.required);
    if (required.length > 0) {
      ui.say("Required variables:\n");
      for (const v of required) {
        ui.machine("template-variable", v.name, shown.get(v.name) ?? "", "1");
        ui.say(`  ${v.name}`);
      }
      ui.say("");
    }
    ui.say("Optional variables and their defaults:\n");
    const max = Math.max(...template.variables.map((v) => byteLength(v.name)));
    for (const v of [...template.variables].sort((a, b) => compareGoStrings(a.name, b.name))) {
      if (v.required) continue;
      const value = shown.get(v.name) ?? "";
      ui.machine("template-variable", v.name, value, "0");
      ui.say(`  ${v.name}${" ".repeat(max - byteLength(v.name))} = ${value}`);
    }
  }
  ui.say("");

  ui.say("Builders:\n");
  if (template.builders.length === 0) ui.say("  <No builders>");
  else {
    const max = Math.max(...template.builders.map((b) => byteLength(b.name)));
    for (const b of [...template.builders].sort((x, y) => compareGoStrings(x.name, y.name))) {
      let line = `  ${b.name}${" ".repeat(max - byteLength(b.name))}`;
      if (b.name !== b.type) line += ` (${b.type})`;
      ui.machine("template-builder", b.name, b.type);
      ui.say(line);
    }
  }
  ui.say("");

  ui.say("Provisioners:\n");
  if (template.provisioners.length === 0) ui.say("  <No provisioners>");
  else {
    for (const p of template.provisioners) {
      ui.machine("template-provisioner", p.type);
      ui.say(`  ${p.type}`);
    }
  }
  ui.say(NOTE);
}

/**
 * What `packer inspect [-machine-readable] <template>` prints for a parsed JSON template, and its exit code (0).
 * For a template that does not parse, use {@link formatParseFailure}.
 */
export function formatInspect(template: Template, machineReadable: boolean, options: Omit<OutputOptions, "machineReadable"> = {}): CommandOutput {
  const ui = new PackerUi({ ...options, machineReadable });
  writeInspect(ui, template);
  return { stdout: ui.text(), exitCode: 0 };
}

/** Options of {@link inspectTemplateText}. */
export interface InspectOptions extends OutputOptions {
  /** `-var-file` files: Packer reads (and may reject) them even for inspect. */
  readonly varFiles?: readonly VarFileInput[];
}

/**
 * `packer inspect` from the template text: what it prints and its exit code, including Packer's output for a
 * template that does not parse (`Failed to parse template: ...`, exit 1) or a var file that does not decode.
 */
export function inspectTemplateText(text: string | Uint8Array, fileName: string, options: InspectOptions = {}): CommandOutput {
  if (isHcl2Path(fileName)) {
    try {
      const cfg = parseHclJson(text, fileName);
      const ui = new PackerUi(options);
      for (const message of hclInspectMessages(cfg)) ui.say(message);
      return { stdout: ui.text(), exitCode: 0 };
    } catch (err) {
      return formatValidateOutput(reportFromParseError(err), options);
    }
  }
  let template: Template;
  try {
    template = parseTemplate(text, fileName);
    readVarFiles(options.varFiles ?? []);
  } catch (err) {
    return formatValidateOutput(reportFromParseError(err), options);
  }
  return formatInspect(template, options.machineReadable === true, options);
}
