/**
 * Human text for create, destroy and the environments section of `nsm ls`.
 * The core returns the model; this only formats it.
 */
import type { CreatedEnvironment } from '../core/create.js';
import type { DestroyResult } from '../core/destroy.js';
import { limitsOf, type EnvLimits } from '../core/limits.js';
import { AUTO_RANGE, cidrText, vethOf, type EnvNat, type EnvVeth } from '../core/network.js';
import type { EnvRecord, ListedEnvironment } from '../core/registry.js';
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
  lines.push(...resourceLines(r));
  return `${lines.join('\n')}\n`;
}

/** The veth, NAT and limits lines of `nsm create`. */
function resourceLines(r: CreatedEnvironment['record']): string[] {
  const lines: string[] = [];
  const veth = vethOf(r);
  if (veth) {
    const picked = veth.picked ? colour.dim(`  (a free /30 of ${cidrText(AUTO_RANGE)})`) : '';
    lines.push(`  veth    ${veth.hostIf} ${veth.hostAddress} (host) <-> ${veth.envIf} ${veth.envAddress} (inside, default route via ${veth.hostAddress.split('/')[0]})${picked}`);
    if (veth.nat) lines.push(`  nat     ${natText(veth.nat, veth.subnet)}`);
  }
  const limits = limitsOf(r);
  if (limits) {
    lines.push(`  limits  ${limitsText(limits)}`);
    lines.push(`  cgroup  ${limits.cgroups.map((c) => c.dir).join(', ')}`);
  }
  return lines;
}

/** "memory 64 MiB, cpus 0.5, pids 5". */
export function limitsText(l: Pick<EnvLimits, 'memory' | 'cpus' | 'pids'>): string {
  const parts: string[] = [];
  if (l.memory !== undefined) parts.push(`memory ${bytesText(l.memory)}`);
  if (l.cpus !== undefined) parts.push(`cpus ${l.cpus}`);
  if (l.pids !== undefined) parts.push(`pids ${l.pids}`);
  return parts.join(', ');
}

/** What --nat did, in words. */
export function natText(nat: EnvNat, subnet: string): string {
  const where = nat.tool === 'nft' ? `nft table ip ${nat.table}` : `iptables (nat POSTROUTING, filter FORWARD)`;
  return `masquerading ${subnet} via ${where}${nat.forwardingEnabled ? '; IPv4 forwarding turned on (it stays on)' : ''}`;
}

/** Bytes in the largest binary unit of which there is at least one: 64 MiB, 1.4 MiB, 900 KiB, 512 B. */
export function bytesText(n: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= size) return `${n % size === 0 ? n / size : (n / size).toFixed(1)} ${unit}`;
  }
  return `${n} B`;
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
    veth: vethJson(r),
    limits: limitsJson(r),
    replaced: created.replaced ? { pid: created.replaced.record.holder.pid, state: created.replaced.state } : null,
  };
}

/** `veth` of create --json: null without --veth. */
export function vethJson(r: EnvRecord): object | null {
  return vethFieldsJson(vethOf(r));
}

/** The `veth` object of create and inspect --json (one shape for both schemas). */
export function vethFieldsJson(v: EnvVeth | undefined): object | null {
  if (!v) return null;
  return {
    hostIf: v.hostIf,
    envIf: v.envIf,
    hostAddress: v.hostAddress,
    envAddress: v.envAddress,
    subnet: v.subnet,
    picked: v.picked,
    nat: v.nat ? { tool: v.nat.tool, rules: v.nat.rules, table: v.nat.table ?? null, forwardingEnabled: v.nat.forwardingEnabled } : null,
  };
}

/** `limits` of create --json: null without limits. */
export function limitsJson(r: EnvRecord): object | null {
  const l = limitsOf(r);
  if (!l) return null;
  return { memory: l.memory ?? null, cpus: l.cpus ?? null, pids: l.pids ?? null, cgroups: l.cgroups };
}

/** One line per destroyed environment. */
export function formatDestroyed(results: readonly DestroyResult[]): string {
  if (results.length === 0) return 'no environments to destroy\n';
  return results
    .map((r) => {
      const notes: string[] = [];
      if (r.state === 'creating') notes.push(`a create that never finished${r.pid ? `; its holder PID ${r.pid} stopped` : ''}`);
      else if (r.state === 'dead' || r.state === 'reused') notes.push(`holder PID ${r.pid} had already exited`);
      else if (r.state === 'pinned') notes.push(`pinned; holder PID ${r.pid} had already exited`);
      else notes.push(`holder PID ${r.pid}`);
      if (r.stopped.length > 0) notes.push(`stopped ${r.stopped.length} process${r.stopped.length === 1 ? '' : 'es'} inside`);
      if (r.pins.length > 0) notes.push(`unmounted ${r.pins.length} pin${r.pins.length === 1 ? '' : 's'}`);
      if (r.netnsLink) notes.push(`removed ${r.netnsLink}`);
      if (r.veth) notes.push(`deleted veth ${r.veth}`);
      if (r.nat) notes.push('removed its NAT rules');
      if (r.cgroups.length > 0) notes.push(`removed ${r.cgroups.length} cgroup${r.cgroups.length === 1 ? '' : 's'}`);
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
