import { metricsText } from '../../core/metrics.js';
import { writeFileAtomic } from '../../sys/statefs.js';
import type { metricsOptions } from '../metrics.js';
import type { OptionsOf } from '../spec.js';

export async function run(_operands: [], opts: OptionsOf<typeof metricsOptions>): Promise<void> {
  const { text } = await metricsText({ ownerNames: opts.ownerNames });
  if (opts.textfile !== undefined) writeFileAtomic(opts.textfile, text, { mode: 0o644 });
  else process.stdout.write(text);
}
