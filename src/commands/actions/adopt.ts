import { adoptEnvironment } from '../../core/adopt.js';
import { stderrSync, stdoutSync } from '../../sys/stdio.js';
import { replacedWarning } from '../../ui/created-view.js';
import { printJson } from '../../ui/json.js';
import { formatAdopted } from '../../ui/adopted-view.js';
import type { adoptOptions } from '../adopt.js';
import type { OptionsOf } from '../spec.js';

export async function run([name, target]: [string, string], opts: OptionsOf<typeof adoptOptions>): Promise<void> {
  const adopted = await adoptEnvironment(name, target, opts.type ? { types: opts.type } : {});
  const warning = replacedWarning(adopted);
  if (warning) stderrSync.write(warning);
  if (opts.json) printJson({ environment: adopted.record }, stdoutSync);
  else stdoutSync.write(formatAdopted(adopted.record));
}
