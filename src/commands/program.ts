/**
 * The commander program, built from the command table: commander is the one parser of every
 * command line. When the first word names a command, only that command is built (its
 * command line can reach no other); `nsm --help`, `nsm help`, a word that is no command (so
 * that commander can suggest one) and `nsm completion` build them all.
 */
import { Argument, Command, Option } from 'commander';
import { echoInput, UsageError } from '../sys/errors.js';
import { isTerminal, stderrSync, stdoutSync, terminalColumns } from '../sys/stdio.js';
import { CommandRunningCommand } from './command-line.js';
import type { CommandDecl, Example, OperandDecl, OptionDecl } from './spec.js';
import { COMMAND_TABLE } from './table.js';
import { VERSION } from '../version.js';

export const PROGRAM_EXAMPLES: readonly Example[] = [
  { command: 'nsm ls', does: 'every namespace on the host, like lsns' },
  { command: 'nsm inspect 1234', does: 'the namespaces of PID 1234' },
  { command: 'nsm create web && nsm exec web -- ip addr' },
];

/** The declaration of the command `word` names (its name or an alias). */
export function findCommand(word: string | undefined): CommandDecl | undefined {
  if (word === undefined) return undefined;
  return COMMAND_TABLE.find((c) => c.name === word || c.aliases?.includes(word));
}

/** "Examples:\n  nsm ls      # every namespace ..." as help prints it: each line pastes into a shell as it is. */
function examplesText(heading: string, examples: readonly Example[]): string {
  const width = Math.max(...examples.map((e) => (e.does ? e.command.length : 0)));
  const lines = examples.map((e) => `  ${e.does ? `${e.command.padEnd(width)}  # ${e.does}` : e.command}`);
  return `${heading}:\n${lines.join('\n')}`;
}

/** "Exit status:\n  1  a check failed" as help prints it (the man page's EXIT STATUS has the same). */
function exitStatusText(statuses: CommandDecl['exitStatus']): string | undefined {
  if (!statuses?.length) return undefined;
  const width = Math.max(...statuses.map((s) => s.status.length));
  return `Exit status:\n${statuses.map((s) => `  ${s.status.padEnd(width)}  ${s.when}`).join('\n')}`;
}

/** The help text after the options: notes, examples, exit status, epilogue. */
function helpAfter(decl: CommandDecl): string {
  const blocks = [decl.notes, decl.examples?.length ? examplesText(decl.examplesHeading ?? 'Examples', decl.examples) : undefined, exitStatusText(decl.exitStatus), decl.epilogue];
  return blocks.filter((b): b is string => Boolean(b)).map((b) => `\n${b}`).join('\n');
}

function addOperand(cmd: Command, decl: OperandDecl): void {
  const argument = new Argument(decl.name, decl.description);
  if (decl.parse) argument.argParser(decl.parse);
  if (decl.choices) argument.choices(decl.choices);
  cmd.addArgument(argument);
}

function addOption(cmd: Command, decl: OptionDecl): void {
  const option = new Option(decl.flags, decl.description);
  if (decl.parse) option.argParser(decl.parse);
  if (decl.choices) option.choices(decl.choices);
  if (decl.default !== undefined) option.default(decl.default);
  if (decl.preset !== undefined) option.preset(decl.preset);
  if (decl.hidden) option.hideHelp();
  cmd.addOption(option);
}

/** Usages set by a declaration, which help's command list shows instead of the operands. */
const DECLARED_USAGE = new WeakMap<Command, string>();

/** "destroy|rm|del": a command's name and every alias. */
const namesOf = (cmd: Command): string => [cmd.name(), ...cmd.aliases()].join('|');

/** The commander command of `decl`: operands, options, help, action. */
function commandOf(decl: CommandDecl): Command {
  const cmd = decl.runsCommand ? new CommandRunningCommand(decl.name, decl.runsCommand.operandsBefore) : new Command(decl.name);
  cmd.aliases(decl.aliases ?? []).summary(decl.summary).description(decl.description);
  for (const operand of decl.operands ?? []) addOperand(cmd, operand);
  for (const opt of decl.options) addOption(cmd, opt);
  if (decl.usage) {
    cmd.usage(decl.usage);
    DECLARED_USAGE.set(cmd, decl.usage);
  }
  const after = helpAfter(decl);
  if (after) cmd.addHelpText('after', after);
  return cmd.action(async (...args: unknown[]) => {
    // commander passes the operands, then the options, then the command itself.
    const operands = args.slice(0, -2);
    const options = args[args.length - 2] as Record<string, unknown>;
    const action = await decl.action();
    await action.run(operands, options);
  });
}

export interface ProgramOptions {
  /** Build only this command (the one being run; '' for none); every command when undefined. */
  only?: string;
}

export function buildProgram(options: ProgramOptions = {}): Command {
  const program = new Command('nsm');
  const defaultOutput = { ...program.configureOutput() };
  program
    .description('Linux namespace manager: list, create, enter, watch and clean up namespaces')
    .version(VERSION, '-V, --version', 'print the nsm version')
    .showSuggestionAfterError(true)
    // nsm's own options (-V) come before the subcommand; every word after it is the
    // subcommand's, so `nsm exec web ls -V` hands -V to ls (src/commands/command-line.ts).
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      // Help and --version through the descriptors (sys/stdio.ts): no Node stream is set up
      // for them (exec, enter and create set up none), and a reader that went away ends nsm
      // with 141 (`nsm exec --help | head -3`).
      writeOut: (text) => stdoutSync.write(text),
      writeErr: (text) => stderrSync.write(text),
      // Commander's own errors ("error: unknown option ...") are reported by reportError()
      // as one line; silence its multi-line default.
      outputError: () => {},
      // Commander's defaults ask process.stdout.isTTY, which makes the stream (node:net and
      // node:stream for a pipe) to print help; asked of the descriptor instead. No color on a
      // pipe: nsm's help has none to strip anyway.
      // (Its types say number; its default gives undefined for no terminal, as here.)
      getOutHelpWidth: (() => terminalColumns(1)) as () => number,
      getErrHelpWidth: (() => terminalColumns(2)) as () => number,
      getOutHasColors: () => isTerminal(1) && defaultOutput.getOutHasColors!(),
      getErrHasColors: () => isTerminal(2) && defaultOutput.getErrHasColors!(),
    })
    // Every alias (commander shows only the first: `destroy|rm`), and the usage a declaration
    // sets (`create <name>`, whose operand is optional to commander only).
    .configureHelp({
      subcommandTerm: (cmd) => {
        const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`));
        const term = DECLARED_USAGE.get(cmd) ?? [...(cmd.options.length > 0 ? ['[options]'] : []), ...args].join(' ');
        return `${namesOf(cmd)} ${term}`.trimEnd();
      },
      commandUsage: (cmd) => `${cmd.parent ? `${cmd.parent.name()} ` : ''}${namesOf(cmd)} ${cmd.usage()}`.trimEnd(),
    })
    .addHelpText('after', `\n${examplesText('Examples', PROGRAM_EXAMPLES)}\n\nRun 'nsm help COMMAND' for a command's options and examples.`);
  // The command being run is all its command line can reach: parsing `nsm exec …` never
  // looks at another command (a typo in the first word reaches main() with no `only`).
  for (const decl of COMMAND_TABLE.filter((d) => options.only === undefined || d.name === options.only)) {
    const cmd = commandOf(decl);
    cmd.copyInheritedSettings(program);
    // Names starting with "__" are internal (shell-completion callbacks): hidden from help.
    program.addCommand(cmd, { hidden: decl.hidden === true });
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
      const decl = findCommand(name);
      if (!decl) {
        const near = nearestCommands(name);
        throw new UsageError(`unknown command '${echoInput(name)}'${near.length > 0 ? ` (did you mean ${near.join(', ')}?)` : ''}`);
      }
      program.commands.find((c) => c.name() === decl.name)!.help();
    });
  return program;
}

/** The command names nearest to `word` (edit distance at most 2), as commander suggests for `nsm WORD`. */
function nearestCommands(word: string): string[] {
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
  const scored = COMMAND_TABLE.filter((c) => !c.hidden)
    .flatMap((c) => [c.name, ...(c.aliases ?? [])])
    .map((n) => ({ n, d: distance(n, word) }))
    .filter(({ d }) => d <= 2);
  const best = Math.min(...scored.map(({ d }) => d));
  return scored.filter(({ d }) => d === best).map(({ n }) => n);
}
