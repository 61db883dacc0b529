/**
 * koffi bindings to libc. The only module that touches koffi; it is loaded on first use
 * so that commands which need no syscall (most of `nsm ls`) start as fast as Node does.
 *
 * Every wrapper throws SysError(call, errnoName, target) on failure and never exposes
 * pointers or numeric errno to callers.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { errnoName, SysError } from './errors.js';
import { cloneFlags, nsTypeByFlag, nsTypeInfo, type NsType } from './nstypes.js';

// ioctl_ns(2): requests on an open namespace file, _IO(0xb7, n).
const NS_GET_USERNS = 0xb701;
const NS_GET_PARENT = 0xb702;
const NS_GET_NSTYPE = 0xb703;
const NS_GET_OWNER_UID = 0xb704;

/** mount(2) flags used by nsm. */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
} as const;

/** umount2(2) flags. */
export const MNT_DETACH = 0x2;

interface Libc {
  errno(): number;
  unshare(flags: number): number;
  setns(fd: number, nstype: number): number;
  ioctlNoArg(fd: number, request: number): number;
  ioctlUid(fd: number, request: number, out: number[]): number;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number;
  umount2(target: string, flags: number): number;
  sethostname(name: string, len: number): number;
  getxattr(path: string, name: string, value: Buffer, size: number): number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  libc = {
    errno: () => koffi.errno(),
    unshare: lib.func('int unshare(int flags)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    // ioctl is variadic in libc; declare the two shapes nsm uses as fixed prototypes.
    ioctlNoArg: lib.func('int ioctl(int fd, unsigned long request)'),
    ioctlUid: lib.func('int ioctl(int fd, unsigned long request, _Out_ uint32_t *uid)'),
    mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    sethostname: lib.func('int sethostname(const char *name, size_t len)'),
    getxattr: lib.func('long getxattr(const char *path, const char *name, void *value, size_t size)'),
  };
  return libc;
}

/** Throw SysError for a libc call that returned -1. */
function check(rc: number, call: string, target?: string): number {
  if (rc === -1) throw new SysError(call, errnoName(load().errno()), target);
  return rc;
}

function cloneNames(types: readonly NsType[]): string {
  return types.map((t) => `CLONE_NEW${t === 'mnt' ? 'NS' : t.toUpperCase()}`).join('|');
}

/** unshare(2) the calling thread from `types`. */
export function unshare(types: readonly NsType[]): void {
  check(load().unshare(cloneFlags(types)), 'unshare', cloneNames(types));
}

/** unshare(CLONE_FS): required before setns() into a mount namespace from a thread sharing fs attributes (setns(2)). */
export function unshareFs(): void {
  const CLONE_FS = 0x200;
  check(load().unshare(CLONE_FS), 'unshare', 'CLONE_FS');
}

/** setns(2): move the calling thread into the namespace open on `fd`; `type` makes the kernel check it. */
export function setns(fd: number, type: NsType, target?: string): void {
  check(load().setns(fd, nsTypeInfo(type).cloneFlag), `setns(${type})`, target);
}

/** mount(2). */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  check(load().mount(source, target, fstype, flags, data), 'mount', target);
}

/** umount2(2). */
export function umount2(target: string, flags = 0): void {
  check(load().umount2(target, flags), 'umount2', target);
}

/** sethostname(2) in the calling thread's UTS namespace. */
export function sethostname(name: string): void {
  check(load().sethostname(name, Buffer.byteLength(name)), 'sethostname', name);
}

/**
 * getxattr(2) of `path` (following symlinks), up to 256 bytes, which covers
 * security.capability (20-24 bytes). undefined when the file has no such attribute
 * (ENODATA) or its filesystem has no xattrs (ENOTSUP); other errors are thrown.
 */
export function getXattr(path: string, name: string): Buffer | undefined {
  const c = load();
  const buf = Buffer.alloc(256);
  const n = c.getxattr(path, name, buf, buf.length);
  if (n >= 0) return buf.subarray(0, n);
  const errno = errnoName(c.errno());
  if (errno === 'ENODATA' || errno === 'ENOTSUP') return undefined;
  throw new SysError('getxattr', errno, `${path}, ${name}`);
}

/** What the NS_GET_* ioctls tell about one namespace file. */
export interface NsRelations {
  type?: NsType;
  /** Inode of the owning user namespace (NS_GET_USERNS); undefined when not permitted. */
  owner?: number;
  /** Inode of the parent namespace (NS_GET_PARENT; pid and user only); undefined at the top or when not permitted. */
  parent?: number;
  /** For a user namespace: the uid of its creator (NS_GET_OWNER_UID). */
  ownerUid?: number;
}

/** Inode of the namespace an ioctl returned a new fd for, closing the fd. */
function inodeOfNewFd(fd: number): number {
  try {
    return fstatSync(fd).ino;
  } finally {
    closeSync(fd);
  }
}

/**
 * Relations of the namespace at `path` (e.g. /proc/42/ns/pid), from ioctl_ns(2).
 * EPERM (the owner/parent is outside the caller's user namespace, or this is the
 * top of the hierarchy) leaves that field undefined; other errors are thrown.
 */
export function nsRelations(path: string): NsRelations {
  const c = load();
  const fd = openSync(path, 'r');
  try {
    const rel: NsRelations = {};
    const nstype = c.ioctlNoArg(fd, NS_GET_NSTYPE);
    if (nstype >= 0) rel.type = nsTypeByFlag(nstype);
    const userFd = c.ioctlNoArg(fd, NS_GET_USERNS);
    if (userFd >= 0) rel.owner = inodeOfNewFd(userFd);
    else tolerate(c.errno(), 'ioctl(NS_GET_USERNS)', path);
    if (rel.type === 'pid' || rel.type === 'user') {
      const parentFd = c.ioctlNoArg(fd, NS_GET_PARENT);
      if (parentFd >= 0) rel.parent = inodeOfNewFd(parentFd);
      else tolerate(c.errno(), 'ioctl(NS_GET_PARENT)', path);
    }
    if (rel.type === 'user') {
      const out = [0];
      if (c.ioctlUid(fd, NS_GET_OWNER_UID, out) === 0) rel.ownerUid = out[0];
    }
    return rel;
  } finally {
    closeSync(fd);
  }
}

/** ioctl_ns(2): EPERM means "outside your user namespace" or "no parent"; that is an answer, not a failure. */
function tolerate(errno: number, call: string, path: string): void {
  const name = errnoName(errno);
  if (name !== 'EPERM') throw new SysError(call, name, path);
}
