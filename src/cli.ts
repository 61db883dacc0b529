/**
 * The commander program: global options, the list of commands, and the one place
 * where errors become a line on stderr and an exit code.
 */
import { Command } from 'commander';
import { COMMANDS, EXEC_LIKE_COMMANDS } from './commands/index.js';
import { reportError } from './report.js';
import { EXIT_NSM_FAILED, UsageError } from './sys/errors.js';
import { adoptEarlyScan, type EarlyScan } from './sys/native-scan.js';
import { VERSION } from './version.js';

export { reportError };

export function buildProgram(): Command {
  const program = new Command('nsm')
    .description('Linux namespace manager: list, create, enter, watch and clean up namespaces')
    .version(VERSION, '-V, --version', 'print the nsm version')
    .showSuggestionAfterError(true)
    // nsm's own options (-V) come before the subcommand; every word after it is the
    // subcommand's, so `nsm exec web ls -V` hands -V to ls (src/commands/command-line.ts).
    .enablePositionalOptions()
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
  // `nsm help NAME` for a NAME that is no command is a usage error, as `nsm NAME` is;
  // commander's own help command would print the general help and exit 0.
  program.helpCommand(false);
  program
    .command('help')
    .argument('[command]', 'the command to explain')
    .description('display help for command')
    .action((name: string | undefined) => {
      if (name === undefined) return program.help();
      const cmd = program.commands.find((c) => c.name() === name || c.aliases().includes(name));
      if (!cmd) {
        const near = nearestCommands(program, name);
        throw new UsageError(`unknown command '${name}'${near.length > 0 ? ` (did you mean ${near.join(', ')}?)` : ''}`);
      }
      cmd.help();
    });
  return program;
}

/** The command names nearest to `word` (edit distance at most 2), as commander suggests for `nsm WORD`. */
function nearestCommands(program: Command, word: string): string[] {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let diagonal = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const above = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
        diagonal = above;
      }
    }
    return row[b.length]!;
  };
  const scored = program.commands
    .filter((c) => !c.name().startsWith('__') && c.name() !== 'help')
    .flatMap((c) => [c.name(), ...c.aliases()])
    .map((n) => ({ n, d: distance(n, word) }))
    .filter(({ d }) => d <= 2);
  const best = Math.min(...scored.map(({ d }) => d));
  return scored.filter(({ d }) => d === best).map(({ n }) => n);
}

/** Name of the subcommand argv asks for, resolving aliases (best effort, for exit codes). */
function requestedCommand(program: Command, argv: readonly string[]): string | undefined {
  const word = argv.slice(2).find((a) => !a.startsWith('-'));
  if (word === undefined) return undefined;
  return program.commands.find((c) => c.name() === word || c.aliases().includes(word))?.name();
}

/** `nsm version`: the version is an option (-V, --version); commander suggests only commands. */
function versionHint(err: unknown): unknown {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (code === 'commander.unknownCommand' && typeof message === 'string' && message.includes("unknown command 'version'")) {
    return new UsageError("unknown command 'version' (did you mean --version?)");
  }
  return err;
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
    process.exitCode = reportError(versionHint(err), failureCode);
    // `nsm exec web -br`: the command is missing, or it starts with '-' and needs '--'.
    if (failureCode !== undefined && (err as { code?: unknown }).code === 'commander.unknownOption') {
      process.stderr.write("hint: nsm's options end where the command starts; put -- before a command that starts with -\n");
    }
  }
}
