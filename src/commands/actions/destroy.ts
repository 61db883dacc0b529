import { destroyEnvironments } from '../../core/destroy.js';
import { UsageError } from '../../sys/errors.js';
import { stdoutSync } from '../../sys/stdio.js';
import { printJson } from '../../ui/json.js';
import { formatDestroyed } from '../../ui/lifecycle-view.js';
import type { destroyOptions } from '../destroy.js';
import type { OptionsOf } from '../spec.js';

export async function run([names]: [string[]], opts: OptionsOf<typeof destroyOptions>): Promise<void> {
  if (opts.all && names.length > 0) throw new UsageError('give environment names or --all, not both');
  if (opts.forget && (opts.force || opts.timeout !== undefined)) throw new UsageError('--forget signals nothing: it takes no --force or --timeout');
  if (!opts.all && names.length === 0) throw new UsageError('which environment? give its name (or --all)');
  const outcome = await destroyEnvironments(opts.all ? 'all' : names, {
    force: opts.force,
    graceMs: opts.timeout, // parseSeconds: milliseconds
    forget: opts.forget,
  });
  // Written to the descriptors (the command is lean: src/commands/spec.ts).
  if (opts.json) printJson({ destroyed: outcome.results }, stdoutSync);
  else if (outcome.results.length > 0 || opts.all) stdoutSync.write(formatDestroyed(outcome.results));
  if (outcome.error) throw outcome.error;
}
