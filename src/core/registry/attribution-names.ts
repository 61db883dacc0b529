/**
 * Attribution names: which namespaces on the host belong to which live environment, judged
 * against one scan of the host (the NAME column of `nsm ls`).
 */
import { NsmError } from '../../sys/errors.js';
import type { HostScan, Namespace } from '../model.js';
import type { ListEnvironmentsOptions } from './layout.js';
import { loadRecords, type LoadedDir } from './list.js';
import { userRecordNamesOwn } from './trust.js';

/**
 * For attribution: inode -> environment name for every namespace a *live* environment
 * recorded. Liveness is judged against `scan` (holder pid + start time in the scan and
 * still in that namespace, or the namespace bind-mounted at the recorded pin), so this
 * reads the records once and makes no further syscalls. A dead environment's inodes may
 * already belong to new namespaces, so they are never attributed.
 */
export function environmentNamesByInode(scan: HostScan, options: ListEnvironmentsOptions = {}): Map<number, string> {
  const result = new Map<number, string>();
  let loaded: LoadedDir;
  try {
    loaded = loadRecords(options);
  } catch (err) {
    // A listing must not fail because the state directory cannot be read; nothing to attribute.
    if (err instanceof NsmError) return result;
    throw err;
  }
  if (loaded.records.length === 0) return result;
  const byInode = new Map<number, Namespace>(scan.namespaces.map((ns) => [ns.inode, ns]));
  for (const { name, record, stateDirOwner } of loaded.records) {
    const holder = scan.processes.get(record.holder.pid);
    const holderLive = holder !== undefined && holder.startTime === record.holder.startTime;
    // A user's record names only that user's namespaces (see userRecordNamesOwn).
    if (stateDirOwner !== undefined && !(holderLive && userRecordNamesOwn(record, holder, stateDirOwner, options))) continue;
    for (const type of record.types) {
      const inode = record.namespaces[type]!;
      const ns = byInode.get(inode);
      if (!ns || ns.type !== type) continue;
      // Pins are root's (a user's nsm makes none): a user's record naming one is not believed.
      const pinned = stateDirOwner === undefined && ns.mounts.some((m) => m.path === record.pins[type]);
      const held = (holderLive && holder.ns[type] === inode) || pinned;
      if (held) result.set(inode, name);
    }
  }
  return result;
}
