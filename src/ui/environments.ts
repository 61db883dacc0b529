/**
 * Human text for registry results (gc). The core returns the model; this only formats it.
 */
import type { GcResult, GcRemoved } from '../core/registry/gc.js';
import { colour } from './colour.js';
import { escapeText } from '../sys/escape.js';

function why(r: GcRemoved): string {
  const pid = r.pid === undefined ? '' : ` ${r.pid}`;
  switch (r.reason) {
    case 'dead':
      return `holder PID${pid} exited`;
    case 'reused':
      return `holder PID${pid} exited and the PID was reused`;
    case 'stale-reservation':
      return `creation by nsm PID${pid} never finished`;
    case 'released':
      return 'destroyed earlier; nothing holds its namespaces any more';
  }
}

/** " of uid 1000" for another user's entry (root's gc), else nothing. */
function whose(entry: { uid?: number }): string {
  return entry.uid === undefined ? '' : ` of uid ${entry.uid}`;
}

/** One line per removed (or, with dryRun, removable) record and per record kept back. */
export function formatGcResult(result: GcResult, dryRun = false): string {
  const lines: string[] = [];
  const verb = dryRun ? 'would remove' : 'removed';
  for (const r of result.removed) {
    const also = [r.holderStopped ? `its holder PID ${r.holderStopped} (stopped)` : undefined, r.netnsLink, r.nat ? 'its NAT rules' : undefined, r.cgroups?.length ? `${r.cgroups.length} cgroup${r.cgroups.length === 1 ? '' : 's'}` : undefined].filter(Boolean);
    lines.push(`${verb} ${colour.bold(r.name)}${whose(r)} (${why(r)})${also.length > 0 ? ` and ${also.join(', ')}` : ''}`);
  }
  for (const k of result.kept) lines.push(`kept ${colour.bold(escapeText(k.name))}${whose(k)}: ${k.reason}: ${escapeText(k.message)}`);
  if (lines.length === 0) lines.push('nothing to remove');
  return `${lines.join('\n')}\n`;
}
