/** `nsm inspect` of one namespace without a process (src/core/inspect-namespace.ts): text and JSON. */
import type { NamespaceInspection } from '../core/inspect-namespace.js';
import { colour } from './colour.js';
import { escapeText } from '../sys/escape.js';
import { ownerLabel } from './namespace-columns.js';

export function namespaceInspectionJson(n: NamespaceInspection): object {
  const nul = <T>(x: T | undefined) => (x === undefined ? null : x);
  return {
    kind: 'namespace',
    target: n.label,
    path: n.path,
    type: n.type,
    inode: n.inode,
    id: nul(n.id),
    owner: nul(n.owner),
    parent: nul(n.parent),
    creatorUid: nul(n.creatorUid),
    holders: nul(n.holders),
  };
}

export function renderNamespaceInspection(n: NamespaceInspection): string {
  const h = n.holders;
  const labels = (h?.names ?? []).map(ownerLabel).filter((l) => l !== n.label);
  const names = labels.length > 0 ? `  ${colour.cyan(labels.join(', '))}` : '';
  const lines = [`${colour.bold(`${n.type}:[${n.inode}]`)}  ${escapeText(n.label)}${names}`];
  lines.push(colour.dim('  a namespace, read from its file (no process needs to be in it)'));
  lines.push(`type     ${n.type}`);
  lines.push(`inode    ${n.inode}`);
  if (n.id !== undefined) lines.push(`nsid     ${n.id}`);
  const o = n.owner;
  lines.push(`owner    ${o ? `user:[${o.inode}]${o.uid !== undefined ? ` (created by uid ${o.uid}${o.user ? ` ${escapeText(o.user)}` : ''})` : ''}` : colour.dim('outside your view')}`);
  if (n.type === 'pid' || n.type === 'user') lines.push(`parent   ${n.parent !== undefined ? `${n.type}:[${n.parent}]` : colour.dim('none visible (the top, or outside your view)')}`);
  if (n.creatorUid !== undefined) lines.push(`creator  uid ${n.creatorUid}`);
  if (!h) {
    lines.push(colour.dim('held by  (gone since it was opened)'));
    return `${lines.join('\n')}\n`;
  }
  const held: string[] = [
    ...h.processes.map((p) => `process ${p.pid}  ${escapeText(p.command)}`),
    ...(h.nprocs > h.processes.length ? [colour.dim(`… ${h.nprocs - h.processes.length} more processes`)] : []),
    ...h.threads.map((t) => `thread ${t.tid} of ${t.pid}  ${escapeText(t.command)}`),
    ...h.fds.map((f) => `fd ${f.fd} of ${f.pid}  ${escapeText(f.command)}`),
    ...h.sockets.map((f) => `socket fd ${f.fd} of ${f.pid}  ${escapeText(f.command)}`),
    ...h.mounts.map((m) => `bind mount ${escapeText(m.path)}${m.ours ? '' : ` in mnt:[${m.mntNs}]`}`),
    ...h.owned.map((x) => `owns ${x.type}:[${x.inode}]`),
    ...h.children.map((x) => `child ${x.type}:[${x.inode}]`),
  ];
  lines.push(`held by  ${held.length > 0 ? held[0] : colour.dim('nothing nsm can name')}`);
  for (const l of held.slice(1)) lines.push(`         ${l}`);
  return `${lines.join('\n')}\n`;
}
