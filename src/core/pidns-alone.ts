/**
 * Whether an environment's holder is the only process in its pid namespace, found without a
 * host scan: destroy then has nothing to SIGTERM before the holder.
 *
 * A procfs lists the processes of the pid namespace it was mounted for and of the namespaces
 * below it, zombies included (proc(5): "a process ... is visible in a procfs of any pid
 * namespace it has a pid in"; fs/proc/base.c proc_pid_readdir walks that namespace's pids).
 * `nsm create` mounts one for the environment's pid namespace at /proc of its mount namespace,
 * reached from outside as /proc/HOLDER/root/proc. That this mount is such a procfs is checked,
 * not assumed (whoever is root inside can mount anything there): it is a procfs (statfs(2)
 * f_type PROC_SUPER_MAGIC, so its entries are the kernel's), and its PID 1 (every pid
 * namespace's first process, its init: pid_namespaces(7)) has the recorded pid namespace,
 * whose inode our open fd keeps from being reused. A process's pid
 * namespace never changes (setns(2) to a pid namespace moves only its future children), so
 * anything in the namespace has an entry there. An entry hidden from us (hidepid) is one the
 * host scan could not place either (both need ptrace read access: proc(5)).
 *
 * Anything unexpected (no such mount, another procfs mounted over it, not permitted) answers
 * false: the caller scans the host as before. A wrong "alone" (a fake crafted by root inside)
 * signals nothing it should not: it only costs the processes inside their grace time, as they
 * end with the holder (SIGKILL from the kernel).
 */
import { closeSync, constants, openSync, statfsSync } from 'node:fs';
import { ProcFs } from '../sys/procfs.js';

/** statfs(2) f_type of procfs (linux/magic.h). */
const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * True when the procfs at /proc of `holderPid`'s root belongs to the pid namespace `pidNs`
 * (inode) and lists one process: the holder, which is in that namespace.
 */
export function holderAloneInPidNs(holderPid: number, pidNs: number): boolean {
  let fd: number;
  try {
    // Read through an open descriptor: a procfs mounted over this path meanwhile changes nothing.
    // A directory, not followed if a symlink: a FIFO put there cannot block the open.
    fd = openSync(`/proc/${holderPid}/root/proc`, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const proc = new ProcFs(`/proc/self/fd/${fd}`);
    if (statfsSync(proc.root).type !== PROC_SUPER_MAGIC) return false;
    if (proc.readNsEntry(1, 'pid')?.inode !== pidNs) return false;
    return proc.listPids().length === 1;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}
