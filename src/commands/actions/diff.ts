import { diff, type Comparison } from '../../core/diff.js';
import { parseTarget } from '../../core/target.js';
import { NsmError, SysError, UsageError } from '../../sys/errors.js';
import { comparisonJson, renderComparison } from '../../ui/diff-view.js';
import { printJson } from '../../ui/json.js';
import type { diffOptions } from '../diff.js';
import type { OptionsOf } from '../spec.js';

/** diff(1), cmp(1): 0 the same, 1 different, 2 trouble. */
const EXIT_DIFFERENT = 1;
const EXIT_TROUBLE = 2;

/** 1 when a compared type differs; 2 when none does but a side could not be read; else 0. */
function statusOf(result: Comparison): number {
  if (result.summary.different > 0) return EXIT_DIFFERENT;
  return result.summary.unknown > 0 ? EXIT_TROUBLE : 0;
}

export function run([a, b]: [string, string], opts: OptionsOf<typeof diffOptions>): void {
  let result: Comparison;
  try {
    result = diff(parseTarget(a), parseTarget(b), { types: opts.type });
  } catch (err) {
    throw trouble(err);
  }
  process.exitCode = statusOf(result);
  // -q: for scripts, the answer is the exit status alone.
  if (opts.quiet) return;
  if (opts.json) printJson(comparisonJson(result));
  else process.stdout.write(renderComparison(result));
}

/** A failure to compare exits 2, as diff(1)'s "trouble": 1 would read as "different". */
function trouble(err: unknown): unknown {
  const e = err instanceof NsmError ? err : typeof (err as NodeJS.ErrnoException)?.code === 'string' ? SysError.fromNode(err) : undefined;
  if (!e || e instanceof UsageError) return err;
  return new NsmError(e.message, { hint: e.hint, exitCode: EXIT_TROUBLE, cause: err });
}
