/**
 * What "host" means when inspect says a namespace is shared with the host.
 *
 * The natural reference is PID 1. It is not always readable: /proc/1/ns/* needs ptrace
 * read access to PID 1 (proc(5)), which a sandbox init may refuse even to root, and an
 * unprivileged user never has. Then kthreadd (PID 2, the kernel's first thread) stands
 * in: kernel threads live in the kernel's initial namespaces. When that is unreadable too,
 * the kernel's fixed inode numbers for its initial namespaces are used (nsfs.h).
 */
import { release } from 'node:os';
import { errnoOf, hasErrno } from '../sys/errors.js';
import { initialInode, NS_TYPE_NAMES, type NsType } from '../sys/nstypes.js';
import type { ProcFs } from '../sys/procfs.js';

export type HostReferenceKind = 'pid1' | 'kthreadd' | 'initial-inodes';

export interface HostReference {
  kind: HostReferenceKind;
  /** The process whose namespaces were read (1 or 2); absent for initial-inodes. */
  pid?: number;
  /** Inode of each reference namespace; a type is missing where none is known. */
  ns: Partial<Record<NsType, number>>;
  /** One line saying which reference was used and why. */
  note: string;
}

/** All eight links of `pid`, or the errno name of the first unreadable one. */
function readAll(procfs: ProcFs, pid: number): { ns: Partial<Record<NsType, number>> } | { errno: string } {
  const ns: Partial<Record<NsType, number>> = {};
  for (const type of NS_TYPE_NAMES) {
    try {
      const ref = procfs.readNsEntry(pid, type);
      if (ref) ns[type] = ref.inode;
    } catch (err) {
      // ENOENT for one type: a kernel without it (time before 5.6); for all: no such process.
      if (hasErrno(err, 'ENOENT')) continue;
      return { errno: errnoOf(err) ?? 'EIO' };
    }
  }
  return Object.keys(ns).length > 0 ? { ns } : { errno: 'ENOENT' };
}

function isKthreadd(procfs: ProcFs): boolean {
  try {
    const st = procfs.readStat(2);
    return st.comm === 'kthreadd' && st.ppid === 0;
  } catch {
    return false;
  }
}

export function hostReference(procfs: ProcFs, kernelRelease: string = release()): HostReference {
  const pid1 = readAll(procfs, 1);
  if ('ns' in pid1) return { kind: 'pid1', pid: 1, ns: pid1.ns, note: 'host = the namespaces of PID 1' };
  const why = `PID 1's namespaces are unreadable (${pid1.errno})`;
  // In a pid namespace of its own, PID 2 is an ordinary process, not the kernel's thread.
  if (isKthreadd(procfs)) {
    const pid2 = readAll(procfs, 2);
    if ('ns' in pid2) {
      return { kind: 'kthreadd', pid: 2, ns: pid2.ns, note: `host = the kernel's initial namespaces, read from kthreadd (PID 2): ${why}` };
    }
  }
  const ns: Partial<Record<NsType, number>> = {};
  for (const type of NS_TYPE_NAMES) {
    const inode = initialInode(type, kernelRelease);
    if (inode !== undefined) ns[type] = inode;
  }
  return {
    kind: 'initial-inodes',
    ns,
    note: `host = the kernel's initial namespaces by their fixed inode numbers: ${why}, and so are kthreadd's`,
  };
}
