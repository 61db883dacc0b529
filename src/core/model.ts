/**
 * The read-side model: plain records the scanner fills and every command renders.
 * Nothing here prints or formats; src/ui turns these into tables and JSON.
 */
import type { NsType } from '../sys/nstypes.js';

/** One process as seen during a scan. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Kernel command name (/proc/PID/stat field 2, at most 15 bytes). */
  comm: string;
  /**
   * Command line (arguments joined by spaces) as the scanner read it; set for the lowest
   * pid of each namespace at least (often more), undefined where it was not read.
   */
  cmdline?: string;
  /** /proc/PID/cgroup as the scanner read it; set for the lowest pid of each namespace at least. */
  cgroup?: string;
  /** Owner of /proc/PID: the effective uid (root for a non-dumpable process), as lsns's UID. */
  uid: number;
  /** Start time in clock ticks after boot (stat field 22): (pid, startTime) identifies a process across PID reuse. */
  startTime: number;
  /** Inode of each namespace the process is in; a type is missing when its link was unreadable. */
  ns: Partial<Record<NsType, number>>;
}

/** How a namespace is kept alive (namespaces(7): a process in it, an open fd, or a bind mount). */
export type HeldBy = 'procs' | 'threads' | 'fd' | 'mount' | 'socket';

export interface NsFdHolder {
  pid: number;
  fd: number;
}

export interface NsThreadMember {
  pid: number;
  tid: number;
}

export interface NsMount {
  /** Where the namespace file is bind-mounted. */
  path: string;
  /** Inode of the mount namespace in which that mount point exists. */
  mntNs?: number;
  /** True when the mount is visible in nsm's own mount namespace (lsns's NSFS column shows only these). */
  visible: boolean;
}

/** Who a namespace belongs to, e.g. {kind:'netns', id:'blue', name:'blue'}. Kinds grow with attribution sources. */
export interface Attribution {
  kind: string;
  id: string;
  name: string;
}

/** One namespace found on the host. */
export interface Namespace {
  type: NsType;
  inode: number;
  /**
   * 64-bit namespace ID (ioctl NS_GET_ID, Linux 6.18): never reused until reboot, unlike the
   * inode. undefined on older kernels or where no holder could be opened.
   */
  id?: number;
  /** Processes in it (thread-group leaders), ascending: lsns's NPROCS counts these. */
  pids: number[];
  /** Threads inside it whose process (thread-group leader) is in another namespace of this type. */
  threads: NsThreadMember[];
  /** Open file descriptors referring to it. */
  fds: NsFdHolder[];
  /** nsfs bind mounts of it. */
  mounts: NsMount[];
  /**
   * Socket fds in it (net only; SIOCGSKNS, root only). The scan records one per net
   * namespace and scanner worker; `nsm why` asks for every one.
   */
  sockets?: NsFdHolder[];
  /** Owning user namespace (NS_GET_USERNS); only filled when relations were asked for. */
  owner?: number;
  /** Parent namespace (NS_GET_PARENT, pid and user only); only filled when relations were asked for. */
  parent?: number;
  /** For a user namespace: uid of its creator (NS_GET_OWNER_UID). */
  creatorUid?: number;
  /** Whom it belongs to (ip netns name, nsm environment, container ...). */
  owners: Attribution[];
}

export interface ScanStats {
  /** Processes listed in /proc that vanished before they could be read (ENOENT/ESRCH). */
  gone: number;
  /** Processes or links we may not read (EACCES): other users' when unprivileged. */
  denied: number;
}

export interface HostScan {
  /** Every process read, by pid. */
  processes: Map<number, ProcessInfo>;
  /** Every namespace found, ascending by inode (as lsns sorts). */
  namespaces: Namespace[];
  stats: ScanStats;
}

/** Which holders keep a namespace alive. */
export function heldBy(ns: Namespace): HeldBy[] {
  const held: HeldBy[] = [];
  if (ns.pids.length > 0) held.push('procs');
  if (ns.threads.length > 0) held.push('threads');
  if (ns.fds.length > 0) held.push('fd');
  if (ns.mounts.length > 0) held.push('mount');
  // A socket is shown only where nothing else is: any process's net namespace has sockets.
  if ((ns.sockets?.length ?? 0) > 0 && held.length === 0) held.push('socket');
  return held;
}
