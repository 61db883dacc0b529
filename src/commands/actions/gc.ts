import { collectGarbage } from '../../core/registry/gc.js';
import { NsmError } from '../../sys/errors.js';
import { formatGcResult } from '../../ui/environments.js';
import { printJson } from '../../ui/json.js';
import type { gcOptions } from '../gc.js';
import type { OptionsOf } from '../spec.js';

export function run(_operands: [], opts: OptionsOf<typeof gcOptions>): void {
  const result = collectGarbage({ dryRun: opts.dryRun });
  if (opts.json) printJson({ dryRun: Boolean(opts.dryRun), ...result });
  else process.stdout.write(formatGcResult(result, opts.dryRun));
  const failed = result.kept.filter((k) => k.reason === 'failed');
  if (failed.length > 0) {
    throw new NsmError(`gc: could not remove ${failed.map((k) => k.name).join(', ')}: ${failed[0]!.message}`);
  }
}
