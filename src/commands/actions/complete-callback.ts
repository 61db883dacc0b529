import { reachableEnvironmentNames } from '../../core/registry/list.js';
import { UsageError } from '../../sys/errors.js';

export function run([what]: [string]): void {
  if (what !== 'envs') throw new UsageError(`__complete: unknown value kind: ${what} (known: envs)`);
  const names = reachableEnvironmentNames();
  if (names.length > 0) process.stdout.write(`${names.join('\n')}\n`);
}
