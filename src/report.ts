/**
 * The one place an error becomes a line on stderr and an exit code (src/cli.ts calls it;
 * the library's users get the errors themselves).
 */
import { echoInput, EXIT_NSM_FAILED, EXIT_USAGE, NsmError, SysError } from './sys/errors.js';
import { stderrSync } from './sys/stdio.js';
import { escapeText } from './sys/escape.js';

/** commander's own errors (CommanderError: unknown option, missing argument, --help shown ...). */
function isCommanderError(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | undefined)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('commander.');
}

/** Print one line for `err` (on fd 2, synchronously: src/sys/stdio.ts) and return the exit code it maps to. */
export function reportError(err: unknown, failureCode?: number): number {
  const debug = process.env.NSM_DEBUG === '1';
  if (isCommanderError(err)) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
      return 0;
    }
    // "error: unknown command 'lst'\n(Did you mean ls?)" -> one line.
    stderrSync.write(`nsm: ${tidyCommanderMessage(err.message)}\n`);
    return failureCode ?? EXIT_USAGE;
  }
  if (err instanceof NsmError) {
    // Messages quote names, paths and file contents that others may have written: one line each.
    stderrSync.write(`nsm: ${escapeText(err.message)}\n`);
    if (err.hint) stderrSync.write(`hint: ${escapeText(err.hint)}\n`);
    if (debug && err.stack) stderrSync.write(`${err.stack}\n`);
    // 126/127 (command not executable / not found) are the command's outcome, not nsm's.
    return failureCode !== undefined && err.exitCode < EXIT_NSM_FAILED ? failureCode : err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && e.code.startsWith('E')) {
    return reportError(SysError.fromNode(e), failureCode);
  }
  // A bug, not a user error: still one line, stack only with NSM_DEBUG=1.
  stderrSync.write(`nsm: internal error: ${escapeText(e?.message ?? String(err))}\n`);
  if (debug && e?.stack) stderrSync.write(`${e.stack}\n`);
  else stderrSync.write('hint: run again with NSM_DEBUG=1 for a stack trace\n');
  return failureCode ?? 1;
}

function tidyCommanderMessage(text: string): string {
  // Commander puts suggestions on their own line in parentheses: "(Did you mean ls?)". It
  // quotes the user's words ("unknown option '--x'"): those are cut and escaped (echoInput).
  const tidy = text
    .replace(/'([^']+)'/g, (_m, word: string) => `'${echoInput(word)}'`)
    .replace(/^error: /, '')
    .replace(/\(Did you mean/g, '(did you mean')
    .replace(/\s+/g, ' ')
    .trim();
  return escapeText(tidy);
}

