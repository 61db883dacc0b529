import { execInEnvironment } from '../../core/exec.js';
import type { joinOptions } from '../exec.js';
import type { OptionsOf } from '../spec.js';

export async function run([name, command]: [string, string[]], opts: OptionsOf<typeof joinOptions>): Promise<void> {
  process.exitCode = await execInEnvironment(name, command, { types: opts.type, cwd: opts.wd });
}
