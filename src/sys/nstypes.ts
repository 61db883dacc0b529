/**
 * The one table of Linux namespace types. Everything that loops over types
 * (option choices, validation, scanning, joining, columns) reads this table.
 *
 * Facts from namespaces(7), unshare(2), setns(2) and unshare(1). The C side has the same
 * table once, in native/nstypes.h; test/unit/helper-protocol.test.ts checks the two agree.
 */

export type NsType = 'user' | 'cgroup' | 'ipc' | 'uts' | 'net' | 'pid' | 'mnt' | 'time';

export interface NsTypeInfo {
  /** Name as the kernel spells it in /proc/PID/ns and as lsns prints it. */
  readonly name: NsType;
  /** Human label used in help texts. */
  readonly label: string;
  /** CLONE_NEW* flag for unshare(2)/setns(2) (also the value NS_GET_NSTYPE returns). */
  readonly cloneFlag: number;
  /** Entry under /proc/PID/ns/. */
  readonly procEntry: string;
  /**
   * Entry naming the namespace the process's future children get, where the type has one
   * (a process cannot move itself into a new pid or time namespace, only its children).
   */
  readonly forChildrenEntry?: string;
  /** Single-letter flag of unshare(1)/nsenter(1). */
  readonly unshareLetter: string;
  /** Long option of unshare(1)/nsenter(1), also used by `nsm create`. */
  readonly unshareLong: string;
  /** Namespaces of this type form a hierarchy (NS_GET_PARENT works): pid and user only. */
  readonly hierarchical: boolean;
  /** First kernel version with this namespace type. */
  readonly sinceKernel: string;
  /**
   * Inode of the kernel's initial namespace of this type: a constant (include/uapi/linux/nsfs.h,
   * enum init_ns_ino) since `initInodeSince`; earlier kernels numbered net and mnt like any other.
   */
  readonly initInode: number;
  readonly initInodeSince: string;
}

/**
 * Order matters: this is the order nsenter(1) joins namespaces in
 * (util-linux namespace_files[]): user first (to gain privilege over the others;
 * see user_namespaces(7)), mnt after pid and net, time last.
 */
export const NS_TYPES: readonly NsTypeInfo[] = [
  { name: 'user', label: 'user', cloneFlag: 0x10000000, procEntry: 'user', unshareLetter: 'U', unshareLong: 'user', hierarchical: true, sinceKernel: '3.8', initInode: 0xeffffffd, initInodeSince: '3.8' },
  { name: 'cgroup', label: 'cgroup', cloneFlag: 0x02000000, procEntry: 'cgroup', unshareLetter: 'C', unshareLong: 'cgroup', hierarchical: false, sinceKernel: '4.6', initInode: 0xeffffffb, initInodeSince: '4.6' },
  { name: 'ipc', label: 'IPC', cloneFlag: 0x08000000, procEntry: 'ipc', unshareLetter: 'i', unshareLong: 'ipc', hierarchical: false, sinceKernel: '2.6.19', initInode: 0xefffffff, initInodeSince: '3.8' },
  { name: 'uts', label: 'UTS (hostname)', cloneFlag: 0x04000000, procEntry: 'uts', unshareLetter: 'u', unshareLong: 'uts', hierarchical: false, sinceKernel: '2.6.19', initInode: 0xeffffffe, initInodeSince: '3.8' },
  { name: 'net', label: 'network', cloneFlag: 0x40000000, procEntry: 'net', unshareLetter: 'n', unshareLong: 'net', hierarchical: false, sinceKernel: '2.6.29', initInode: 0xeffffff9, initInodeSince: '6.18' },
  { name: 'pid', label: 'PID', cloneFlag: 0x20000000, procEntry: 'pid', forChildrenEntry: 'pid_for_children', unshareLetter: 'p', unshareLong: 'pid', hierarchical: true, sinceKernel: '2.6.24', initInode: 0xeffffffc, initInodeSince: '3.8' },
  { name: 'mnt', label: 'mount', cloneFlag: 0x00020000, procEntry: 'mnt', unshareLetter: 'm', unshareLong: 'mount', hierarchical: false, sinceKernel: '2.4.19', initInode: 0xeffffff8, initInodeSince: '6.18' },
  { name: 'time', label: 'time', cloneFlag: 0x00000080, procEntry: 'time', forChildrenEntry: 'time_for_children', unshareLetter: 'T', unshareLong: 'time', hierarchical: false, sinceKernel: '5.6', initInode: 0xeffffffa, initInodeSince: '5.6' },
];

export const NS_TYPE_NAMES: readonly NsType[] = NS_TYPES.map((t) => t.name);

const BY_NAME = new Map<string, NsTypeInfo>(NS_TYPES.map((t) => [t.name, t]));

export function isNsType(name: string): name is NsType {
  return BY_NAME.has(name);
}

export function nsTypeInfo(name: NsType): NsTypeInfo {
  return BY_NAME.get(name)!;
}

/** Type whose CLONE_NEW* flag is `flag` (as returned by the NS_GET_NSTYPE ioctl). */
export function nsTypeByFlag(flag: number): NsType | undefined {
  return NS_TYPES.find((t) => t.cloneFlag === flag)?.name;
}

/** Bitwise OR of the CLONE_NEW* flags of `types`. */
export function cloneFlags(types: Iterable<NsType>): number {
  let flags = 0;
  for (const t of types) flags |= nsTypeInfo(t).cloneFlag;
  return flags;
}

/** True when kernel `release` (os.release(), "6.18.0-1-amd64") is at least `version` ("6.18"). */
function kernelAtLeast(release: string, version: string): boolean {
  const have = release.split(/[.-]/).map((x) => parseInt(x, 10));
  const want = version.split('.').map(Number);
  for (let i = 0; i < want.length; i++) {
    const h = Number.isNaN(have[i]!) || have[i] === undefined ? 0 : have[i]!;
    if (h !== want[i]) return h > want[i]!;
  }
  return true;
}

/** Inode of the initial namespace of `type` on a kernel of this release, where it is a known constant. */
export function initialInode(type: NsType, release: string): number | undefined {
  const info = nsTypeInfo(type);
  return kernelAtLeast(release, info.initInodeSince) ? info.initInode : undefined;
}
