/**
 * Human and JSON text for `nsm create`. It takes its styles as an argument instead of
 * importing colour.ts: loading chalk is a measurable part of create's time (bench/RESULTS.md),
 * and create only needs it on a terminal or with FORCE_COLOR (commands/create.ts). The core
 * returns the model (the veth and limits too); this only formats it.
 */
import type { CreatedEnvironment } from '../core/create.js';
import type { EnvLimits } from '../core/limits.js';
import type { EnvNat, EnvVeth } from '../core/network.js';
import { colourDecision } from './colour-rules.js';

/** The two styles create's text uses: colour.ts's chalk instance, or plain text. */
export interface TextStyle {
  bold(text: string): string;
  dim(text: string): string;
}

/** No styling at all. */
const PLAIN: TextStyle = { bold: (t) => t, dim: (t) => t };

/** The styles for stdout: PLAIN when colour-rules.ts says no colour, else colour.ts's chalk, loaded now. */
export async function stdoutStyle(): Promise<TextStyle> {
  if (colourDecision() === 'off') return PLAIN;
  return (await import('./colour.js')).colour;
}

/** `nsm create`: the name and holder, then one line per namespace with its inode (and pin / netns link). */
export function formatCreated(created: CreatedEnvironment, style: TextStyle): string {
  const r = created.record;
  const lines = [`created ${style.bold(r.name)}: holder PID ${r.holder.pid}`];
  const width = Math.max(...r.types.map((t) => t.length));
  for (const type of r.types) {
    const extra: string[] = [];
    if (r.pins[type]) extra.push(`pinned at ${r.pins[type]}`);
    if (type === 'net' && r.netnsLink) extra.push(`ip netns: ${r.netnsLink}`);
    lines.push(`  ${type.padEnd(width)}  ${r.namespaces[type]}${extra.length ? `  ${style.dim(extra.join(', '))}` : ''}`);
  }
  lines.push(...resourceLines(created, style));
  return `${lines.join('\n')}\n`;
}

/** The veth, NAT and limits lines of `nsm create`. */
function resourceLines({ veth, vethRange, limits }: CreatedEnvironment, style: TextStyle): string[] {
  const lines: string[] = [];
  if (veth) {
    const picked = veth.picked && vethRange ? style.dim(`  (a free /30 of ${vethRange.address}/${vethRange.prefix})`) : '';
    lines.push(`  veth    ${veth.hostIf} ${veth.hostAddress} (host) <-> ${veth.envIf} ${veth.envAddress} (inside, default route via ${veth.hostAddress.split('/')[0]})${picked}`);
    if (veth.nat) lines.push(`  nat     ${natText(veth.nat, veth.subnet)}`);
  }
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
export function replacedWarning(created: Pick<CreatedEnvironment, 'replaced' | 'record'>): string | undefined {
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
    veth: vethFieldsJson(created.veth),
    limits: limitsJson(created.limits),
    replaced: created.replaced ? { pid: created.replaced.record.holder.pid, state: created.replaced.state } : null,
  };
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
export function limitsJson(l: EnvLimits | undefined): object | null {
  if (!l) return null;
  return { memory: l.memory ?? null, cpus: l.cpus ?? null, pids: l.pids ?? null, cgroups: l.cgroups };
}
