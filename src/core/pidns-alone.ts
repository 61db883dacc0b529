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
 * The path is walked without letting the environment's filesystems answer: whoever is root
 * inside can pivot_root(2) onto, or mount at /proc, a FUSE filesystem whose daemon never
 * replies, and a lookup or open there waits for it (killable only by SIGKILL). So the holder's
 * root is taken as an O_PATH descriptor (no open(2) of the filesystem), "proc" is looked up in
 * it only when that root's filesystem is one the kernel answers alone (a disk or memory
 * filesystem: not FUSE, nor an overlay whose layers could be), the result is again O_PATH, and
 * it is opened only once its mount (fdinfo's mnt_id, looked up in the holder's mountinfo) is a
 * procfs. The descriptors pin their mounts, so none of this can change under us.
 *
 * Anything unexpected (no such mount, another procfs mounted over it, not permitted) answers
 * false: the caller scans the host as before. A wrong "alone" (a fake crafted by root inside)
 * signals nothing it should not: it only costs the processes inside their grace time, as they
 * end with the holder (SIGKILL from the kernel).
 */
import { closeSync, constants, openSync, readFileSync, statfsSync } from 'node:fs';
import { ProcFs } from '../sys/procfs.js';

/** statfs(2) f_type of procfs (linux/magic.h). */
const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * True when the procfs at /proc of `holderPid`'s root belongs to the pid namespace `pidNs`
 * (inode) and lists one process: the holder, which is in that namespace.
 */
export function holderAloneInPidNs(holderPid: number, pidNs: number): boolean {
  const opened: number[] = [];
  const open = (path: string, flags: number): number => {
    const fd = openSync(path, flags);
    opened.push(fd);
    return fd;
  };
  try {
    const mounts = mountTypes(readFileSync(`/proc/${holderPid}/mountinfo`, 'latin1'));
    // open(2) O_PATH: the magic link is followed by the kernel; no filesystem is asked anything.
    const root = open(`/proc/${holderPid}/root`, O_PATH);
    if (!KERNEL_ANSWERED.has(mounts.get(mountIdOf(root))?.type ?? '')) return false;
    // Not followed if a symlink; O_PATH again, so whatever is mounted there is not opened yet.
    const at = open(`/proc/self/fd/${root}/proc`, O_PATH | constants.O_NOFOLLOW | constants.O_DIRECTORY);
    // A whole procfs, not one of its directories bind-mounted there (/proc/1/task lists one "1").
    const mount = mounts.get(mountIdOf(at));
    if (mount?.type !== 'proc' || mount.root !== '/') return false;
    // Read through an open descriptor: a procfs mounted over this path meanwhile changes nothing.
    const fd = open(`/proc/self/fd/${at}`, constants.O_RDONLY | constants.O_DIRECTORY);
    const proc = new ProcFs(`/proc/self/fd/${fd}`);
    if (statfsSync(proc.root).type !== PROC_SUPER_MAGIC) return false;
    if (proc.readNsEntry(1, 'pid')?.inode !== pidNs) return false;
    return proc.listPids().length === 1;
  } catch {
    return false;
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

/** open(2)'s O_PATH on Linux (asm-generic/fcntl.h); node:fs does not export it. */
const O_PATH = 0o10000000;

/**
 * Filesystems whose lookups the kernel answers by itself, with no process (FUSE) behind them:
 * the root the lookup of "proc" starts from must be one. An overlay is not: its layers may be FUSE.
 */
const KERNEL_ANSWERED = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'f2fs', 'bcachefs', 'zfs', 'tmpfs', 'ramfs', 'rootfs']);

/** proc(5) /proc/PID/fdinfo: the mount ("mnt_id:") an fd of ours is on. */
function mountIdOf(fd: number): number {
  const m = /^mnt_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
  if (!m) throw new Error('no mnt_id');
  return Number(m[1]);
}

/** proc(5) mountinfo: each mount's id, the directory of its filesystem it shows (field 4) and type (the field after " - "). */
function mountTypes(mountinfo: string): Map<number, { root: string; type: string }> {
  const types = new Map<number, { root: string; type: string }>();
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fields = line.split(' ');
    types.set(Number(fields[0]), { root: fields[3]!, type: line.slice(sep + 3).split(' ')[0]! });
  }
  return types;
}
