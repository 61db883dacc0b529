/**
 * Scan the host into the read-side model: processes, the namespaces they are in,
 * and the namespaces held only by an open fd, a thread, or a bind mount.
 *
 * Model first, print last (as lsns does: read_processes, read_namespaces, show).
 * The raw /proc walk runs in the native helper (src/sys/native-scan.ts explains why);
 * this module turns its records into namespaces and adds the nsfs mounts.
 */
import { errnoOf } from '../sys/errors.js';
import { rawScan, rawScanSync, type RawScan, type ScanRunner } from '../sys/native-scan.js';
import { NS_TYPE_NAMES, type NsType } from '../sys/nstypes.js';
import type { NsfsMount } from '../sys/parse.js';
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
  /** Scanner worker processes (default: the helper decides from the process count and CPUs). */
  jobs?: number;
  /** Let the scanner read command lines and nsfs mounts once per namespace (default true). */
  reps?: boolean;
  /** Let the scanner read every process's command line (ProcessInfo.cmdline for all). */
  allCmdlines?: boolean;
  /** Read 64-bit namespace IDs (default true; absent on kernels before 6.18). */
  ids?: boolean;
  /** Find net namespaces held by sockets (default true; root only). */
  sockets?: boolean;
  /** Record every socket fd, not one per net namespace (nsm why). */
  allSockets?: boolean;
  /** A helper already running that starts the scan for us (the polling monitor's; async scans only). */
  runner?: ScanRunner;
  /** Aborting kills a scan nsm started itself (async scans only). */
  signal?: AbortSignal;
}

export async function scanHost(options: ScanOptions = {}): Promise<HostScan> {
  return assemble(options, await rawScan(rawOptions(options), options.runner));
}

/** The same scan, blocking; for callers that cannot await. */
export function scanHostSync(options: ScanOptions = {}): HostScan {
  return assemble(options, rawScanSync(rawOptions(options)));
}

/**
 * Finding bind mounts needs each process's mount namespace (one mountinfo read per mount
 * namespace), so the raw scan reads mnt links even when only other types are asked for:
 * `nsm ls -t net` must find a net namespace pinned in another mount namespace as `nsm ls`
 * does. assemble() keeps only the types asked for.
 */
function rawOptions(options: ScanOptions): ScanOptions {
  if (options.mounts === false || options.types === undefined || options.types.includes('mnt')) return options;
  return { ...options, types: [...options.types, 'mnt'] };
}

class NamespaceTable {
  private readonly byInode = new Map<number, Namespace>();

  values(): IterableIterator<Namespace> {
    return this.byInode.values();
  }

  get(type: NsType, inode: number): Namespace {
    let ns = this.byInode.get(inode);
    if (!ns) {
      ns = { type, inode, pids: [], threads: [], fds: [], mounts: [], sockets: [], owners: [] };
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
    processes.set(p.pid, { pid: p.pid, ppid: p.ppid, uid: p.uid, comm: p.comm, cmdline: raw.cmdlines.get(p.pid), cgroup: raw.cgroups.get(p.pid), startTime: p.startTime, ns: p.ns });
    for (const type of types) {
      const inode = p.ns[type];
      if (inode !== undefined) table.get(type, inode).pids.push(p.pid);
    }
  }
  // The raw scan may cover more types than asked (an early scan reads all): keep only ours.
  for (const t of raw.threads) if (types.includes(t.type)) table.get(t.type, t.inode).threads.push({ pid: t.pid, tid: t.tid });
  for (const f of raw.fds) if (types.includes(f.type)) table.get(f.type, f.inode).fds.push({ pid: f.pid, fd: f.fd });
  if (types.includes('net')) for (const s of raw.sockets) table.get('net', s.inode).sockets!.push({ pid: s.pid, fd: s.fd });
  // The scanner reads mountinfo per mount namespace (M records) when it reads mnt links and reps.
  const scannerRead = options.reps !== false;
  if (options.mounts !== false) readNsfsMounts(new ProcFs(options.procRoot), processes, types, table, stats, raw, scannerRead);
  for (const ns of table.values()) {
    const id = raw.ids.get(ns.inode);
    if (id !== undefined) ns.id = id;
  }
  return { processes, namespaces: table.sorted(), stats };
}

/**
 * nsfs bind mounts (ip netns add, nsm --pin, unshare --net=FILE) keep a namespace alive
 * with no process in it. Mounts live in mount namespaces: our own mountinfo gives the ones
 * lsns's NSFS column shows; for every other mount namespace the scanner already read one
 * process's mountinfo (M records), or, for a scan without them, one process per mount
 * namespace is read here.
 */
function readNsfsMounts(
  proc: ProcFs,
  processes: Map<number, ProcessInfo>,
  types: readonly NsType[],
  table: NamespaceTable,
  stats: ScanStats,
  raw: RawScan,
  scannerRead: boolean,
): void {
  let selfMnt: number | undefined;
  try {
    selfMnt = proc.readNsEntry('self', 'mnt')?.inode;
  } catch {
    selfMnt = undefined;
  }
  const seen = new Set<string>();
  const add = (m: NsfsMount, mntNs: number | undefined, visible: boolean): void => {
    if (!types.includes(m.type)) return;
    const key = `${m.inode}\0${mntNs}\0${m.mountPoint}`;
    if (seen.has(key)) return;
    seen.add(key);
    table.get(m.type, m.inode).mounts.push({ path: m.mountPoint, mntNs, visible });
  };
  for (const m of proc.readNsfsMounts('self')) add(m, selfMnt, true);
  if (scannerRead) {
    for (const { mntNs, mount } of raw.nsfsMounts) if (mntNs !== selfMnt) add(mount, mntNs, false);
    return;
  }
  // One reader per other mount namespace: its lowest pid.
  const readers = new Map<number, number>();
  for (const p of processes.values()) {
    const mnt = p.ns.mnt;
    if (mnt !== undefined && mnt !== selfMnt && !readers.has(mnt)) readers.set(mnt, p.pid);
  }
  for (const [mntNs, reader] of readers) {
    let mounts;
    try {
      mounts = proc.readNsfsMounts(reader);
    } catch (err) {
      // The reader may have exited (ENOENT/ESRCH), be exiting (EINVAL: fs/proc_namespace.c
      // mounts_open_common() once exit has dropped its nsproxy), or be another user's
      // (EACCES): skip it as the process scan does.
      const errno = errnoOf(err);
      if (!['ENOENT', 'ESRCH', 'EINVAL', 'EACCES', 'EPERM'].includes(errno ?? '')) throw err;
      stats[errno === 'EACCES' || errno === 'EPERM' ? 'denied' : 'gone']++;
      continue;
    }
    for (const m of mounts) add(m, mntNs, false);
  }
}
