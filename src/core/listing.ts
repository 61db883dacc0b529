/**
 * `nsm ls` as a library call: every namespace on the host with lsns's columns and nsm's
 * own (HELD, NAME, threads/fd/mount-only namespaces).
 */
import { hasErrno, NsmError } from '../sys/errors.js';
import { closeSync, fstatSync } from 'node:fs';
import { nsRelations, socketNetnsFd } from '../sys/libc.js';
import { NetnsIdResolver, type NetnsId } from '../sys/netlink.js';
import { NS_TYPE_NAMES, type NsType } from '../sys/nstypes.js';
import type { ContainerPaths } from '../sys/containers.js';
import { ProcFs } from '../sys/procfs.js';
import { effectiveUid } from '../sys/statefs.js';
import { userName } from '../sys/users.js';
import { attribute, matchesOwner, type OwnerFilter } from './attribution.js';
import { heldBy, type Attribution, type HeldBy, type HostScan, type Namespace, type ScanStats } from './model.js';
import { judgeEnvironments } from './registry/attribution-names.js';
import type { EnvironmentListing } from './registry/list.js';
import { scanHost } from './scan.js';
import { concrete, namespaceFileOf, resolveTarget, type TargetSpec } from './target.js';

/** One row of `nsm ls`: the namespace plus facts about its lowest-pid process. */
export interface NamespaceSummary {
  ns: number;
  type: NsType;
  nprocs: number;
  /** Lowest pid in the namespace; undefined when no process is in it (held by fd/mount/thread only). */
  pid?: number;
  ppid?: number;
  command?: string;
  uid?: number;
  user?: string;
  /** A path that refers to the namespace: /proc/PID/ns/TYPE, the bind mount, or the holding fd. */
  path: string;
  netnsid?: NetnsId;
  /** Where it is bind-mounted (in nsm's own mount namespace first). */
  nsfs: string[];
  pns?: number;
  ons?: number;
  /** Set once ioctl_ns(2) was asked: PNS/ONS then print 0 where there is none, as lsns does. */
  related?: boolean;
  held: HeldBy[];
  owners: Attribution[];
  /**
   * No process of it is visible, but the scan could not read some processes' namespaces
   * (EACCES: another user's, proc(5)'s ptrace check): nprocs 0 is then not known to be true.
   */
  processesHidden?: boolean;
  /** The underlying model record (pids, fds, mounts, threads). */
  detail: Namespace;
}

export interface ListOptions {
  procRoot?: string;
  types?: readonly NsType[];
  /** Only the namespaces of this process (lsns -p). */
  pid?: number;
  /**
   * Only the namespaces of this target (ls -p with any target form): a process's (a pid,
   * an environment's holder, an owner's init), or the one namespace of a file target
   * (netns:NAME, a path, ns:INODE).
   */
  target?: TargetSpec;
  /** Only this namespace (lsns's positional argument). */
  inode?: number;
  /** Fill PNS/ONS (ioctl_ns(2): loads koffi). */
  relations?: boolean;
  /** Fill NETNSID (rtnetlink: loads koffi). */
  netnsid?: boolean;
  /** Only namespaces with an owner matching one of these (`--owner`); empty or absent: all. */
  owners?: readonly OwnerFilter[];
  /** Where container runtimes keep their state (default: their standard paths). */
  containerPaths?: Partial<ContainerPaths>;
  /** Record every socket fd of each net namespace (nsm why), not one per namespace. */
  allSockets?: boolean;
}

export interface NamespaceListing {
  namespaces: NamespaceSummary[];
  /**
   * nsm's environments, from the same load of the records and judged against the same scan
   * as the namespaces' nsm:NAME owners, so the two agree.
   */
  environments: EnvironmentListing;
  stats: ScanStats;
  scan: HostScan;
  /** Processes whose namespaces could not be read (hiddenProcesses()): no row counts them. */
  hiddenProcesses: number;
}

/**
 * Processes of the scan whose namespaces the caller may not read: another user's, for a caller
 * other than root (proc(5): /proc/PID/ns needs ptrace read access). Root is refused only by
 * a sandbox's init or an LSM; those are not counted, so root's counts stay as lsns's.
 */
export function hiddenProcesses(stats: ScanStats): number {
  return effectiveUid() === 0 ? 0 : stats.denied;
}

export async function listNamespaces(options: ListOptions = {}): Promise<NamespaceListing> {
  const procfs = new ProcFs(options.procRoot);
  // Resolved before the scan: an unknown target is an error before any work.
  const only = options.target !== undefined ? targetNamespaces(options.target, procfs) : undefined;
  const scan = await scanHost({ procRoot: options.procRoot, types: options.types, allSockets: options.allSockets });
  const environments = judgeEnvironments(scan, options.types ?? NS_TYPE_NAMES);
  attribute(scan, { procRoot: options.procRoot, paths: options.containerPaths, environmentNames: environments.names });

  let wanted: Set<number> | undefined;
  if (options.pid !== undefined) {
    const p = scan.processes.get(options.pid);
    if (!p) throw new NsmError(`no process with PID ${options.pid}`);
    wanted = new Set(Object.values(p.ns));
  }
  if (only?.inode !== undefined) wanted = new Set([only.inode]);
  else if (only?.pid !== undefined) {
    const p = scan.processes.get(only.pid);
    if (!p) throw new NsmError(`${only.label}: no such process`);
    wanted = new Set(Object.values(p.ns));
  }

  const hidden = hiddenProcesses(scan.stats);
  const netns = options.netnsid ? new NetnsIdResolver() : undefined;
  const rows: NamespaceSummary[] = [];
  try {
    for (const ns of scan.namespaces) {
      if (wanted && !wanted.has(ns.inode)) continue;
      if (options.inode !== undefined && ns.inode !== options.inode) continue;
      if (options.owners && !matchesOwner(ns.owners, options.owners)) continue;
      const row = summarize(procfs, scan, ns);
      if (!row) continue;
      if (row.nprocs === 0 && hidden > 0) row.processesHidden = true;
      const socketOnly = row.held.length === 1 && row.held[0] === 'socket';
      if (options.relations && !socketOnly) addRelations(row);
      if (netns && ns.type === 'net') row.netnsid = socketOnly ? socketNetnsid(netns, ns) : netns.lookup(row.path);
      rows.push(row);
    }
  } finally {
    netns?.close();
  }
  return { namespaces: rows, environments: environments.listing, stats: scan.stats, scan, hiddenProcesses: hidden };
}

/**
 * Build the row from the lowest-pid process. Its command line normally comes with the scan
 * (C records: read in the same walk, so the row is as the host was at that moment). Where
 * Node must read it, the process may have exited since the scan; then it no longer counts,
 * the next pid stands in, and a namespace left with no holder at all is dropped: a row is
 * either complete and true at one moment or absent.
 */
function summarize(procfs: ProcFs, scan: HostScan, ns: Namespace): NamespaceSummary | undefined {
  while (ns.pids.length > 0) {
    const pid = ns.pids[0]!;
    try {
      const p = scan.processes.get(pid)!;
      // The scanner read the lowest pid's command line during its walk; else read it now.
      // trimEnd: a title written over argv may be padded (setproctitle(3)); never shown.
      const command = (p.cmdline ?? procfs.readCmdline(pid).join(' ')).trimEnd();
      const uid = p.uid;
      return {
        ...base(ns),
        nprocs: ns.pids.length,
        pid,
        ppid: p.ppid,
        // Kernel threads and zombies have an empty cmdline: show the comm, as lsns does.
        command: command !== '' ? command : p.comm,
        uid,
        user: userName(uid),
        path: procfs.path(pid, 'ns', ns.type),
      };
    } catch (err) {
      if (!hasErrno(err, 'ENOENT', 'ESRCH', 'EACCES')) throw err;
      ns.pids.shift();
      scan.stats.gone++;
    }
  }
  const socket = ns.sockets?.[0];
  if (ns.mounts.length === 0 && ns.fds.length === 0 && ns.threads.length === 0) {
    // Held by a socket alone (SIOCGSKNS): the path names that socket's fd, which does not
    // open as a namespace file (so no PNS/ONS/NETNSID for it).
    return socket ? { ...base(ns), nprocs: 0, path: procfs.path(socket.pid, 'fd', String(socket.fd)) } : undefined;
  }
  const mount = ns.mounts.find((m) => m.visible) ?? ns.mounts[0];
  const fd = ns.fds[0];
  const thread = ns.threads[0];
  const path =
    mount?.visible ? mount.path
    : fd ? procfs.path(fd.pid, 'fd', String(fd.fd))
    : thread ? procfs.path(thread.pid, 'task', String(thread.tid), 'ns', ns.type)
    : mount!.path;
  return { ...base(ns), nprocs: 0, path };
}

function base(ns: Namespace): Omit<NamespaceSummary, 'nprocs' | 'path'> {
  const visible = ns.mounts.filter((m) => m.visible).map((m) => m.path);
  // A mount namespace copied from ours (unshare -m, ip netns exec) holds copies of our
  // mounts at the same paths: list only mounts that exist in other namespaces alone.
  const elsewhere = ns.mounts.filter((m) => !m.visible && !visible.includes(m.path)).map((m) => `${m.path} (mnt:${m.mntNs})`);
  return {
    ns: ns.inode,
    type: ns.type,
    nsfs: [...visible, ...elsewhere],
    held: heldBy(ns),
    owners: ns.owners,
    detail: ns,
  };
}

/**
 * NETNSID of a net namespace held only by sockets: its path (the socket's fd) does not open
 * as a namespace file, so ask through a copy of the socket (SIOCGSKNS), as lsns does. The
 * namespace that opens must still be this one (the fd may have been closed and reused).
 */
function socketNetnsid(netns: NetnsIdResolver, ns: Namespace): NetnsId | undefined {
  for (const s of ns.sockets ?? []) {
    const fd = socketNetnsFd(s.pid, s.fd);
    if (fd === undefined) continue;
    try {
      if (fstatSync(fd).ino === ns.inode) return netns.lookupFd(fd);
    } finally {
      closeSync(fd);
    }
  }
  return undefined;
}

/** PNS and ONS from ioctl_ns(2) on the row's path; a path that vanished leaves them empty. */
export function addRelations(row: NamespaceSummary): void {
  try {
    const rel = nsRelations(row.path);
    row.related = true;
    row.ons = rel.owner;
    if (row.detail.id === undefined && rel.id !== undefined) row.detail.id = rel.id;
    row.pns = rel.parent;
    row.detail.owner = rel.owner;
    row.detail.parent = rel.parent;
    row.detail.creatorUid = rel.ownerUid;
  } catch (err) {
    if (!hasErrno(err, 'ENOENT', 'ESRCH', 'EACCES')) throw err;
  }
}

/** One process of a namespace, as `lsns NS` lists them. */
export interface NamespaceProcess {
  pid: number;
  ppid: number;
  uid: number;
  user: string;
  command: string;
}

/**
 * The processes in one listed namespace (lsns's positional argument lists these), with their
 * command lines; one that exited since the scan is left out.
 */
export function namespaceProcesses(listing: NamespaceListing, row: NamespaceSummary, procRoot?: string): NamespaceProcess[] {
  const procfs = new ProcFs(procRoot);
  const out: NamespaceProcess[] = [];
  for (const pid of row.detail.pids) {
    const p = listing.scan.processes.get(pid);
    if (!p) continue;
    let command = p.cmdline;
    if (command === undefined) {
      try {
        command = procfs.readCmdline(pid).join(' ').trimEnd();
      } catch (err) {
        if (!hasErrno(err, 'ENOENT', 'ESRCH', 'EACCES')) throw err;
        continue;
      }
    }
    out.push({ pid, ppid: p.ppid, uid: p.uid, user: userName(p.uid), command: command !== '' ? command : p.comm });
  }
  return out;
}

/** What ls -p TARGET names: a process, or one namespace (file targets). Errors exit 1 (not exec's 125). */
function targetNamespaces(given: TargetSpec, procfs: ProcFs): { label: string; pid?: number; inode?: number } {
  const spec = concrete(given);
  if (spec.kind !== 'file') {
    const t = resolveTarget(spec, procfs);
    return { label: t.label, pid: t.pid };
  }
  return namespaceFileOf(spec);
}
