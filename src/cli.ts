/**
 * The commander program: global options, the list of commands, and the one place
 * where errors become a line on stderr and an exit code.
 */
import { Command, CommanderError } from 'commander';
import { COMMANDS, EXEC_LIKE_COMMANDS } from './commands/index.js';
import { EXIT_NSM_FAILED, EXIT_USAGE, NsmError, SysError } from './sys/errors.js';
import { VERSION } from './version.js';

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

/** Print one line for `err` and return the exit code it maps to. */
export function reportError(err: unknown, failureCode?: number): number {
  const debug = process.env.NSM_DEBUG === '1';
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
      return 0;
    }
    // "error: unknown command 'lst'\n(Did you mean ls?)" -> one line.
    process.stderr.write(`nsm: ${tidyCommanderMessage(err.message)}\n`);
    return failureCode ?? EXIT_USAGE;
  }
  if (err instanceof NsmError) {
    process.stderr.write(`nsm: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    return failureCode ?? err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && e.code.startsWith('E')) {
    return reportError(SysError.fromNode(e), failureCode);
  }
  // A bug, not a user error: still one line, stack only with NSM_DEBUG=1.
  process.stderr.write(`nsm: internal error: ${e?.message ?? String(err)}\n`);
  if (debug && e?.stack) process.stderr.write(`${e.stack}\n`);
  else process.stderr.write('hint: run again with NSM_DEBUG=1 for a stack trace\n');
  return failureCode ?? 1;
}

function tidyCommanderMessage(text: string): string {
  // Commander puts suggestions on their own line in parentheses: "(Did you mean ls?)".
  return text
    .replace(/^error: /, '')
    .replace(/\(Did you mean/g, '(did you mean')
    .replace(/\s+/g, ' ')
    .trim();
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
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
