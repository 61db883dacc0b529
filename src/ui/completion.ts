/**
 * Shell completion, model first: completionSpec() walks the commander program (commands,
 * aliases, options, arguments) into a plain tree, and completion-scripts.ts prints that
 * tree as a bash, zsh or fish script. A command added to src/commands completes without
 * any change here.
 *
 * What a value completes to is read from its placeholder, so name placeholders after
 * what they hold (table below): `<pid>`, `<env>`/`<name>`, `<types>`, `<target>` (an
 * environment or a pid), `<path>`, `<dir>`, `<command...>`, `<kind[:name]>` (an owner
 * kind, as --owner takes it), or give the option `.choices()`. Placeholders may list
 * alternatives: `<pid|env>`; an optional part in brackets is left out: `<kind[:name]>` is
 * `kind`; a trailing number tells arguments apart (`<target1> <target2>`). A placeholder not
 * in the table (`<hostname>`) completes nothing.
 */
import type { Argument, Command, Option } from 'commander';
import { OWNER_KINDS } from '../core/owner-kinds.js';
import { NS_TYPE_NAMES } from '../sys/nstypes.js';

/**
 * pid: live process ids; env: environment names (from `nsm __complete envs`); target:
 * netns:NAME and owner targets such as docker:web (`nsm __complete targets WORD`); nstype: the
 * namespace type names, comma-separated lists allowed; owner: the owner kinds of --owner,
 * comma-separated lists allowed (a `:NAME` is typed, not offered); file/dir: paths;
 * command: an executable, then its arguments; subcommand: nsm's own commands (for `help`).
 */
export type ValueKind = 'pid' | 'env' | 'target' | 'nstype' | 'owner' | 'file' | 'dir' | 'command' | 'subcommand';

/** What a value completes to: the union of `kinds` and `choices`; both empty = nothing to offer. */
export interface ValueSpec {
  kinds: ValueKind[];
  choices: string[];
}

export interface OptionSpec {
  /** "-t" */
  short?: string;
  /** "--type" */
  long?: string;
  description: string;
  /** Present when the option takes a value (required or optional). */
  value?: ValueSpec;
}

export interface ArgSpec {
  name: string;
  variadic: boolean;
  value: ValueSpec;
}

export interface CommandSpec {
  name: string;
  aliases: string[];
  description: string;
  options: OptionSpec[];
  args: ArgSpec[];
  commands: CommandSpec[];
}

/** Namespace type names offered after -t/--type ("all" is accepted by collectTypes()). */
export const NS_TYPE_WORDS: readonly string[] = [...NS_TYPE_NAMES, 'all'];

/** Owner kinds offered after --owner (collectOwners() accepts these, each optionally :NAME). */
export const OWNER_KIND_WORDS: readonly string[] = [...OWNER_KINDS];

/** Placeholder word -> what it holds. */
const PLACEHOLDER_KINDS: Readonly<Record<string, readonly ValueKind[]>> = {
  pid: ['pid'],
  pids: ['pid'],
  task: ['pid'],
  process: ['pid'],
  env: ['env'],
  envs: ['env'],
  environment: ['env'],
  name: ['env'],
  names: ['env'],
  target: ['env', 'pid', 'target'],
  type: ['nstype'],
  types: ['nstype'],
  nstype: ['nstype'],
  kind: ['owner'],
  owner: ['owner'],
  owners: ['owner'],
  file: ['file'],
  path: ['file'],
  dir: ['dir'],
  directory: ['dir'],
  rootfs: ['dir'],
  command: ['command'],
  cmd: ['command'],
  program: ['command'],
};

/** Commands whose `<name>` is a new name, so existing environment names are no help. */
const NEW_NAME_COMMANDS: ReadonlySet<string> = new Set(['create', 'adopt']);

function valueSpec(placeholder: string, commandName: string, choices: readonly string[] | undefined): ValueSpec {
  // commander's implicit `help [command]` names one of nsm's commands, not a program to run.
  if (commandName === 'help' && placeholder === 'command') return { kinds: ['subcommand'], choices: [] };
  const kinds = new Set<ValueKind>();
  // "<target1> <target2>": a trailing number tells arguments apart, not what they hold.
  const words = placeholder.replace(/\[[^\]]*\]/g, '').replace(/\.\.\.$/, '').toLowerCase().split('|');
  for (const word of words.map((w) => w.replace(/\d+$/, ''))) {
    if (word === 'name' && NEW_NAME_COMMANDS.has(commandName)) continue;
    for (const k of PLACEHOLDER_KINDS[word] ?? []) kinds.add(k);
  }
  return { kinds: [...kinds], choices: choices ? [...choices] : [] };
}

/** "types" from "-t, --type <types>", "addresses" from "--veth [addresses]", "kind[:name]" from "--owner <kind[:name]>". */
function placeholderOf(flags: string): string {
  const m = /<([^>]+)>|\[([^\]]+)\]/.exec(flags);
  return m?.[1] ?? m?.[2] ?? '';
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}

function optionSpec(o: Option, commandName: string): OptionSpec {
  const spec: OptionSpec = { description: firstLine(o.description) };
  if (o.short) spec.short = o.short;
  if (o.long) spec.long = o.long;
  if (o.required || o.optional) spec.value = valueSpec(placeholderOf(o.flags), commandName, o.argChoices);
  return spec;
}

function argSpec(a: Argument, commandName: string): ArgSpec {
  return { name: a.name(), variadic: a.variadic, value: valueSpec(a.name(), commandName, a.argChoices) };
}

/** The completion tree of `cmd` and its visible subcommands (hidden ones, like `__complete`, are left out). */
export function completionSpec(cmd: Command): CommandSpec {
  const help = cmd.createHelp();
  return {
    name: cmd.name(),
    aliases: cmd.aliases(),
    description: firstLine(cmd.summary() || cmd.description()),
    options: help.visibleOptions(cmd).map((o) => optionSpec(o, cmd.name())),
    args: cmd.registeredArguments.map((a) => argSpec(a, cmd.name())),
    commands: cmd.commands.length > 0 ? help.visibleCommands(cmd).map((c) => completionSpec(c)) : [],
  };
}
