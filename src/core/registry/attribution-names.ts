/**
 * Environments judged against one scan of the host: which namespaces belong to which live
 * environment (the NAME column of `nsm ls`) and, from the same load of the records and the
 * same scan, each environment's holder state (its ENVIRONMENTS section), so the two agree.
 */
import { NsmError } from '../../sys/errors.js';
import type { NsType } from '../../sys/nstypes.js';
import type { HostScan, Namespace, ProcessInfo } from '../model.js';
import type { EnvRecord } from '../record.js';
import { holderState, livePins, type HolderState } from './holder.js';
import type { ListEnvironmentsOptions } from './layout.js';
import { listingOf, loadRecords, type EnvironmentListing, type LoadedDir } from './list.js';
import { userRecordNamesOwn } from './trust.js';

/** The environments and their namespaces' names, judged against one scan. */
export interface JudgedEnvironments {
  /** As listEnvironments() returns it; a state the scan cannot tell is read from /proc. */
  listing: EnvironmentListing;
  /** Inode -> environment name, for every namespace a live environment recorded. */
  names: Map<number, string>;
}

/**
 * Read the records once and judge them against `scan`, which read `scannedTypes`. A holder
 * is live when the scan has its pid with the recorded start time still in its recorded
 * namespaces (a zombie has left them: exit_task_namespaces); its namespaces are then named
 * after the environment, as are pinned ones (bind-mounted at the recorded pin). A dead
 * environment's inodes may already belong to new namespaces, so they are never named.
 */
export function judgeEnvironments(scan: HostScan, scannedTypes: readonly NsType[], options: ListEnvironmentsOptions = {}): JudgedEnvironments {
  let loaded: LoadedDir;
  try {
    loaded = loadRecords(options);
  } catch (err) {
    // A listing must not fail because the state directory cannot be read; nothing to attribute.
    if (!(err instanceof NsmError)) throw err;
    loaded = { records: [], creating: [], problems: [] };
  }
  const names = namesOf(loaded, scan, options);
  const listing = listingOf(loaded, (record) => stateInScan(record, scan.processes.get(record.holder.pid), scannedTypes, options));
  return { listing, names };
}

/** holderState(record), with the holder judged from the scan's view of it when the scan read any of its types. */
function stateInScan(record: EnvRecord, holder: ProcessInfo | undefined, scannedTypes: readonly NsType[], options: ListEnvironmentsOptions): HolderState {
  const seen = record.types.filter((t) => scannedTypes.includes(t));
  if (seen.length === 0 || record.destroyed) return holderState(record, options);
  const same = holder !== undefined && holder.startTime === record.holder.startTime;
  if (same && seen.some((t) => holder.ns[t] === record.namespaces[t])) return 'running';
  if (livePins(record, options).length > 0) return 'pinned';
  return holder !== undefined && !same ? 'reused' : 'dead';
}

/**
 * For attribution: inode -> environment name for every namespace a *live* environment
 * recorded, judged against `scan` as judgeEnvironments() does (records read once, no further
 * syscalls for a root's own records).
 */
export function environmentNamesByInode(scan: HostScan, options: ListEnvironmentsOptions = {}): Map<number, string> {
  let loaded: LoadedDir;
  try {
    loaded = loadRecords(options);
  } catch (err) {
    // A listing must not fail because the state directory cannot be read; nothing to attribute.
    if (err instanceof NsmError) return new Map();
    throw err;
  }
  return namesOf(loaded, scan, options);
}

function namesOf(loaded: LoadedDir, scan: HostScan, options: ListEnvironmentsOptions): Map<number, string> {
  const names = new Map<number, string>();
  if (loaded.records.length === 0) return names;
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
      if (held) names.set(inode, name);
    }
  }
  return names;
}
