/**
 * The `kiln` command. Every failure ends as one clear line (or, for templates, the list of every problem) on stderr
 * and exit code 1 — never a stack trace, unless KILN_DEBUG is set.
 */
import { KilnError, InvalidTemplateError } from "../../core/src/mod.js";
import { buildCommand } from "./commands/build.js";
import { agentCommand, agentsCommand, buildsCommand, cancelCommand, continueCommand, coordinatorCommand, devCommand, logsCommand } from "./commands/farm.js";
import { inspectCommand, validateCommand } from "./commands/template.js";
import type { CliIo } from "./farm_access.js";

const VERSION = "0.1.0";

const USAGE = `Usage: kiln [--version] [--help] <command> [<args>]

Available commands are:
    build        build image(s) from a Packer JSON template, on the embedded farm or --coordinator
    validate     check that a template is valid
    inspect      see components of a template
    dev          run the embedded farm in the foreground (NATS, coordinator, local agent)
    coordinator  run a coordinator (--nats URL --listen HOST:PORT)
    agent        run an agent (--nats URL [--name N] [--datacenter DC] [--labels k=v,...] [--slots N] [--work-dir DIR])
    builds       list builds (--json)
    logs         show a build's log (-f to follow)
    cancel       cancel a build
    continue     let a build paused at a breakpoint go on
    agents       list live agents (--json); agents drain NAME: let an agent finish its jobs and leave
    version      print the version
`;

type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

const COMMANDS: Readonly<Record<string, Command>> = {
  build: buildCommand,
  validate: validateCommand,
  inspect: inspectCommand,
  dev: devCommand,
  coordinator: coordinatorCommand,
  agent: agentCommand,
  builds: buildsCommand,
  logs: logsCommand,
  cancel: cancelCommand,
  continue: continueCommand,
  agents: agentsCommand,
  version: async (_argv, io) => {
    io.stdout(`kiln ${VERSION} (Packer-compatible 1.6.6)\n`);
    return 0;
  },
};

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-help" || name === "-h" || name === "help") {
    io.stdout(USAGE);
    return name ? 0 : 127;
  }
  const command = COMMANDS[name === "--version" || name === "-version" || name === "-v" ? "version" : name];
  if (!command) {
    io.stderr(`kiln: unknown command '${name}'.\n\n${USAGE}`);
    return 127;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    io.stderr(describeFailure(err));
    return 1;
  }
}

export function describeFailure(err: unknown): string {
  if (process.env["KILN_DEBUG"] && err instanceof Error) return `${err.stack ?? err.message}\n`;
  if (err instanceof InvalidTemplateError) return `${err.problems.join("\n")}\n`;
  if (err instanceof KilnError) return `Error: ${err.message}\n`;
  const message = err instanceof Error ? err.message : String(err);
  return `Error: kiln failed unexpectedly: ${message} (set KILN_DEBUG=1 for details, and please report it)\n`;
}
