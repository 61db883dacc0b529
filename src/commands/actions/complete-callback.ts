import { completionTargets } from '../../core/completion-targets.js';
import { reachableEnvironmentNames } from '../../core/registry/list.js';
import { UsageError } from '../../sys/errors.js';

export function run([what, word]: [string, string | undefined]): void {
  let values: string[];
  if (what === 'envs') values = reachableEnvironmentNames();
  else if (what === 'targets') values = completionTargets(word ?? '');
  else throw new UsageError(`__complete: unknown value kind: ${what} (known: envs, targets)`);
  if (values.length > 0) process.stdout.write(`${values.join('\n')}\n`);
}
