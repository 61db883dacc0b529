import { processesByNamespace } from '../../core/ps.js';
import { parseTarget } from '../../core/target.js';
import { printJson } from '../../ui/json.js';
import { groupingJson, renderGrouping } from '../../ui/ps-view.js';
import type { psOptions } from '../ps.js';
import type { OptionsOf } from '../spec.js';

export async function run(_operands: [], opts: OptionsOf<typeof psOptions>): Promise<void> {
  const grouping = await processesByNamespace({ type: opts.type!, target: opts.pid === undefined ? undefined : parseTarget(opts.pid), owners: opts.owner });
  if (opts.json) printJson(groupingJson(grouping));
  else process.stdout.write(renderGrouping(grouping, { limit: opts.all ? Infinity : opts.limit!, raw: opts.raw, noTruncate: opts.notruncate }));
}
