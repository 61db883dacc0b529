import { inspect } from '../../core/inspect.js';
import { parseTarget } from '../../core/target.js';
import { inspectionJson, renderInspection } from '../../ui/inspect-view.js';
import { printJson } from '../../ui/json.js';
import type { inspectOptions } from '../inspect.js';
import type { OptionsOf } from '../spec.js';

export async function run([target]: [string], opts: OptionsOf<typeof inspectOptions>): Promise<void> {
  const result = await inspect(parseTarget(target));
  if (opts.json) printJson(inspectionJson(result));
  else process.stdout.write(renderInspection(result));
}
