/**
 * Bind mounts of namespace files: pins under an environment's state directory and the
 * /run/netns/NAME link ip-netns(8) reads. A bind-mounted namespace file keeps its namespace
 * alive with no process in it (namespaces(7)). These mounts are made in nsm's own mount
 * namespace, which needs CAP_SYS_ADMIN over it: root only.
 *
 * Synchronous on purpose: a few system calls, and setns(2) moves only the calling thread, so
 * only sync calls are certain to run on the thread whose mount namespace is meant.
 */
import { closeSync, constants, openSync, unlinkSync } from 'node:fs';
import { hasErrno, SysError } from './errors.js';
import { MNT_DETACH, MS, mount, umount2 } from './libc.js';
import { mkdirIfMissing } from './statefs.js';

/** Where ip-netns(8) keeps named network namespaces (NETNS_RUN_DIR in iproute2). */
export const NETNS_RUN_DIR = '/run/netns';

/**
 * Make `dir` a mount point with private propagation (`mount --bind dir dir` then
 * `mount --make-private dir`). A mount namespace file may only be bind-mounted below a
 * private mount: on a shared one the new mount would propagate, possibly into the very
 * namespace it pins, and the kernel refuses such loops (util-linux unshare --mount=FILE
 * asks for a private parent for the same reason).
 */
export function makePrivateMountPoint(dir: string): void {
  mkdirIfMissing(dir, 0o700);
  mount(dir, dir, null, MS.BIND | MS.REC);
  try {
    mount(null, dir, null, MS.PRIVATE);
  } catch (err) {
    umount2(dir, MNT_DETACH);
    throw err;
  }
}

/**
 * Make `dir` a shared mount point, as `ip netns add` does for /run/netns: bind mounts made
 * below it then propagate to mount namespaces copied from ours, and unmounting one here
 * unmounts the copies, so a deleted netns is freed everywhere. mount(2) answers EINVAL for
 * MS_SHARED on a directory that is not a mount point: bind it onto itself first.
 */
export function ensureSharedMountPoint(dir: string): void {
  mkdirIfMissing(dir, 0o755);
  try {
    mount('none', dir, 'none', MS.SHARED | MS.REC);
    return;
  } catch (err) {
    if (!hasErrno(err, 'EINVAL')) throw err;
  }
  mount(dir, dir, 'none', MS.BIND | MS.REC);
  mount('none', dir, 'none', MS.SHARED | MS.REC);
}

/**
 * Bind-mount the namespace file `source` (e.g. /proc/PID/ns/net) at `target`, which is
 * created as an empty file and must not exist (O_EXCL: two creators cannot both get it).
 * @throws SysError open(target) EEXIST when it exists; the mount's error otherwise (target removed).
 */
export function bindNamespaceFile(source: string, target: string): void {
  let fd: number;
  try {
    fd = openSync(target, constants.O_RDONLY | constants.O_CREAT | constants.O_EXCL, 0);
  } catch (err) {
    throw SysError.fromNode(err, 'open', target);
  }
  closeSync(fd);
  try {
    mount(source, target, 'none', MS.BIND);
  } catch (err) {
    removeFile(target);
    throw err;
  }
}

/** Undo bindNamespaceFile: detach the mount (if any) and remove the file. Missing is fine. */
export function unbindNamespaceFile(target: string): void {
  try {
    umount2(target, MNT_DETACH);
  } catch (err) {
    // EINVAL: not a mount point (any more); ENOENT: gone already.
    if (!hasErrno(err, 'EINVAL', 'ENOENT')) throw err;
  }
  removeFile(target);
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (!hasErrno(err, 'ENOENT')) throw SysError.fromNode(err, 'unlink', path);
  }
}
