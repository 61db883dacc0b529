import { execTarget } from '../../core/exec.js';
import { parseTarget } from '../../core/target.js';
import { execOptions } from './join-options.js';
import type { joinOptions } from '../exec.js';
import type { OptionsOf } from '../spec.js';

export async function run([target, command]: [string, string[]], opts: OptionsOf<typeof joinOptions>): Promise<void> {
  process.exitCode = await execTarget(parseTarget(target, true), command, execOptions(opts));
}
