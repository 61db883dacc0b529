/**
 * The lean entry of `nsm exec` / `nsm enter` (and their aliases), bundled apart from the
 * full CLI into dist/nsm-exec.cjs. `nsm exec NAME -- true` should cost little more than Node's
 * own start-up (issue 3: at most `node -e 0` + 15 ms), and loading commander, chalk and the
 * listing code is most of what the full CLI adds (bench/lifecycle.mjs). bin/nsm calls
 * execMain() for these words first; for a command line it does not fully understand (help,
 * an unknown option, a missing name or command) it returns false before doing anything, and
 * the full CLI takes over and parses (or rejects) it as usual.
 *
 * The grammar it accepts is the documented one, where nsm's options end where the command
 * starts (as the full CLI reads it: src/commands/command-line.ts):
 *   exec|run [OPTION...] NAME [OPTION...] [--] CMD [ARG...]
 *   enter|shell [OPTION...] NAME [OPTION...] [[--] CMD [ARG...]]
 * OPTION: -t TYPES, -tTYPES, --type TYPES, --type=TYPES, --wd DIR, --wd=DIR.
 */
import { collectTypes, parseWd } from './commands/options.js';
import { execInEnvironment } from './core/exec.js';
import { reportError } from './report.js';
import { EXIT_NSM_FAILED } from './sys/errors.js';
import { noteInheritedFds } from './sys/inherited-fds.js';
import type { NsType } from './sys/nstypes.js';

export interface FastExec {
  mode: 'exec' | 'enter';
  name: string;
  argv: string[];
  types?: NsType[];
  wd?: string;
}

const WORDS: Record<string, 'exec' | 'enter'> = { exec: 'exec', run: 'exec', enter: 'enter', shell: 'enter' };

/**
 * Parse `argv` (process.argv) if it is one of the forms above; undefined otherwise. Throws
 * UsageError only for a bad -t (or --wd) value, which the full CLI would reject alike.
 */
export function parseFastExec(argv: readonly string[]): FastExec | undefined {
  const mode = WORDS[argv[2] ?? ''];
  if (!mode) return undefined;
  let types: NsType[] | undefined;
  let wd: string | undefined;
  let name: string | undefined;
  let commandAt = argv.length;
  let dashes = false;
  for (let i = 3; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      [commandAt, dashes] = [i + 1, true];
      break;
    }
    let value: string | undefined;
    let option: 'type' | 'wd' | undefined;
    if (a === '-t' || a === '--type' || a === '--wd') {
      option = a === '--wd' ? 'wd' : 'type';
      value = argv[++i];
      if (value === undefined) return undefined;
    } else if (a.startsWith('--type=') || a.startsWith('--wd=')) {
      option = a.startsWith('--wd=') ? 'wd' : 'type';
      value = a.slice(a.indexOf('=') + 1);
    } else if (a.startsWith('-t') && a.length > 2) {
      option = 'type';
      value = a.slice(2);
    } else if (a.startsWith('-')) {
      return undefined; // help or another option: commander's job
    } else if (name === undefined) {
      name = a;
      continue;
    } else {
      commandAt = i; // the command starts here: everything from it on is the command's
      break;
    }
    if (option === 'type') types = collectTypes(value, types);
    else wd = parseWd(value);
  }
  const command = argv.slice(commandAt);
  // No name, exec without a command, or a `--` with nothing after it: commander explains.
  if (name === undefined || (command.length === 0 && (mode === 'exec' || dashes))) return undefined;
  return { mode, name, argv: command, types, wd };
}

/** Run exec/enter from `argv` if it is a form this entry handles; false if the full CLI must. */
export async function execMain(argv: readonly string[] = process.argv): Promise<boolean> {
  let parsed: FastExec | undefined;
  try {
    parsed = parseFastExec(argv);
    if (!parsed) return false;
    // The command inherits what nsm inherited: note it before nsm opens anything.
    noteInheritedFds();
    const command = parsed.argv.length > 0 ? parsed.argv : [process.env.SHELL || '/bin/sh'];
    process.exitCode = await execInEnvironment(parsed.name, command, { types: parsed.types, cwd: parsed.wd });
  } catch (err) {
    process.exitCode = reportError(err, EXIT_NSM_FAILED);
  }
  return true;
}
