import { doctorPassed, runDoctor } from '../../core/doctor.js';
import { NsmError } from '../../sys/errors.js';
import { renderDoctor } from '../../ui/doctor.js';
import { printJson } from '../../ui/json.js';
import type { doctorOptions } from '../doctor.js';
import type { OptionsOf } from '../spec.js';

export async function run(_operands: [], opts: OptionsOf<typeof doctorOptions>): Promise<void> {
  const checks = await runDoctor();
  if (opts.json) printJson({ ok: doctorPassed(checks), uid: process.geteuid?.(), checks });
  else process.stdout.write(renderDoctor(checks));
  const failed = checks.filter((c) => c.status === 'fail');
  if (failed.length > 0) {
    throw new NsmError(`doctor: ${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => c.id).join(', ')}`);
  }
}
