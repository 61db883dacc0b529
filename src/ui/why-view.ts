/**
 * `nsm why`: the holders of one namespace and the release plan, as text. JSON is the
 * report itself (src/core/why.ts).
 */
import type { UsernsLimits, WhyReport } from '../core/why.js';
import { colour } from './colour.js';
import { ownerLabel } from './namespace-columns.js';

function section(title: string, items: string[]): string[] {
  return items.length === 0 ? [] : [colour.bold(title), ...items.map((i) => `  ${i}`)];
}

export function renderWhy(r: WhyReport): string {
  const lines: string[] = [];
  const id = r.id !== undefined ? `  nsid ${r.id}` : '';
  lines.push(`${r.type}:[${r.inode}]${id}${r.names.length > 0 ? `  ${colour.cyan(r.names.map(ownerLabel).join(', '))}` : ''}`);
  if (r.discovered) lines.push(colour.yellow(`  held by nothing but the namespaces it ${r.discovered === 'owner' ? 'owns' : 'parents'}`));
  const more = r.nprocs > r.processes.length ? [colour.dim(`… ${r.nprocs - r.processes.length} more`)] : [];
  lines.push(
    ...section(`processes (${r.nprocs})`, [...r.processes.map((p) => `${p.pid}  ${p.command}`), ...more]),
    ...section('threads of processes elsewhere', r.threads.map((t) => `${t.pid} thread ${t.tid}  ${t.command}`)),
    ...section('open fds', r.fds.map((f) => `${f.pid} fd ${f.fd}  ${f.command}`)),
    ...section('sockets', r.sockets.map((f) => `${f.pid} fd ${f.fd}  ${f.command}`)),
    ...section(
      'bind mounts',
      r.mounts.map((m) => `${m.path}  ${m.ours ? colour.dim('(our mount namespace)') : `in mnt:[${m.mntNs}]${m.mntNsPid !== undefined ? ` (pid ${m.mntNsPid})` : ''}`}`),
    ),
    ...section('owns', r.owned.map((o) => `${o.type}:[${o.inode}]${o.id !== undefined ? ` nsid ${o.id}` : ''}`)),
    ...section('child pid namespaces', r.children.map((o) => `${o.type}:[${o.inode}]${o.id !== undefined ? ` nsid ${o.id}` : ''}`)),
  );
  lines.push(colour.bold('to release it'));
  if (r.plan.length === 0) lines.push(colour.dim('  nothing nsm can name holds it'));
  for (const s of r.plan) lines.push(`  ${s.argv.join(' ')}  ${colour.dim(`# ${s.why}`)}`);
  if (r.refusal) lines.push(colour.yellow(`  (--release refuses: ${r.refusal})`));
  return `${lines.join('\n')}\n`;
}

export function renderUsernsLimits(l: UsernsLimits): string {
  const lines: string[] = [];
  lines.push(`user.max_user_namespaces = ${l.maxUserNamespaces ?? 'unknown'} (per uid, counted in every ancestor user namespace)`);
  for (const u of l.users) {
    lines.push(`uid ${u.uid}: ${u.count}${l.maxUserNamespaces !== undefined ? ` of ${l.maxUserNamespaces}` : ''}`);
    for (const n of u.namespaces) {
      const who = n.discovered ? 'held by the namespaces it owns' : `${n.held.join(',')}${n.pid !== undefined ? ` (pid ${n.pid})` : ''}`;
      lines.push(`  user:[${n.inode}]${n.id !== undefined ? ` nsid ${n.id}` : ''}  ${who}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
