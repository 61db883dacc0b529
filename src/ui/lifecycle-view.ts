/**
 * Human text for destroy and the environments section of `nsm ls` (create's is in
 * created-view.ts). The core returns the model; this only formats it.
 */
import type { DestroyResult } from '../core/destroy.js';
import type { EnvironmentSummary } from './environment-summary.js';
import { colour } from './colour.js';
import { escapeText } from '../sys/escape.js';
import type { Column } from './columns.js';

export { bytesText, createdJson, formatCreated, limitsJson, limitsText, natText, replacedWarning, vethFieldsJson } from './created-view.js';

/** One line per destroyed environment. */
export function formatDestroyed(results: readonly DestroyResult[]): string {
  if (results.length === 0) return 'no environments to destroy\n';
  return results
    .map((r) => {
      const notes: string[] = [];
      if (r.state === 'creating') notes.push(`a create that never finished${r.pid ? `; its holder PID ${r.pid} stopped` : ''}`);
      else if (r.state === 'dead' || r.state === 'reused') notes.push(`holder PID ${r.pid} had already exited`);
      else if (r.state === 'pinned') notes.push(r.adopted ? 'held by pins' : `pinned; holder PID ${r.pid} had already exited`);
      else notes.push(`holder PID ${r.pid}`);
      if (r.stopped.length > 0) notes.push(`stopped ${r.stopped.length} process${r.stopped.length === 1 ? '' : 'es'} inside`);
      if (r.adopted?.forced?.length) notes.push(`adopted; --force signalled PID ${r.adopted.forced.join(', ')}`);
      else if (r.adopted) notes.push(`adopted; its processes left running${r.adopted.left.length > 0 ? ` (${[...new Set(r.adopted.left.filter((h) => h.kind === 'process').map((h) => h.pid))].join(', ') || 'none'})` : ''}`);
      if (r.pins.length > 0) notes.push(`unmounted ${r.pins.length} pin${r.pins.length === 1 ? '' : 's'}`);
      if (r.netnsLink) notes.push(`removed ${r.netnsLink}`);
      if (r.veth) notes.push(`deleted veth ${r.veth}`);
      if (r.nat) notes.push('removed its NAT rules');
      if (r.cgroups.length > 0) notes.push(`removed ${r.cgroups.length} cgroup${r.cgroups.length === 1 ? '' : 's'}`);
      if (r.recordKept) notes.push('record kept for what is left');
      const verb = r.forgotten ? 'forgot' : r.remaining.length > 0 ? colour.yellow('destroyed, but still held:') : 'destroyed';
      return `${verb} ${colour.bold(r.name)} (${notes.join('; ')})\n`;
    })
    .join('');
}

function age(createdAt: string, now: number): string {
  const s = Math.max(0, Math.floor((now - Date.parse(createdAt)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

const STATE_STYLE: Record<string, (t: string) => string> = {
  running: (t) => colour.green(t),
  pinned: (t) => colour.cyan(t),
  dead: (t) => colour.red(t),
  reused: (t) => colour.red(t),
  interrupted: (t) => colour.yellow(t),
  unreadable: (t) => colour.yellow(t),
};

/** A row of the environments section: the summary and its creator's name (sys/users.ts resolves it). */
export type EnvironmentRow = EnvironmentSummary & { user: string };

/** Columns of the environments section of `nsm ls`. */
export function environmentColumns(now = Date.now()): Column<EnvironmentRow>[] {
  return [
    { id: 'NAME', help: 'environment name', json: 'string', get: (e) => e.name, style: (t) => colour.bold(t) },
    { id: 'TYPES', help: 'namespace types it created', json: 'array', get: (e) => e.types.join(',') },
    { id: 'PID', help: 'holder pid', align: 'right', json: 'number', get: (e) => e.pid ?? '' },
    { id: 'STATE', help: 'running, dead, reused, pinned, creating, interrupted or unreadable', json: 'string', get: (e) => e.state, style: (t) => STATE_STYLE[t]?.(t) ?? t },
    { id: 'AGE', help: 'time since creation', align: 'right', json: 'string', get: (e) => (e.createdAt === null || Number.isNaN(Date.parse(e.createdAt)) ? '' : age(e.createdAt, now)) },
    { id: 'USER', help: 'creator', json: 'string', get: (e) => e.user },
  ];
}

/** stderr lines for what a listing could not read: each skipped entry or directory, and why. */
export function listingWarnings(problems: ReadonlyArray<{ name: string; dir: string; message: string }>): string {
  return problems.map((p) => `nsm: warning: skipped ${escapeText(p.dir)}: ${escapeText(p.message)}\n`).join('');
}
