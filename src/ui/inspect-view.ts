/**
 * `nsm inspect`: the human detail view and the JSON document.
 */
import type { EnvironmentResources } from '../core/env-resources.js';
import type { Inspection } from '../core/inspect.js';
import { bytesText, natText, vethFieldsJson } from './lifecycle-view.js';
import type { IdMapRange } from '../sys/parse.js';
import { colour } from './colour.js';
import { escapeText } from '../sys/escape.js';
import { ownerLabel } from './namespace-columns.js';
import { boxTable } from './table.js';

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** The JSON document (schema: docs/json.md, "nsm inspect --json"). */
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
      id: orNull(n.id),
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
    environment: i.environment ? environmentJson(i.environment) : null,
  };
}

/** `environment` of inspect --json (null unless the target is an environment). */
function environmentJson(e: EnvironmentResources): object {
  const v = e.veth;
  const l = e.limits;
  const nul = <T>(x: T | undefined) => (x === undefined ? null : x);
  return {
    name: e.name,
    adopted: e.adopted ?? null,
    veth: vethFieldsJson(v),
    limits: l
      ? {
          memory: l.memory ? { max: l.memory.max, current: nul(l.memory.current), peak: nul(l.memory.peak), failcnt: nul(l.memory.failcnt), oomKills: nul(l.memory.oomKills), cgroup: l.memory.dir } : null,
          cpus: l.cpus ? { max: l.cpus.max, usageSeconds: nul(l.cpus.usageSeconds), throttledPeriods: nul(l.cpus.throttledPeriods), cgroup: l.cpus.dir } : null,
          pids: l.pids ? { max: l.pids.max, current: nul(l.pids.current), peak: nul(l.pids.peak), refusedForks: nul(l.pids.refusedForks), cgroup: l.pids.dir } : null,
          cgroups: l.cgroups,
        }
      : null,
  };
}

/** The veth and limits lines of an environment. */
function environmentLines(e: EnvironmentResources): string[] {
  const lines: string[] = [];
  if (e.adopted) {
    const a = e.adopted;
    const how = a.heldBy === 'pins' ? `held by bind mounts: ${a.pins.join(' ')}` : `held by nsm:holder PID ${a.holder} (joined them)`;
    lines.push(`adopted  from ${a.target}${a.process ? ` (PID ${a.process.pid})` : ''}; ${how}`);
  }
  if (e.veth) {
    const v = e.veth;
    lines.push(`veth     ${v.hostIf} ${v.hostAddress} (host) <-> ${v.envIf} ${v.envAddress} (inside), default route via ${v.hostAddress.split('/')[0]}`);
    if (v.nat) lines.push(`nat      ${natText(v.nat, v.subnet)}`);
  }
  const l = e.limits;
  if (l && (l.memory || l.cpus || l.pids)) {
    const dash = colour.dim('-');
    const rows: string[][] = [];
    if (l.memory) {
      const m = l.memory;
      const extra = [m.peak !== undefined ? `peak ${bytesText(m.peak)}` : '', m.failcnt ? `${m.failcnt} times at the limit` : '', m.oomKills ? `${m.oomKills} OOM kills` : ''].filter(Boolean);
      rows.push(['memory', bytesText(m.max), m.current === undefined ? dash : `${bytesText(m.current)}${extra.length ? colour.dim(` (${extra.join(', ')})`) : ''}`, m.dir]);
    }
    if (l.cpus) {
      const c = l.cpus;
      const extra = c.throttledPeriods ? colour.dim(` (throttled in ${c.throttledPeriods} periods)`) : '';
      rows.push(['cpus', String(c.max), c.usageSeconds === undefined ? dash : `${c.usageSeconds.toFixed(2)} s of CPU${extra}`, c.dir]);
    }
    if (l.pids) {
      const p = l.pids;
      const extra = [p.peak !== undefined ? `peak ${p.peak}` : '', p.refusedForks ? `${p.refusedForks} forks refused` : ''].filter(Boolean);
      rows.push(['pids', String(p.max), p.current === undefined ? dash : `${p.current}${extra.length ? colour.dim(` (${extra.join(', ')})`) : ''}`, p.dir]);
    }
    lines.push(boxTable(['LIMIT', 'MAX', 'USED', 'CGROUP'], rows, { colAligns: ['left', 'right', 'left', 'left'] }).trimEnd());
  }
  return lines;
}

function mapText(ranges: readonly IdMapRange[]): string {
  if (ranges.length === 0) return 'not written yet (no ids mapped)';
  return ranges.map((r) => `${r.inside}→${r.outside} (${r.count})`).join(', ');
}

export function renderInspection(i: Inspection): string {
  const lines: string[] = [];
  lines.push(`${colour.bold(`PID ${i.pid}`)}  ${escapeText(i.command)}`);
  lines.push(`  user ${escapeText(i.user)} (uid ${i.uid}), parent PID ${i.ppid}, comm ${escapeText(i.comm)}`);
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
  if (i.environment) lines.push(...environmentLines(i.environment));
  return `${lines.join('\n')}\n`;
}
