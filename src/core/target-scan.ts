/**
 * Targets found through a scan of the host (src/core/target.ts has the grammar):
 * - `ns:INODE`, `nsid:ID`: a namespace `nsm ls` shows, reached through a file that holds it
 *   (a process's /proc/PID/ns/TYPE, a thread's, a visible bind mount, an fd);
 * - owner forms as `ls --owner` prints them (`docker:web`, `kubernetes:prod/api`, `systemd:x.service`):
 *   that owner's init process, the lowest pid of the namespaces attribution gives it;
 *   `docker-netns:ID`: that network namespace, as `ns:INODE`.
 * They resolve to a plain pid or file target, which openTarget/resolveTarget then check.
 */
import { NsmError, UsageError } from '../sys/errors.js';
import { statNsFile } from '../sys/nsfile.js';
import { attribute } from './attribution.js';
import type { Namespace } from './model.js';
import { scanHostSync } from './scan.js';

/** The scan-found forms of TargetSpec (spelled out here: target.ts imports this file). */
export type ScannedSpec = { kind: 'ns'; inode?: number; id?: number; text: string } | { kind: 'owner'; owner: string; name: string; text: string };
/** What they resolve to: a process, or a file that holds the namespace. */
export type ScannedTarget = { kind: 'pid'; pid: number; via: string } | { kind: 'file'; path: string; inode: number; via: string };

/** A pid or file target for `spec`; NsmError (exit 1) when nothing matches, UsageError (exit 2) when several owners do. */
export function resolveScanned(spec: ScannedSpec): ScannedTarget {
  const scan = scanHostSync({});
  if (spec.kind === 'ns') {
    const ns = scan.namespaces.find((n) => (spec.id !== undefined ? n.id === spec.id : n.inode === spec.inode));
    if (!ns) throw new NsmError(`${spec.text}: no such namespace on this host (or none visible to you)`, { hint: 'nsm ls lists them' });
    return holderFile(ns, spec.text);
  }
  attribute(scan);
  const matches = (o: { kind: string; id: string; name: string }): boolean =>
    o.kind === spec.owner && (o.name === spec.name || o.id === spec.name || (/^[0-9a-f]+$/.test(spec.name) && /^[0-9a-f]{12,}$/.test(o.id) && o.id.startsWith(spec.name)));
  const owned = scan.namespaces.filter((n) => n.owners.some(matches));
  const owners = new Map<string, string>();
  // Named ones with their short id (docker:web (3f2a…)); unnamed ones are their short id already.
  for (const n of owned) for (const o of n.owners) if (matches(o)) owners.set(o.id, o.id.startsWith(o.name) ? `${o.kind}:${o.name}` : `${o.kind}:${o.name} (${o.id.slice(0, 12)})`);
  if (owners.size === 0) throw new NsmError(`${spec.text}: no such ${spec.owner} owner on this host`, { hint: `nsm ls --owner ${spec.owner} lists them` });
  if (owners.size > 1) throw new UsageError(`${spec.text} is ambiguous: ${[...owners.values()].join(', ')}`);
  if (spec.owner === 'docker-netns' || spec.owner === 'netns' || spec.owner === 'nsm') return holderFile(owned[0]!, spec.text);
  const pids = owned.flatMap((n) => n.pids);
  if (pids.length === 0) throw new NsmError(`${spec.text}: no process of it is running`);
  return { kind: 'pid', pid: Math.min(...pids), via: spec.text };
}

/** A file that holds `ns`, checked by stat() to be it now (opened and checked again by fstat()). */
function holderFile(ns: Namespace, text: string): ScannedTarget {
  const candidates = [
    ...ns.mounts.filter((m) => m.visible).map((m) => m.path),
    ...ns.pids.map((p) => `/proc/${p}/ns/${ns.type}`),
    ...ns.threads.map((t) => `/proc/${t.pid}/task/${t.tid}/ns/${ns.type}`),
    ...ns.fds.map((f) => `/proc/${f.pid}/fd/${f.fd}`),
  ];
  for (const path of candidates) {
    try {
      if (statNsFile(path)?.ino === ns.inode) return { kind: 'file', path, inode: ns.inode, via: text };
    } catch {
      // gone or not ours to see: the next one
    }
  }
  throw new NsmError(`${text}: nothing that holds it can be opened (its holders exited, or are not visible to you)`);
}
