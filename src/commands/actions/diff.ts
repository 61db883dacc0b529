import { diff } from '../../core/diff.js';
import { parseTarget } from '../../core/target.js';
import { comparisonJson, renderComparison } from '../../ui/diff-view.js';
import { printJson } from '../../ui/json.js';
import type { diffOptions } from '../diff.js';
import type { OptionsOf } from '../spec.js';

export function run([a, b]: [string, string], opts: OptionsOf<typeof diffOptions>): void {
  const result = diff(parseTarget(a), parseTarget(b), { types: opts.type });
  if (opts.quiet) {
    // For scripts: the answer is the exit status alone.
    if (!result.allShared) process.exitCode = 1;
    return;
  }
  if (opts.json) printJson(comparisonJson(result));
  else process.stdout.write(renderComparison(result));
}
