import { execTarget } from '../../core/exec.js';
import { parseTarget } from '../../core/target.js';
import { execOptions } from './join-options.js';
import { UsageError } from '../../sys/errors.js';
import type { joinOptions } from '../exec.js';
import type { OptionsOf } from '../spec.js';

export async function run([target, command]: [string, string[]], opts: OptionsOf<typeof joinOptions>): Promise<void> {
  const spec = parseTarget(target, true);
  const argv = command.length > 0 ? command : [process.env.SHELL || '/bin/sh'];
  if (argv[0] === '') throw new UsageError('empty command');
  process.exitCode = await execTarget(spec, argv, execOptions(opts));
}
