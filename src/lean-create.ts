/**
 * The lean entry of `nsm create` (alias new), bundled apart into dist/nsm-create.cjs. issue 3
 * targets create at `node -e 0` + 25 ms (bench/lifecycle.mjs), and commander (loading it,
 * building the command with its 30 options, parsing) is a good part of what is left above
 * the work itself. So, as src/lean-exec.ts does for exec, bin/nsm calls createMain() first:
 * it parses the common forms below by hand, and for any other command line (help, version,
 * another option, an option value that starts with '-', `--`, a second argument) it returns
 * false before doing anything, and the full CLI parses it with commander as usual. Both end
 * in runCreate() (src/commands/create-action.ts), with commander's option keys.
 *
 *   create|new [OPTION...] NAME [OPTION...]
 *   OPTION: -t TYPES | -tTYPES | --type TYPES | --type=TYPES | -J | --json | --pin
 *           | -m | --mount | -u | --uts | -i | --ipc | -p | --pid | -n | --net | -U | --user
 *           | -C | --cgroup | -T | --time
 */
import { runCreate } from './commands/create-action.js';
import { collectTypes } from './commands/options.js';
import { reportError } from './report.js';
import { NS_TYPES, type NsType } from './sys/nstypes.js';

export interface FastCreate {
  name: string;
  /** The options as commander names them: type, json, pin, and the long name of each type flag. */
  opts: Record<string, unknown>;
}

/** -m -> mount, --net -> net, ...: unshare(1)'s type flags. */
const TYPE_FLAGS = new Map<string, string>(NS_TYPES.flatMap((t) => [[`-${t.unshareLetter}`, t.unshareLong], [`--${t.unshareLong}`, t.unshareLong]]));

/**
 * Parse `argv` (process.argv) if it is one of the forms above; undefined otherwise. Throws
 * UsageError only for a bad -t value, which the full CLI would reject alike.
 */
export function parseFastCreate(argv: readonly string[]): FastCreate | undefined {
  if (argv[2] !== 'create' && argv[2] !== 'new') return undefined;
  // commander's default for an option defined only as --no-lo (test/unit/lean-create.test.ts
  // checks these forms parse to what commander makes of them).
  const opts: Record<string, unknown> = { lo: true };
  let name: string | undefined;
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i]!;
    let types: string | undefined;
    if (a === '-t' || a === '--type') {
      types = argv[++i];
      // commander would take a value that starts with '-' as the types; leave that to it.
      if (types === undefined || types.startsWith('-')) return undefined;
    } else if (a.startsWith('--type=')) types = a.slice('--type='.length);
    else if (a.startsWith('-t') && !a.startsWith('--')) types = a.slice(2);
    else if (a === '-J' || a === '--json') opts.json = true;
    else if (a === '--pin') opts.pin = true;
    else if (TYPE_FLAGS.has(a)) opts[TYPE_FLAGS.get(a)!] = true;
    else if (a.startsWith('-') || name !== undefined) return undefined; // commander's job
    else name = a;
    if (types !== undefined) opts.type = collectTypes(types, opts.type as NsType[] | undefined);
  }
  return name === undefined ? undefined : { name, opts };
}

/** Run create from `argv` if it is a form this entry handles; false if the full CLI must. */
export async function createMain(argv: readonly string[] = process.argv): Promise<boolean> {
  try {
    const parsed = parseFastCreate(argv);
    if (!parsed) return false;
    await runCreate(parsed.name, parsed.opts);
  } catch (err) {
    process.exitCode = reportError(err);
  }
  return true;
}
