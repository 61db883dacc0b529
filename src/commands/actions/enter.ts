import { execInEnvironment } from '../../core/exec.js';
import { UsageError } from '../../sys/errors.js';
import type { joinOptions } from '../exec.js';
import type { OptionsOf } from '../spec.js';

export async function run([name, command]: [string, string[]], opts: OptionsOf<typeof joinOptions>): Promise<void> {
  const argv = command.length > 0 ? command : [process.env.SHELL || '/bin/sh'];
  if (argv[0] === '') throw new UsageError('empty command');
  process.exitCode = await execInEnvironment(name, argv, { types: opts.type, cwd: opts.wd });
}
