/**
 * Scan the host into the read-side model: processes, the namespaces they are in,
 * and the namespaces held only by an open fd, a thread, or a bind mount.
 *
 * Model first, print last (as lsns does: read_processes, read_namespaces, show).
 * The raw /proc walk runs in the native helper (src/sys/native-scan.ts explains why);
 * this module turns its records into namespaces and adds the nsfs mounts.
 */
import { errnoOf } from '../sys/errors.js';
import { rawScan, rawScanSync, type RawScan } from '../sys/native-scan.js';
import { NS_TYPE_NAMES, type NsType } from '../sys/nstypes.js';
import { nsfsMounts } from '../sys/parse.js';
import { ProcFs } from '../sys/procfs.js';
import type { HostScan, Namespace, ProcessInfo, ScanStats } from './model.js';

export interface ScanOptions {
  /** Root of procfs; tests point it at a fixture tree. */
  procRoot?: string;
  /** Namespace types to read (default: all eight). */
  types?: readonly NsType[];
  /** Look for namespaces held by open file descriptors (default true). */
  fds?: boolean;
  /** Look for namespaces held by nsfs bind mounts (default true). */
  mounts?: boolean;
  /** Look into the threads of multi-threaded processes (default true): setns(2) acts per thread. */
  threads?: boolean;
}

export async function scanHost(options: ScanOptions = {}): Promise<HostScan> {
  return assemble(options, await rawScan(options));
}

/** The same scan, blocking; for callers that cannot await. */
export function scanHostSync(options: ScanOptions = {}): HostScan {
  return assemble(options, rawScanSync(options));
}

class NamespaceTable {
  private readonly byInode = new Map<number, Namespace>();

  get(type: NsType, inode: number): Namespace {
    let ns = this.byInode.get(inode);
    if (!ns) {
      ns = { type, inode, pids: [], threads: [], fds: [], mounts: [], owners: [] };
      this.byInode.set(inode, ns);
    }
    return ns;
  }

  sorted(): Namespace[] {
    return [...this.byInode.values()].sort((a, b) => a.inode - b.inode);
  }
}

function assemble(options: ScanOptions, raw: RawScan): HostScan {
  const types = options.types ?? NS_TYPE_NAMES;
  const stats: ScanStats = { gone: raw.gone, denied: raw.denied };
  const processes = new Map<number, ProcessInfo>();
  const table = new NamespaceTable();
  // Workers print in any order; pids ascending make "lowest PID" the first entry of each list.
  raw.processes.sort((a, b) => a.pid - b.pid);
  for (const p of raw.processes) {
    processes.set(p.pid, { pid: p.pid, ppid: p.ppid, comm: p.comm, startTime: p.startTime, ns: p.ns });
    for (const type of types) {
      const inode = p.ns[type];
      if (inode !== undefined) table.get(type, inode).pids.push(p.pid);
    }
  }
  for (const t of raw.threads) table.get(t.type, t.inode).threads.push({ pid: t.pid, tid: t.tid });
  for (const f of raw.fds) table.get(f.type, f.inode).fds.push({ pid: f.pid, fd: f.fd });
  if (options.mounts !== false) readNsfsMounts(new ProcFs(options.procRoot), processes, types, table, stats);
  return { processes, namespaces: table.sorted(), stats };
}

/**
 * nsfs bind mounts (ip netns add, nsm --pin, unshare --net=FILE) keep a namespace alive
 * with no process in it. Mounts live in mount namespaces, so read our own mountinfo and
 * one process's per other mount namespace; lsns's NSFS column shows only our own.
 */
function readNsfsMounts(
  proc: ProcFs,
  processes: Map<number, ProcessInfo>,
  types: readonly NsType[],
  table: NamespaceTable,
  stats: ScanStats,
): void {
  let selfMnt: number | undefined;
  try {
    selfMnt = proc.readNsEntry('self', 'mnt')?.inode;
  } catch {
    selfMnt = undefined;
  }
  // One reader per mount namespace: ourselves first, then the lowest pid of each other one.
  const readers = new Map<number | undefined, number | 'self'>([[selfMnt, 'self']]);
  for (const p of processes.values()) {
    const mnt = p.ns.mnt;
    if (mnt !== undefined && !readers.has(mnt)) readers.set(mnt, p.pid);
  }
  const seen = new Set<string>();
  for (const [mntNs, reader] of readers) {
    let mounts;
    try {
      mounts = nsfsMounts(proc.readMountinfo(reader));
    } catch (err) {
      // Another mount namespace's reader may have exited (ENOENT/ESRCH), be exiting (EINVAL:
      // fs/proc_namespace.c mounts_open_common() once exit has dropped its nsproxy), or be
      // another user's (EACCES): skip it as the process scan does. Our own must be readable.
      const errno = errnoOf(err);
      if (reader === 'self' || !['ENOENT', 'ESRCH', 'EINVAL', 'EACCES', 'EPERM'].includes(errno ?? '')) throw err;
      stats[errno === 'EACCES' || errno === 'EPERM' ? 'denied' : 'gone']++;
      continue;
    }
    for (const m of mounts) {
      if (!types.includes(m.type)) continue;
      const key = `${m.inode}\0${mntNs}\0${m.mountPoint}`;
      if (seen.has(key)) continue;
      seen.add(key);
      table.get(m.type, m.inode).mounts.push({ path: m.mountPoint, mntNs, visible: reader === 'self' });
    }
  }
}
