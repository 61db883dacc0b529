/**
 * The shape of a command declaration. Every command is declared once, as data (name,
 * aliases, operands, options with their value parsers and help, examples), in its own file
 * beside this one; src/commands/table.ts lists them. From that one table come the commander
 * program (src/commands/program.ts, the only parser of every command line), `--help`, the
 * completion scripts (src/ui/completion.ts walks the program) and the help excerpts of docs/commands.md
 * (test/integration/readme-help.test.ts keeps them in step).
 *
 * A declaration holds no behaviour beyond value parsers: what the command does is its action
 * module, loaded only when that command runs (`action: () => import('./actions/ls.js')`), so
 * `nsm exec` neither loads nor initialises the listing code.
 *
 * Options are typed from their flags, as commander stores them: `--map-user <uid>` is
 * `mapUser`, `--no-lo` is `lo`; a flag without a value is a boolean, one with a value has the
 * type its parser returns (string without a parser). OptionsOf<typeof lsOptions> is what the
 * action of ls receives.
 */

/** kebab-case to camelCase, as commander names option keys. */
type Camel<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;

/** The long name of a flags string: '-t, --type <types>' -> 'type'; '--no-lo' -> 'no-lo'. */
type LongName<F extends string> = F extends `${string}--${infer Rest}`
  ? Rest extends `${infer Name} ${string}`
    ? Name
    : Rest
  : F extends `-${infer Short} ${string}`
    ? Short
    : F extends `-${infer Short}`
      ? Short
      : never;

/** The key commander stores an option under: '--no-mount-proc' -> 'mountProc'. */
export type OptionKey<F extends string> = LongName<F> extends `no-${infer Name}` ? Camel<Name> : Camel<LongName<F>>;

/** Whether the flags string declares a value (`<v>` required, `[v]` optional). */
type TakesValue<F extends string> = F extends `${string}<${string}>${string}` | `${string}[${string}]${string}` ? true : false;

export interface OptionDecl<F extends string = string, V = unknown> {
  /** commander's flags: '-t, --type <types>', '--veth [addresses]', '--no-lo'. */
  readonly flags: F;
  readonly description: string;
  /** Turns the text into the value (and accumulates repeated options); throws UsageError. */
  readonly parse?: (value: string, previous: V) => V;
  readonly default?: V;
  /** The value of an option with an optional value (`[view]`) given without one. */
  readonly preset?: string;
  /** The only accepted values (completion offers them). */
  readonly choices?: readonly string[];
  /** Left out of help and completion. */
  readonly hidden?: boolean;
}

/** The value an option declaration yields. */
export type OptionValue<O> = O extends { readonly choices: readonly (infer C)[] }
  ? C
  : O extends OptionDecl<infer F, infer V>
  ? TakesValue<F> extends true
    ? unknown extends V
      ? F extends `${string}[${string}]${string}`
        ? string | true
        : string
      : V
    : boolean
  : never;

/** The options object an action receives, from its command's option declarations. */
export type OptionsOf<Options extends readonly OptionDecl<string, any>[]> = {
  [O in Options[number] as OptionKey<O['flags']>]?: OptionValue<O>;
};

export interface OperandDecl<V = unknown> {
  /** '<name>', '[namespace]', '<command...>', '[names...]'. */
  readonly name: string;
  readonly description: string;
  readonly parse?: (value: string) => V;
  /** The only accepted values (completion offers them). */
  readonly choices?: readonly string[];
}

export interface Example {
  /** The command line, as pasted into a shell. */
  readonly command: string;
  /** What it does (help prints it beside the command). */
  readonly does?: string;
}

/** One exit status of a command and when it is returned. */
export interface ExitStatus {
  readonly status: string;
  readonly when: string;
}

/** What an action module exports: the command's behaviour, given its operands and options. */
export interface ActionModule {
  run(operands: unknown[], options: Record<string, unknown>): Promise<void> | void;
}

export interface CommandDecl<Options extends readonly OptionDecl<string, any>[] = readonly OptionDecl<string, any>[]> {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** One line for the command list of `nsm --help`. */
  readonly summary: string;
  /** The paragraph at the top of `nsm help NAME`. */
  readonly description: string;
  /** Replaces commander's generated usage ('[options] <name>'). */
  readonly usage?: string;
  readonly operands?: readonly OperandDecl<any>[];
  readonly options: Options;
  /** Text printed before the examples in help (notes on the options, exit status, ...). */
  readonly notes?: string;
  /** The heading of the examples block: 'Examples' unless said otherwise ('Install'). */
  readonly examplesHeading?: string;
  readonly examples?: readonly Example[];
  /** Text printed after the examples. */
  readonly epilogue?: string;
  /**
   * What the exit status says beyond nsm's general 0 (success), 1 (runtime error) and
   * 2 (usage error): the EXIT STATUS section of the command's man page (scripts/man.mjs).
   */
  readonly exitStatus?: readonly ExitStatus[];
  /**
   * The command runs a command of the user's (exec, enter, unshare): nsm's own options end
   * where that command starts, `operandsBefore` operands in (src/commands/command-line.ts),
   * and nsm's own failures exit 125 so that the command's status can pass through.
   */
  readonly runsCommand?: { readonly operandsBefore: number };
  /**
   * The command writes only through the descriptors (src/sys/stdio.ts), never through
   * process.stdout/stderr, and has nothing left to do once its action returns: nsm sets up
   * no Node streams for it (node:stream, node:net) and exits at once (exec, enter, create).
   */
  readonly lean?: boolean;
  /** `nsm ls`, `nsm tree`: bin/nsm starts the host scan before it loads the CLI (src/sys/early-scan.ts). */
  readonly earlyScan?: boolean;
  /** Internal commands (names starting with "__") are hidden from help and completion. */
  readonly hidden?: boolean;
  readonly action: () => Promise<ActionModule>;
}

/** Declare a command, keeping the literal types of its option flags for OptionsOf. */
export function defineCommand<const Options extends readonly OptionDecl<string, any>[]>(decl: CommandDecl<Options>): CommandDecl<Options> {
  return decl;
}

/**
 * Declare a command's options apart from the command, so that its action module can type
 * its options argument (OptionsOf<typeof lsOptions>) without a circle through the command.
 */
export function defineOptions<const Options extends readonly OptionDecl<string, any>[]>(options: Options): Options {
  return options;
}
