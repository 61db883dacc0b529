/**
 * koffi bindings to libc. The only module that touches koffi; it is loaded on first use
 * so that commands which need no syscall (most of `nsm ls`) start as fast as Node does.
 *
 * Every wrapper throws SysError(call, errnoName, target) on failure and never exposes
 * pointers or numeric errno to callers.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  flock(fd: number, operation: number): number;
  ioctlNoArg(fd: number, request: number): number;
  ioctlUid(fd: number, request: number, out: number[]): number;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number;
  umount2(target: string, flags: number): number;
  sethostname(name: string, len: number): number;
  getxattr(path: string, name: string, value: Buffer, size: number): number;
}

let libc: Libc | undefined;

type Koffi = typeof import('koffi');

/**
 * koffi, loaded the quick way. require('koffi') spends about 6 of its 8 ms in JavaScript
 * around the native module (reading node's ELF header to tell glibc from musl, probing
 * install paths, wrapping deprecated APIs); the native module alone loads in about 2 ms, and
 * `nsm exec` pays this on every run (bench/lifecycle.mjs). So require the glibc prebuilt of
 * koffi's platform package directly when it is there and of koffi's own version; otherwise
 * (musl, another layout or version, any error) go through koffi's loader.
 */
export function loadKoffi(): Koffi {
  const require = createRequire(import.meta.url);
  try {
    // Node's own lookup (require.resolve) costs 3 ms here: walk the node_modules directories
    // above this module as it would, and take the first koffi found.
    for (let dir = dirname(fileURLToPath(import.meta.url)), i = 0; i < 8; dir = dirname(dir), i++) {
      const modules = join(dir, 'node_modules');
      let version: string;
      try {
        version = (JSON.parse(readFileSync(join(modules, 'koffi', 'package.json'), 'utf8')) as { version: string }).version;
      } catch {
        continue;
      }
      const triplet = `${process.platform}_${process.arch}`;
      const pkg = `@koromix/koffi-${process.platform}-${process.arch}`;
      // npm puts koffi's platform package beside koffi, or below it when versions clash.
      for (const base of [modules, join(modules, 'koffi', 'node_modules')]) {
        const file = join(base, pkg, triplet, 'koffi.node');
        if (!existsSync(file)) continue;
        const native = require(file) as Koffi & { version?: string };
        if (native.version === version && typeof native.load === 'function' && typeof native.errno === 'function') return native;
      }
      break;
    }
  } catch {
    // not the layout expected: koffi knows best
  }
  return require('koffi') as Koffi;
}

function load(): Libc {
  if (libc) return libc;
  const koffi = loadKoffi();
  const lib = koffi.load('libc.so.6');
  libc = {
    errno: () => koffi.errno(),
    unshare: lib.func('int unshare(int flags)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    flock: lib.func('int flock(int fd, int operation)'),
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

/**
 * flock(fd, LOCK_EX|LOCK_NB): true when the exclusive lock was taken, false when another
 * open file description holds it (EWOULDBLOCK, which is EAGAIN on Linux; flock(2)).
 * The kernel drops the lock when the last fd of that description closes, so a crashed
 * holder of the lock never leaves it stale.
 */
export function tryLockExclusive(fd: number, target?: string): boolean {
  const LOCK_EX = 2;
  const LOCK_NB = 4;
  const c = load();
  if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
  const errno = errnoName(c.errno());
  if (errno === 'EAGAIN' || errno === 'EWOULDBLOCK') return false;
  throw new SysError('flock', errno, target);
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

/** One namespace reached by walking ioctl_ns(2) links. */
export interface NsLink {
  inode: number;
  /** For a user namespace: the uid of its creator (NS_GET_OWNER_UID). */
  ownerUid?: number;
}

/**
 * Walk up from the namespace at `path`: first to its owning user namespace
 * (`from: 'owner'`, NS_GET_USERNS) or to its parent (`from: 'parent'`, NS_GET_PARENT; pid
 * and user namespaces only), then from parent to parent, nearest first. The walk ends at
 * the top of the hierarchy or where the next step leaves the caller's view (both EPERM,
 * ioctl_ns(2)), or after a namespace `known` says is already known. This finds namespaces
 * no process is in: a user namespace alive only because it owns another one.
 */
export function nsChain(path: string, from: 'owner' | 'parent', known?: (inode: number) => boolean): NsLink[] {
  const c = load();
  const chain: NsLink[] = [];
  let fd = openSync(path, 'r');
  try {
    let request = from === 'owner' ? NS_GET_USERNS : NS_GET_PARENT;
    for (;;) {
      const next = c.ioctlNoArg(fd, request);
      if (next < 0) {
        const errno = errnoName(c.errno());
        // EINVAL: NS_GET_PARENT on a type without a hierarchy; EPERM: top, or outside our view.
        if (errno === 'EPERM' || errno === 'EINVAL') break;
        throw new SysError(`ioctl(${request === NS_GET_USERNS ? 'NS_GET_USERNS' : 'NS_GET_PARENT'})`, errno, path);
      }
      closeSync(fd);
      fd = next;
      const link: NsLink = { inode: fstatSync(fd).ino };
      const out = [0];
      // NS_GET_OWNER_UID answers EINVAL for a namespace that is not a user namespace.
      if (c.ioctlUid(fd, NS_GET_OWNER_UID, out) === 0) link.ownerUid = out[0];
      chain.push(link);
      if (known?.(link.inode)) break;
      request = NS_GET_PARENT;
    }
  } finally {
    closeSync(fd);
  }
  return chain;
}

/** ioctl_ns(2): EPERM means "outside your user namespace" or "no parent"; that is an answer, not a failure. */
function tolerate(errno: number, call: string, path: string): void {
  const name = errnoName(errno);
  if (name !== 'EPERM') throw new SysError(call, name, path);
}
