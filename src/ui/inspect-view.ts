/**
 * `nsm inspect`: the human detail view and the JSON document.
 */
import type { Inspection } from '../core/inspect.js';
import type { IdMapRange } from '../sys/parse.js';
import { colour } from './colour.js';
import { ownerLabel } from './namespace-columns.js';
import { boxTable } from './table.js';

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** The JSON document (schema: README, "nsm inspect --json"). */
export function inspectionJson(i: Inspection): object {
  return {
    pid: i.pid,
    ppid: i.ppid,
    comm: i.comm,
    command: i.command,
    args: i.args,
    uid: i.uid,
    user: i.user,
    state: i.state,
    startTime: i.startTime,
    reference: { kind: i.reference.kind, pid: orNull(i.reference.pid), note: i.reference.note },
    namespaces: i.namespaces.map((n) => ({
      entry: n.entry,
      type: n.type,
      ns: orNull(n.inode),
      sharing: n.sharing,
      reference: orNull(n.reference),
      owner: orNull(n.owner),
      owners: n.owners,
      error: orNull(n.error),
    })),
    nspid: i.nspid.map((l) => ({ pid: l.pid, ns: orNull(l.ns) })),
    uidMap: orNull(i.uidMap),
    gidMap: orNull(i.gidMap),
    cgroups: i.cgroups,
    owners: i.owners,
  };
}

function mapText(ranges: readonly IdMapRange[]): string {
  if (ranges.length === 0) return 'not written yet (no ids mapped)';
  return ranges.map((r) => `${r.inside}→${r.outside} (${r.count})`).join(', ');
}

export function renderInspection(i: Inspection): string {
  const lines: string[] = [];
  lines.push(`${colour.bold(`PID ${i.pid}`)}  ${i.command}`);
  lines.push(`  user ${i.user} (uid ${i.uid}), parent PID ${i.ppid}, comm ${i.comm}`);
  // A zombie has left its namespaces except the user and pid ones (its credentials and pid).
  if (i.state === 'Z') lines.push(colour.yellow('  a zombie: it has exited and awaits its parent; only its user and pid namespaces remain'));
  lines.push(colour.dim(`  ${i.reference.note}`));
  lines.push('');

  const rows = i.namespaces.map((n) => {
    const sharing =
      n.sharing === 'host' ? colour.green('host')
      : n.sharing === 'isolated' ? colour.yellow('isolated')
      : colour.dim(n.error ? `unknown (${n.error})` : 'unknown');
    return [
      n.entry,
      n.inode === undefined ? colour.dim('-') : String(n.inode),
      sharing,
      n.owner === undefined ? colour.dim('-') : String(n.owner),
      n.owners.map((o) => colour.cyan(ownerLabel(o))).join(', '),
    ];
  });
  lines.push(boxTable(['NAMESPACE', 'INODE', 'HOST?', 'OWNER USERNS', 'NAME'], rows, { colAligns: ['left', 'right', 'left', 'right', 'left'] }).trimEnd());

  const nspid = i.nspid.map((l) => (l.ns === undefined ? String(l.pid) : `${l.pid} in pid:[${l.ns}]`)).join(' → ');
  lines.push(`NSpid    ${nspid}${i.nspid.length > 1 ? colour.dim('   (outermost first)') : ''}`);
  lines.push(`uid_map  ${i.uidMap ? mapText(i.uidMap) : colour.dim('identity (0→0, all ids)')}`);
  lines.push(`gid_map  ${i.gidMap ? mapText(i.gidMap) : colour.dim('identity (0→0, all ids)')}`);
  // v1 hierarchies mostly share one path: one line per distinct path, naming its hierarchies.
  const byPath = new Map<string, string[]>();
  for (const c of i.cgroups) {
    const label = c.hierarchy === 0 && c.controllers.length === 0 ? 'v2' : c.controllers.join(',') || String(c.hierarchy);
    byPath.set(c.path, [...(byPath.get(c.path) ?? []), label]);
  }
  [...byPath].forEach(([path, labels], k) => {
    const which = i.cgroups.length > 1 ? colour.dim(`  (${labels.join(', ')})`) : '';
    lines.push(`${k === 0 ? 'cgroup ' : '       '}  ${path}${which}`);
  });
  return `${lines.join('\n')}\n`;
}
