import { execTarget } from '../../core/exec.js';
import { parseTarget } from '../../core/target.js';
import { echoInput, UsageError } from '../../sys/errors.js';
import { execOptions } from './join-options.js';
import type { joinOptions } from '../exec.js';
import type { OptionsOf } from '../spec.js';

export async function run([target, command]: [string, string[]], opts: OptionsOf<typeof joinOptions>): Promise<void> {
  // Checked before the target is: exit 125 as every failure of nsm's own (src/cli.ts).
  if (command.length === 0) {
    const t = echoInput(target);
    throw new UsageError(`exec needs a command after the target (nsm exec ${t} -- COMMAND...); nsm enter ${t} starts a shell there`);
  }
  process.exitCode = await execTarget(parseTarget(target, true), command, execOptions(opts));
}
