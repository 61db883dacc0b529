/**
 * Commands that run a command (exec, enter, unshare) take nsm's options only up to where that
 * command starts, as nsenter(1), unshare(1) and `ip netns exec NAME CMD` do: in
 * `nsm exec web ip -br addr` the `-br` is ip's. `--` still ends nsm's options, and a command
 * that starts with `-` needs it.
 *
 * commander's passThroughOptions() ends a command's options at its *first* operand, which for
 * exec and enter is NAME, not the command: `nsm exec web -t net -- true` would then run
 * `-t`. So these commands find where the command starts themselves (commandStart) and put a
 * `--` there before commander parses the rest as usual.
 */
import { Command } from 'commander';

/** An option as the scan needs it: its spellings and whether it takes a value. */
export interface FlagSpec {
  short?: string;
  long?: string;
  /** 'required': the next word (or the rest of `-tVALUE` / `--long=VALUE`) is its value. */
  value: 'none' | 'required' | 'optional';
}

/** commander's rule: a negative number in a leaf command is an operand, not an option. */
const NEGATIVE_NUMBER = /^-(\d+|\d*\.\d+)(e[+-]?\d+)?$/;

function looksLikeOption(word: string): boolean {
  return word.length > 1 && word.startsWith('-') && !NEGATIVE_NUMBER.test(word);
}

/**
 * Index in `args` (the words after the subcommand) of the first word of the command: the
 * operand after `operandsBefore` other operands (1 for exec/enter: NAME; 0 for unshare).
 * Undefined when there is none, or when a `--` comes first (it already ends the options).
 * Words are read as commander reads them: `-t VALUE`, `-tVALUE`, `--type VALUE`,
 * `--type=VALUE`, grouped flags such as `-nU`; an unknown option is one word (commander
 * rejects it anyway).
 */
function commandStart(args: readonly string[], flags: readonly FlagSpec[], operandsBefore: number): number | undefined {
  const find = (spelling: string) => flags.find((f) => f.short === spelling || f.long === spelling);
  let operands = 0;
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') return undefined;
    if (!looksLikeOption(word)) {
      if (operands === operandsBefore) return i;
      operands++;
      continue;
    }
    const exact = find(word);
    if (exact) {
      // getopt_long(3), as unshare(1) reads --kill-child[=SIG] and nsenter(1) -n[FILE]: an
      // optional value is only ever attached (`--long=VALUE`, `-nVALUE`); the next word is not it.
      if (exact.value === 'required') i++;
      continue;
    }
    if (word.startsWith('--')) continue; // --long=VALUE, or unknown
    // A group of short flags: -nU, -tnet, -nt net.
    for (let k = 1; k < word.length; k++) {
      const flag = find(`-${word[k]}`);
      if (!flag) break; // unknown: commander reports it
      if (flag.value === 'none') continue;
      // The rest of the word is its value; none left: the next word is, as after `-t` (an
      // optional value never is: getopt).
      const last = k === word.length - 1;
      if (last && flag.value === 'required') i++;
      break;
    }
  }
  return undefined;
}

/**
 * commander gives an option with an optional value the next word when it does not look like
 * an option: `nsm exec -n 4242 ip a` would read 4242 as -n's FILE. getopt(3), which nsenter
 * and unshare use, never does: their optional values are attached (`--net=FILE`, `-nFILE`).
 * So each bare optional-valued option among `args` (nsm's own words) moves to where nsm's
 * options end (before a `--`, else last), where commander finds no value for it.
 */
function bareOptionalsLast(args: readonly string[], flags: readonly FlagSpec[]): string[] {
  const find = (spelling: string) => flags.find((f) => f.short === spelling || f.long === spelling);
  const kept: string[] = [];
  const moved: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') break;
    if (!looksLikeOption(word)) {
      kept.push(word);
      continue;
    }
    const exact = find(word);
    if (exact) {
      if (exact.value === 'optional') moved.push(word);
      else kept.push(word);
      if (exact.value === 'required' && i + 1 < args.length) kept.push(args[++i]!);
      continue;
    }
    if (word.startsWith('--')) {
      kept.push(word);
      continue;
    }
    // A group: -Un is -U and a bare -n (an optional flag last); -nFILE keeps its value.
    let group = word;
    for (let k = 1; k < word.length; k++) {
      const flag = find(`-${word[k]}`);
      if (!flag) break; // unknown: commander reports the word as it is
      if (flag.value === 'none') continue;
      const last = k === word.length - 1;
      if (last && flag.value === 'required' && i + 1 < args.length) {
        kept.push(word, args[++i]!);
        group = '';
      } else if (last && flag.value === 'optional') {
        group = word.slice(0, k);
        moved.push(`-${word[k]}`);
      }
      break;
    }
    if (group !== '') kept.push(group);
  }
  return [...kept, ...moved, ...args.slice(i)];
}

/** The FlagSpecs of a commander command's options. */
function flagsOf(cmd: Command): FlagSpec[] {
  return cmd.options.map((o) => ({
    short: o.short,
    long: o.long,
    value: o.required ? 'required' : o.optional ? 'optional' : 'none',
  }));
}

/**
 * A commander Command for exec, enter and unshare: its options end where the command it
 * runs starts, `operandsBefore` operands in (see commandStart). The program must have
 * enablePositionalOptions(), so that it hands every word after the subcommand's name to
 * the subcommand instead of taking `-V` out of `nsm exec web ls -V` for itself.
 */
export class CommandRunningCommand extends Command {
  constructor(
    name: string,
    private readonly operandsBefore: number,
  ) {
    super(name);
  }

  override parseOptions(args: string[]): ReturnType<Command['parseOptions']> {
    const flags = flagsOf(this);
    const at = commandStart(args, flags, this.operandsBefore);
    const head = bareOptionalsLast(at === undefined ? args : args.slice(0, at), flags);
    return super.parseOptions(at === undefined ? head : [...head, '--', ...args.slice(at)]);
  }
}
