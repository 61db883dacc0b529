/**
 * Human text for create, destroy and the environments section of `nsm ls`.
 * The core returns the model; this only formats it.
 */
import type { CreatedEnvironment } from '../core/create.js';
import type { DestroyResult } from '../core/destroy.js';
import type { ListedEnvironment } from '../core/registry.js';
import type { NsType } from '../sys/nstypes.js';
import { userName } from '../sys/users.js';
import { colour } from './colour.js';
import type { Column } from './columns.js';

/** `nsm create`: the name and holder, then one line per namespace with its inode (and pin / netns link). */
export function formatCreated(created: CreatedEnvironment): string {
  const r = created.record;
  const lines = [`created ${colour.bold(r.name)}: holder PID ${r.holder.pid}`];
  const width = Math.max(...r.types.map((t) => t.length));
  for (const type of r.types) {
    const extra: string[] = [];
    if (r.pins[type]) extra.push(`pinned at ${r.pins[type]}`);
    if (type === 'net' && r.netnsLink) extra.push(`ip netns: ${r.netnsLink}`);
    lines.push(`  ${type.padEnd(width)}  ${r.namespaces[type]}${extra.length ? `  ${colour.dim(extra.join(', '))}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The warning printed when create replaced a dead environment of the same name. */
export function replacedWarning(created: CreatedEnvironment): string | undefined {
  const old = created.replaced;
  if (!old) return undefined;
  const why = old.state === 'reused' ? 'its PID now belongs to another process' : 'it has exited';
  return `nsm: warning: environment ${created.record.name} was dead (holder PID ${old.record.holder.pid}: ${why}); recreated it\n`;
}

/** `nsm create --json`. */
export function createdJson(created: CreatedEnvironment): object {
  const r = created.record;
  return {
    name: r.name,
    pid: r.holder.pid,
    namespaces: r.namespaces,
    pins: r.pins,
    netnsLink: r.netnsLink ?? null,
    replaced: created.replaced ? { pid: created.replaced.record.holder.pid, state: created.replaced.state } : null,
  };
}

/** One line per destroyed environment. */
export function formatDestroyed(results: readonly DestroyResult[]): string {
  if (results.length === 0) return 'no environments to destroy\n';
  return results
    .map((r) => {
      const notes: string[] = [];
      if (r.state === 'creating') notes.push('a create that never finished');
      else if (r.state === 'dead' || r.state === 'reused') notes.push(`holder PID ${r.pid} had already exited`);
      else if (r.state === 'pinned') notes.push(`pinned; holder PID ${r.pid} had already exited`);
      else notes.push(`holder PID ${r.pid}`);
      if (r.stopped.length > 0) notes.push(`stopped ${r.stopped.length} process${r.stopped.length === 1 ? '' : 'es'} inside`);
      if (r.pins.length > 0) notes.push(`unmounted ${r.pins.length} pin${r.pins.length === 1 ? '' : 's'}`);
      if (r.netnsLink) notes.push(`removed ${r.netnsLink}`);
      const verb = r.remaining.length > 0 ? colour.yellow('destroyed, but still held:') : 'destroyed';
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
};

/** Columns of the environments section of `nsm ls`. */
export function environmentColumns(now = Date.now()): Column<ListedEnvironment>[] {
  return [
    { id: 'NAME', help: 'environment name', json: 'string', get: (e) => e.name, style: (t) => colour.bold(t) },
    { id: 'TYPES', help: 'namespace types it created', json: 'array', get: (e) => (e.record.types as NsType[]).join(',') },
    { id: 'PID', help: 'holder pid', align: 'right', json: 'number', get: (e) => e.record.holder.pid },
    { id: 'STATE', help: 'running, dead, reused or pinned', json: 'string', get: (e) => e.state, style: (t) => STATE_STYLE[t]?.(t) ?? t },
    { id: 'AGE', help: 'time since creation', align: 'right', json: 'string', get: (e) => age(e.record.createdAt, now) },
    { id: 'USER', help: 'creator', json: 'string', get: (e) => userName(e.record.creatorUid) },
  ];
}
