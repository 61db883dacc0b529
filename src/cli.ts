/**
 * The commander program: global options, the list of commands, and the one place
 * where errors become a line on stderr and an exit code.
 */
import { Command } from 'commander';
import { COMMANDS, EXEC_LIKE_COMMANDS } from './commands/index.js';
import { reportError } from './report.js';
import { EXIT_NSM_FAILED } from './sys/errors.js';
import { adoptEarlyScan, type EarlyScan } from './sys/native-scan.js';
import { VERSION } from './version.js';

export { reportError };

export function buildProgram(): Command {
  const program = new Command('nsm')
    .description('Linux namespace manager: list, create, enter, watch and clean up namespaces')
    .version(VERSION, '-V, --version', 'print the nsm version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // Commander's own errors ("error: unknown option ...") are reported by reportError()
      // as one line; silence its multi-line default.
      outputError: () => {},
    })
    .addHelpText(
      'after',
      `
Examples:
  nsm ls                      every namespace on the host, like lsns
  nsm inspect 1234            the namespaces of PID 1234
  nsm create web && nsm exec web -- ip addr

Run 'nsm help COMMAND' for a command's options and examples.`,
    );
  for (const makeCommand of COMMANDS) {
    const cmd = makeCommand();
    cmd.copyInheritedSettings(program);
    // Names starting with "__" are internal (shell-completion callbacks): hidden from help.
    program.addCommand(cmd, { hidden: cmd.name().startsWith('__') });
  }
  return program;
}

/** Name of the subcommand argv asks for, resolving aliases (best effort, for exit codes). */
function requestedCommand(program: Command, argv: readonly string[]): string | undefined {
  const word = argv.slice(2).find((a) => !a.startsWith('-'));
  if (word === undefined) return undefined;
  return program.commands.find((c) => c.name() === word || c.aliases().includes(word))?.name();
}

export interface MainOptions {
  /** A host scan bin/nsm started before loading the CLI (only for `nsm ls`). */
  earlyScan?: EarlyScan;
}

export async function main(argv: readonly string[] = process.argv, options: MainOptions = {}): Promise<void> {
  adoptEarlyScan(options.earlyScan);
  const program = buildProgram();
  const requested = requestedCommand(program, argv);
  // enter/exec/unshare exit with the command's own status, so nsm's own failures
  // (usage errors included) use 125, as docker and podman do.
  const failureCode = requested !== undefined && EXEC_LIKE_COMMANDS.has(requested) ? EXIT_NSM_FAILED : undefined;
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    process.exitCode = reportError(err, failureCode);
  }
}
