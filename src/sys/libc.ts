/**
 * koffi bindings to libc. The only module that touches koffi; it is loaded on first use
 * so that commands which need no syscall (most of `nsm ls`) start as fast as Node does.
 *
 * Every wrapper throws SysError(call, errnoName, target) on failure and never exposes
 * pointers or numeric errno to callers.
 */
import { accessSync, closeSync, constants as fsConstants, existsSync, fstatSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childExit, waitForReaped, type ChildExit } from './child-wait.js';
import { errnoName, SysError } from './errors.js';
import { nsTypeByFlag, nsTypeInfo, type NsType } from './nstypes.js';
import { ioctls as addonIoctls, ownCalls, spawnProcess as spawnWithAddon, usable as addonUsable } from './spawn-addon.js';
import type { StdioTarget } from './stdio-target.js';

// ioctl_ns(2): requests on an open namespace file, _IO(0xb7, n).
const NS_GET_USERNS = 0xb701;
const NS_GET_PARENT = 0xb702;
const NS_GET_NSTYPE = 0xb703;
const NS_GET_OWNER_UID = 0xb704;
// _IOR(0xb7, 13, __u64), Linux 6.18: the namespace's 64-bit ID, never reused until reboot.
const NS_GET_ID = 0x8008b70d;
/** linux/sockios.h: a socket's network namespace, as a new fd (CAP_NET_ADMIN). */
const SIOCGSKNS = 0x894c;
const SYS_PIDFD_OPEN = 434;
const SYS_PIDFD_GETFD = 438;

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
  ioctlU64(fd: number, request: number, out: Array<number | bigint>): number;
  ioctlInt(fd: number, request: number, arg: number): number;
  ioctlBuf(fd: number, request: number, arg: Buffer): number;
  unlockpt(fd: number): number;
  syscall3(nr: number, a: number, b: number, c: number): number;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number;
  umount2(target: string, flags: number): number;
  getxattr(path: string, name: string, value: Buffer, size: number): number;
  pipe2(fds: Int32Array, flags: number): number;
  socketpair(domain: number, type: number, protocol: number, fds: Int32Array): number;
  fcntlInt(fd: number, cmd: number, arg: number): number;
  poll(fds: Buffer, nfds: number, timeout: number): number;
  waitpid(pid: number, status: Int32Array, options: number): number;
  sigemptyset(set: Buffer): number;
  spawnFileActionsInit(fa: Buffer): number;
  spawnFileActionsAddDup2(fa: Buffer, fd: number, newfd: number): number;
  spawnFileActionsAddChdir(fa: Buffer, path: string): number;
  spawnFileActionsDestroy(fa: Buffer): number;
  spawnAttrInit(attr: Buffer): number;
  spawnAttrSetFlags(attr: Buffer, flags: number): number;
  spawnAttrSetSigDefault(attr: Buffer, set: Buffer): number;
  spawnAttrSetSigMask(attr: Buffer, set: Buffer): number;
  spawnAttrDestroy(attr: Buffer): number;
  posixSpawn(pid: Int32Array, path: string, fa: Buffer, attr: Buffer, argv: Array<string | null>, envp: Array<string | null>): number;
  posixSpawnp(pid: Int32Array, file: string, fa: Buffer, attr: Buffer, argv: Array<string | null>, envp: Array<string | null>): number;
}

let libc: Libc | undefined;

type Koffi = typeof import('koffi');

/**
 * koffi, loaded the quick way. require('koffi') spends most of its time in JavaScript
 * around the native module (reading node's ELF header to tell glibc from musl, probing
 * install paths, wrapping deprecated APIs), not in loading the native module itself, and
 * `nsm exec` pays this on every run (bench/lifecycle.mjs). So require the glibc prebuilt of
 * koffi's platform package directly when it is there and of koffi's own version; otherwise
 * (musl, another layout or version, any error) go through koffi's loader.
 */
export function loadKoffi(): Koffi {
  const require = createRequire(import.meta.url);
  try {
    // Node's own lookup (require.resolve) does more work than this: walk the node_modules directories
    // above this module as it would, and take the first koffi found.
    for (let dir = dirname(fileURLToPath(import.meta.url)), i = 0; i < 8; dir = dirname(dir), i++) {
      const modules = join(dir, 'node_modules');
      const manifest = join(modules, 'koffi', 'package.json');
      // existsSync first: a failed readFileSync builds an exception, which costs more (the
      // bundles live in dist/, one level below the node_modules that has koffi).
      if (!existsSync(manifest)) continue;
      let version: string;
      try {
        version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
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

/**
 * The C prototypes behind Libc, declared on first use: koffi parses and binds each lib.func()
 * at a cost, and `nsm exec` needs only a handful of these (bench/RESULTS.md, exec).
 */
const PROTOTYPES: Record<Exclude<keyof Libc, 'errno'>, string> = {
  unshare: 'int unshare(int flags)',
  setns: 'int setns(int fd, int nstype)',
  flock: 'int flock(int fd, int operation)',
  // ioctl is variadic in libc; declare the two shapes nsm uses as fixed prototypes.
  ioctlNoArg: 'int ioctl(int fd, unsigned long request)',
  ioctlUid: 'int ioctl(int fd, unsigned long request, _Out_ uint32_t *uid)',
  ioctlU64: 'int ioctl(int fd, unsigned long request, _Out_ uint64_t *value)',
  ioctlInt: 'int ioctl(int fd, unsigned long request, int arg)',
  ioctlBuf: 'int ioctl(int fd, unsigned long request, void *arg)',
  unlockpt: 'int unlockpt(int fd)',
  // syscall is variadic too; pidfd_open/pidfd_getfd take int-sized arguments only.
  syscall3: 'long syscall(long nr, long a, long b, long c)',
  mount: 'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  umount2: 'int umount2(const char *target, int flags)',
  getxattr: 'long getxattr(const char *path, const char *name, void *value, size_t size)',
  pipe2: 'int pipe2(int *fds, int flags)',
  socketpair: 'int socketpair(int domain, int type, int protocol, int *fds)',
  // fcntl is variadic in libc; nsm passes only an int (F_DUPFD_CLOEXEC).
  fcntlInt: 'int fcntl(int fd, int cmd, int arg)',
  poll: 'int poll(void *fds, unsigned long nfds, int timeout)',
  waitpid: 'int waitpid(int pid, int *status, int options)',
  sigemptyset: 'int sigemptyset(void *set)',
  spawnFileActionsInit: 'int posix_spawn_file_actions_init(void *fa)',
  spawnFileActionsAddDup2: 'int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)',
  // glibc 2.29, musl 1.1.24: the child's working directory, set between fork and exec.
  spawnFileActionsAddChdir: 'int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)',
  spawnFileActionsDestroy: 'int posix_spawn_file_actions_destroy(void *fa)',
  spawnAttrInit: 'int posix_spawnattr_init(void *attr)',
  spawnAttrSetFlags: 'int posix_spawnattr_setflags(void *attr, short flags)',
  spawnAttrSetSigDefault: 'int posix_spawnattr_setsigdefault(void *attr, const void *set)',
  spawnAttrSetSigMask: 'int posix_spawnattr_setsigmask(void *attr, const void *set)',
  spawnAttrDestroy: 'int posix_spawnattr_destroy(void *attr)',
  posixSpawn: 'int posix_spawn(int *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)',
  posixSpawnp: 'int posix_spawnp(int *pid, const char *file, void *fa, void *attr, const char **argv, const char **envp)',
};

function load(): Libc {
  if (libc) return libc;
  // ioctl_ns(2)'s requests go through nsm-spawn.node where it has them: reading namespace
  // relations (inspect, tree) then loads no koffi. Anything else loads koffi on first use;
  // errno() is that of the last call made either way.
  const viaAddon = addonIoctls();
  let koffi: Koffi | undefined;
  let lib: ReturnType<Koffi['load']> | undefined;
  let lastViaAddon = false;
  const functions: Partial<Libc> = { errno: () => (lastViaAddon ? viaAddon!.errno() : (koffi?.errno() ?? 0)) };
  const bind = (name: Exclude<keyof Libc, 'errno'>): never => {
    if (viaAddon && (name === 'ioctlNoArg' || name === 'ioctlUid' || name === 'ioctlU64')) {
      const f = viaAddon[name] as (...args: never[]) => unknown;
      return ((...args: never[]) => ((lastViaAddon = true), f(...args))) as never;
    }
    koffi ??= loadKoffi();
    lib ??= koffi.load('libc.so.6');
    const f = lib.func(PROTOTYPES[name]) as (...args: never[]) => unknown;
    if (!viaAddon) return f as never;
    return ((...args: never[]) => ((lastViaAddon = false), f(...args))) as never;
  };
  libc = new Proxy(functions as Libc, {
    get(target, name: keyof Libc) {
      return (target[name] ??= bind(name as Exclude<keyof Libc, 'errno'>));
    },
  });
  return libc;
}

/**
 * A call through nsm's own module (src/sys/spawn-addon.ts, ownCalls), which needs no koffi:
 * `nsm create` then loads none. Its calls return minus the errno number on failure.
 */
function checkOwn(rc: number, call: string, target?: string): number {
  if (rc < 0) throw new SysError(call, errnoName(-rc), target);
  return rc;
}

/** Throw SysError for a libc call that returned -1. */
function check(rc: number, call: string, target?: string): number {
  if (rc === -1) throw new SysError(call, errnoName(load().errno()), target);
  return rc;
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
  const own = ownCalls();
  const rc = own ? own.flock(fd, LOCK_EX | LOCK_NB) : load().flock(fd, LOCK_EX | LOCK_NB);
  if (rc === 0) return true;
  const errno = errnoName(own ? -rc : load().errno());
  if (errno === 'EAGAIN' || errno === 'EWOULDBLOCK') return false;
  throw new SysError('flock', errno, target);
}

/** setns(2): move the calling thread into the namespace open on `fd`; `type` makes the kernel check it. */
export function setns(fd: number, type: NsType, target?: string): void {
  check(load().setns(fd, nsTypeInfo(type).cloneFlag), `setns(${type})`, target);
}

/** mount(2). */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  const own = ownCalls();
  if (!own) check(load().mount(source, target, fstype, flags, data), 'mount', target);
  else checkOwn(own.mount(source, target, fstype, flags, data), 'mount', target);
}

/** umount2(2). */
export function umount2(target: string, flags = 0): void {
  const own = ownCalls();
  if (!own) check(load().umount2(target, flags), 'umount2', target);
  else checkOwn(own.umount2(target, flags), 'umount2', target);
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

/**
 * A new pseudo-terminal pair (pty(7)): the master, and its slave opened through the master
 * (TIOCGPTPEER, Linux 4.13: no path to look up, so no other pty can be substituted), both
 * close-on-exec, the slave O_NOCTTY so that it does not become our controlling terminal.
 */
export function openPty(): { master: number; slave: number } {
  const TIOCGPTPEER = 0x5441;
  const { O_RDWR, O_NOCTTY } = fsConstants;
  const O_CLOEXEC = 0o2000000;
  const c = load();
  const master = openSync('/dev/ptmx', O_RDWR | O_NOCTTY | O_CLOEXEC);
  try {
    check(c.unlockpt(master), 'unlockpt', '/dev/ptmx');
    const slave = check(c.ioctlInt(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC), 'ioctl(TIOCGPTPEER)', '/dev/ptmx');
    return { master, slave };
  } catch (err) {
    closeSync(master);
    throw err;
  }
}

/**
 * Give terminal `to` the window size of terminal `from` (TIOCGWINSZ, TIOCSWINSZ: ioctl_tty(2));
 * the kernel then signals SIGWINCH to `to`'s foreground process group. False when `from` has none.
 */
export function copyWindowSize(from: number, to: number): boolean {
  const TIOCGWINSZ = 0x5413;
  const TIOCSWINSZ = 0x5414;
  const c = load();
  const size = Buffer.alloc(8); // struct winsize: four unsigned shorts
  if (c.ioctlBuf(from, TIOCGWINSZ, size) < 0) return false;
  return c.ioctlBuf(to, TIOCSWINSZ, size) === 0;
}

/** What the NS_GET_* ioctls tell about one namespace file. */
export interface NsRelations {
  type?: NsType;
  /** 64-bit namespace ID (NS_GET_ID, Linux 6.18); undefined on older kernels. */
  id?: number;
  /** Inode of the owning user namespace (NS_GET_USERNS); undefined when not permitted. */
  owner?: number;
  /** Inode of the parent namespace (NS_GET_PARENT; pid and user only); undefined at the top or when not permitted. */
  parent?: number;
  /** For a user namespace: the uid of its creator (NS_GET_OWNER_UID). */
  ownerUid?: number;
}

/** The uid that created the user namespace open on `fd` (NS_GET_OWNER_UID); undefined when the kernel does not say. */
export function userNsOwnerUid(fd: number): number | undefined {
  const out = [0];
  return load().ioctlUid(fd, NS_GET_OWNER_UID, out) === 0 ? out[0] : undefined;
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
    const id = nsIdOfFd(fd);
    if (id !== undefined) rel.id = id;
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

/**
 * Type of the namespace open at `fd` (ioctl_ns(2) NS_GET_NSTYPE, Linux 4.11); undefined when
 * `fd` is not a namespace file (ENOTTY) or the kernel is older.
 */
export function nsTypeOfFd(fd: number): NsType | undefined {
  const nstype = load().ioctlNoArg(fd, NS_GET_NSTYPE);
  return nstype >= 0 ? nsTypeByFlag(nstype) : undefined;
}

/**
 * The network namespace of socket `fd` of process `pid`, as a new fd (the caller closes it),
 * as lsns does for net namespaces held only by a socket: openSocketNetns, with undefined when
 * the process or fd is gone, it is no socket, or this is not permitted.
 */
export function socketNetnsFd(pid: number, fd: number): number | undefined {
  try {
    return openSocketNetns(pid, fd);
  } catch (err) {
    if (err instanceof SysError) return undefined;
    throw err;
  }
}

/**
 * nsenter -N: the network namespace of socket `sockFd` of process `pid`, as a new fd (the
 * caller closes it), each step's failure thrown as SysError with its call: pidfd_open(2)
 * (ESRCH), pidfd_getfd(2) (EBADF: no such fd; EPERM: no ptrace attach access to the
 * process), fstat (ENOTSOCK when the copy is no socket), ioctl SIOCGSKNS (EPERM without
 * CAP_NET_ADMIN over that namespace). `verify` runs once the pidfd is open, so the caller can
 * check that the pid still names the process it opened (pid reuse).
 */
export function openSocketNetns(pid: number, sockFd: number, verify?: () => void): number {
  const c = load();
  const pidfd = check(c.syscall3(SYS_PIDFD_OPEN, pid, 0, 0), 'pidfd_open');
  let copy = -1;
  try {
    verify?.();
    copy = check(c.syscall3(SYS_PIDFD_GETFD, pidfd, sockFd, 0), 'pidfd_getfd');
    if (!fstatSync(copy).isSocket()) throw new SysError('fstat', 'ENOTSOCK');
    return check(c.ioctlNoArg(copy, SIOCGSKNS), 'ioctl(SIOCGSKNS)');
  } finally {
    if (copy >= 0) closeSync(copy);
    closeSync(pidfd);
  }
}

/**
 * The user namespace that owns the namespace open at `fd`, as a new fd (ioctl_ns(2)
 * NS_GET_USERNS; for a user namespace that is its parent, as NS_GET_PARENT gives). EPERM:
 * the top of the hierarchy, or outside the caller's user namespace.
 */
export function openOwnerUserNs(fd: number): number {
  return check(load().ioctlNoArg(fd, NS_GET_USERNS), 'ioctl(NS_GET_USERNS)');
}

/** NS_GET_ID exists on this kernel: unknown until the first try. */
let nsIdSupported: boolean | undefined;

/**
 * The 64-bit ID (NS_GET_ID, Linux 6.18) of the namespace open at `fd`; undefined on kernels
 * without the ioctl (ENOTTY/EINVAL, remembered after the first try).
 */
export function nsIdOfFd(fd: number): number | undefined {
  if (nsIdSupported === false) return undefined;
  const own = ownCalls();
  let errnum: number;
  if (own) {
    const id = own.nsId(fd);
    if (id >= 0) {
      nsIdSupported = true;
      return id;
    }
    errnum = -id;
  } else {
    const c = load();
    const out: Array<number | bigint> = [0];
    if (c.ioctlU64(fd, NS_GET_ID, out) === 0) {
      nsIdSupported = true;
      return Number(out[0]);
    }
    errnum = c.errno();
  }
  const errno = errnoName(errnum);
  if (errno === 'ENOTTY' || errno === 'EINVAL') nsIdSupported = false;
  return undefined;
}

/**
 * Inode and 64-bit ID of the namespace file at `path` (/proc/PID/ns/TYPE, a bind mount, an
 * fd link), read from one open file so both describe the same namespace. Throws for an
 * unopenable path (ENOENT/ESRCH/EACCES as SysError).
 */
export function nsIdentity(path: string): { inode: number; id?: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw SysError.fromNode(err as NodeJS.ErrnoException, 'open', path);
  }
  try {
    const inode = fstatSync(fd).ino;
    const id = nsIdOfFd(fd);
    return id === undefined ? { inode } : { inode, id };
  } finally {
    closeSync(fd);
  }
}

/** One namespace reached by walking ioctl_ns(2) links. */
export interface NsLink {
  inode: number;
  /** NS_GET_ID, Linux 6.18. */
  id?: number;
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
      const id = nsIdOfFd(fd);
      if (id !== undefined) link.id = id;
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

// ------------------------------------------------------------------ spawning

/** A child that ran to its end: its exit status or the signal that ended it, and its output. */
export interface SpawnedResult {
  /** Exit status, or null when a signal ended it. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

const O_CLOEXEC = 0o2000000;
const POLLIN = 0x1;
const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POSIX_SPAWN_SETSIGDEF = 0x4;
const POSIX_SPAWN_SETSIGMASK = 0x8;
/** Room for posix_spawn_file_actions_t, posix_spawnattr_t and sigset_t of any libc (glibc: 80, 336, 128 bytes). */
const OPAQUE_BYTES = 1024;

/** errno(3)'s EINTR on Linux (asm-generic/errno-base.h). */
const EINTR = 4;

/** Call `f` again while it fails with EINTR (a signal handler of Node's ran meanwhile). */
function retrying(f: () => number, call: string, target?: string): number {
  for (;;) {
    const rc = f();
    if (rc !== -1) return rc;
    const errno = load().errno();
    // By number: the first errnoName() builds Node's whole table of errno names, work a create
    // need not do (the holder's helper exiting interrupts its poll with a SIGCHLD).
    if (errno !== EINTR) throw new SysError(call, errnoName(errno), target);
  }
}

/** retrying() for a call through nsm's own module, which returns minus the errno number. */
function retryingOwn(f: () => number, call: string, target?: string): number {
  for (;;) {
    const rc = f();
    if (rc >= 0) return rc;
    if (-rc !== EINTR) throw new SysError(call, errnoName(-rc), target);
  }
}

/** Check a posix_spawn*(3) result: those return the error number instead of setting errno. */
function checkSpawn(rc: number, call: string, target?: string): void {
  if (rc !== 0) throw new SysError(call, errnoName(rc), target);
}

/**
 * Run `path` with `argv` (argv[0] included) and environment `env`, give it `input` on stdin,
 * collect its stdout and stderr, and wait for it to exit: child_process.spawnSync(), through
 * posix_spawn(3). glibc makes the child with clone(CLONE_VM|CLONE_VFORK), where libuv
 * fork()s and so copies Node's page tables; and node:child_process, with node:net and
 * node:stream behind it, need not be loaded. Together that is most of what starting the
 * holder cost `nsm create` (bench/RESULTS.md).
 *
 * The child starts with every signal at its default action and none blocked: Node ignores
 * SIGPIPE, and an ignored signal stays ignored across execve(2). It inherits no other
 * descriptor of Node's, which opens all of them close-on-exec. Returns once the child has
 * exited and every process holding its stdout or stderr has closed them.
 *
 * `answer` makes it a conversation of one reply: stdin then stays open after `input`, and
 * each chunk read from stdout is handed to `answer` (in this loop, synchronously) until it
 * returns bytes, which are written to stdin after `input`; then stdin is closed. If it throws,
 * stdin is closed at once (the child reads end of file), the child is still waited for, and
 * the error is thrown then. Stdin is closed too if the child exits before `answer` replied.
 * The fds in `pass` are inherited under their own numbers.
 */
export function spawnAndWait(
  path: string,
  argv: readonly string[],
  input: Buffer,
  env: NodeJS.ProcessEnv = process.env,
  answer?: (stdoutChunk: Buffer) => Buffer | undefined,
  pass?: readonly number[],
): SpawnedResult {
  // nsm's own module where it was built (src/sys/spawn-addon.ts): `nsm create` then loads no koffi.
  const own = ownCalls();
  const open: number[] = [];
  const pipe = (): [number, number] => {
    let fds: [number, number];
    if (own) {
      const r = own.pipe();
      if (typeof r === 'number') throw new SysError('pipe2', errnoName(-r));
      fds = r;
    } else {
      const a = new Int32Array(2);
      check(load().pipe2(a, O_CLOEXEC), 'pipe2');
      fds = [a[0]!, a[1]!];
    }
    open.push(...fds);
    return fds;
  };
  const close = (fd: number): void => {
    const i = open.indexOf(fd);
    if (i >= 0) open.splice(i, 1);
    closeSync(fd);
  };
  try {
    const [stdinRead, stdinWrite] = pipe();
    const [stdoutRead, stdoutWrite] = pipe();
    const [stderrRead, stderrWrite] = pipe();
    const childFds = [stdinRead, stdoutWrite, stderrWrite];
    // The module's spawn places fds above 2 only (addonUsable); one of ours at 0-2 (nsm started with one closed) takes koffi's.
    const pid = own && addonUsable(childFds) ? spawnWithAddon(path, argv, env, childFds, pass) : startChild(load(), path, argv, env, childFds, pass ? { pass } : {});
    for (const fd of [stdinRead, stdoutWrite, stderrWrite]) close(fd);

    // Set before the wait: once waitpid(2) has been tried, the pid may not be ours any more.
    let waited = false;
    const reap = (): number => {
      waited = true;
      const status = new Int32Array(1);
      if (own) status[0] = checkOwn(own.waitBlocking(pid), 'waitpid', path);
      else retrying(() => load().waitpid(pid, status, 0), 'waitpid', path);
      return status[0]!;
    };
    try {
      // Feed stdin and drain stdout and stderr together, so that neither side can wait for
      // the other with a full pipe.
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const streams = [
        { fd: stdoutRead, chunks: out },
        { fd: stderrRead, chunks: err },
      ];
      let toSend = input;
      let sent = 0;
      let replied = answer === undefined;
      let thrown: { error: unknown } | undefined;
      let writing = stdinWrite;
      const closeStdin = (): void => {
        if (writing < 0) return;
        close(writing);
        writing = -1;
      };
      if (toSend.length === 0 && replied) closeStdin();
      const buf = Buffer.alloc(65536);
      const pollfds = Buffer.alloc(8 * 3);
      while ((writing >= 0 && sent < toSend.length) || streams.length > 0) {
        // Stdin is watched only while there is something to write: an idle open pipe is always writable.
        const stdin = writing >= 0 && sent < toSend.length ? [{ fd: writing, events: POLLOUT }] : [];
        const watched = [...stdin, ...streams.map((s) => ({ fd: s.fd, events: POLLIN }))];
        watched.forEach((w, i) => {
          pollfds.writeInt32LE(w.fd, 8 * i);
          pollfds.writeInt16LE(w.events, 8 * i + 4);
          pollfds.writeInt16LE(0, 8 * i + 6);
        });
        if (own) retryingOwn(() => own.poll(pollfds, watched.length, -1), 'poll', path);
        else retrying(() => load().poll(pollfds, watched.length, -1), 'poll', path);
        watched.forEach((w, i) => {
          const revents = pollfds.readInt16LE(8 * i + 6);
          if (revents === 0) return;
          if (w.fd === writing) {
            // POLLOUT on a pipe: room for at least one page (4 KiB), which a write of that much fills without blocking.
            if (revents & POLLOUT) {
              try {
                sent += writeSync(writing, toSend, sent, Math.min(4096, toSend.length - sent));
              } catch (e) {
                if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw SysError.fromNode(e, 'write', `stdin of ${path}`);
                sent = toSend.length; // it stopped reading: what it says on stdout tells why
                replied = true;
              }
            }
            if ((sent >= toSend.length && replied) || revents & (POLLERR | POLLHUP)) closeStdin();
            return;
          }
          const stream = streams.find((s) => s.fd === w.fd)!;
          const n = readSync(stream.fd, buf, 0, buf.length, null);
          if (n > 0) {
            const chunk = Buffer.from(buf.subarray(0, n));
            stream.chunks.push(chunk);
            if (stream.chunks === out && !replied) {
              let reply: Buffer | undefined;
              try {
                reply = answer!(chunk);
              } catch (e) {
                thrown = { error: e };
                reply = Buffer.alloc(0);
                toSend = Buffer.alloc(0);
                sent = 0;
              }
              if (reply !== undefined) {
                replied = true;
                if (writing >= 0) {
                  toSend = Buffer.concat([toSend.subarray(sent), reply]);
                  sent = 0;
                  if (toSend.length === 0) closeStdin();
                }
              }
            }
          } else {
            close(stream.fd);
            streams.splice(streams.indexOf(stream), 1);
          }
        });
      }
      const status = reap();
      if (thrown) throw thrown.error;
      return { ...childExit(status), stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
    } catch (e) {
      // A poll, read or write of ours failed: the child is ended and reaped, not left a zombie
      // (signalled only before any wait: a reaped pid may be another process's by now).
      if (!waited) {
        try {
          process.kill(pid, 'SIGKILL');
          reap();
        } catch {
          // it could not be signalled or reaped: nothing more to do here
        }
      }
      throw e;
    }
  } finally {
    for (const fd of open.splice(0)) closeSync(fd);
  }
}

/** How startChild finds and places the program. */
interface ChildPlacement {
  /** Look `path` up in PATH as execvp(3) does (posix_spawnp), unless it contains a slash. */
  search?: boolean;
  /** The child's working directory (chdir between fork and exec). */
  cwd?: string;
  /** Open fds of ours (above the `targets`) the child gets under the same numbers. */
  pass?: readonly number[];
}

export type { StdioTarget } from './stdio-target.js';

/**
 * posix_spawn `path` with `stdio[i]` as its fd i, for 0, 1, 2 and any further ones
 * (undefined is 'inherit'); returns its pid. posix_spawn(3) returns only once the
 * child has exec'd (glibc waits for it through CLONE_VFORK), and returns exec's error number
 * when that failed.
 */
function startChild(
  c: Libc,
  path: string,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  targets: readonly (StdioTarget | undefined)[],
  placement: ChildPlacement = {},
): number {
  const actions = Buffer.alloc(OPAQUE_BYTES);
  const attr = Buffer.alloc(OPAQUE_BYTES);
  const all = Buffer.alloc(OPAQUE_BYTES);
  const none = Buffer.alloc(OPAQUE_BYTES);
  // Ours to close once the child has them: /dev/null for 'ignore', and copies of sources
  // that are themselves the target of another dup2 (fd 5 to become fd 8 when something else
  // becomes fd 5 first: the dup2s run in order), made above all the targets.
  const F_DUPFD_CLOEXEC = 1030;
  const opened: number[] = [];
  const keep = (fd: number): number => (opened.push(fd), fd);
  let stdio: (number | undefined)[];
  try {
    stdio = targets.map((t, target) => {
      if (t === undefined || t === 'inherit') return undefined;
      if (t === 'ignore') return keep(openSync('/dev/null', 'r+'));
      if (t === target || t >= targets.length) return t;
      return keep(check(c.fcntlInt(t, F_DUPFD_CLOEXEC, targets.length), 'fcntl(F_DUPFD_CLOEXEC)'));
    });
  } catch (err) {
    for (const fd of opened) closeSync(fd);
    throw err;
  }
  checkSpawn(c.spawnFileActionsInit(actions), 'posix_spawn_file_actions_init');
  try {
    checkSpawn(c.spawnAttrInit(attr), 'posix_spawnattr_init');
    try {
      // dup2 onto 0, 1, 2 clears their close-on-exec flag; the pipes' own fds close on exec.
      // An fd passed on as it is gets a dup2 onto itself too: inside Node fds 0-2 can be
      // close-on-exec (fdinfo flags 02000000, seen on this host; without this `nsm exec`'s
      // command lost its stdout here), and a spawn's dup2(fd, fd) action clears that flag,
      // as POSIX.1-2024 asks and glibc does (Debian 12's 2.36).
      stdio.forEach((fd, target) => checkSpawn(c.spawnFileActionsAddDup2(actions, fd ?? target, target), 'posix_spawn_file_actions_adddup2'));
      // The same dup2 onto itself passes on an fd of ours that is close-on-exec in Node.
      for (const fd of placement.pass ?? []) {
        if (fd >= stdio.length) checkSpawn(c.spawnFileActionsAddDup2(actions, fd, fd), 'posix_spawn_file_actions_adddup2');
      }
      if (placement.cwd !== undefined) checkSpawn(c.spawnFileActionsAddChdir(actions, placement.cwd), 'posix_spawn_file_actions_addchdir_np', placement.cwd);
      // Every signal back to its default, glibc's internal 32 and 33 included: sigfillset()
      // leaves those two out, and glibc's posix_spawn sets any signal not in this set that
      // has a handler in Node to SIG_IGN in the child, which execve(2) keeps.
      all.fill(0xff);
      c.sigemptyset(none);
      checkSpawn(c.spawnAttrSetSigDefault(attr, all), 'posix_spawnattr_setsigdefault');
      checkSpawn(c.spawnAttrSetSigMask(attr, none), 'posix_spawnattr_setsigmask');
      checkSpawn(c.spawnAttrSetFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK), 'posix_spawnattr_setflags');
      const pid = new Int32Array(1);
      const envp = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
      const spawn = placement.search ? c.posixSpawnp : c.posixSpawn;
      checkSpawn(spawn(pid, path, actions, attr, [...argv, null], [...envp, null]), placement.search ? 'posix_spawnp' : 'posix_spawn', path);
      return pid[0]!;
    } finally {
      c.spawnAttrDestroy(attr);
    }
  } finally {
    c.spawnFileActionsDestroy(actions);
    for (const fd of opened) closeSync(fd);
  }
}

export type { ChildExit } from './child-wait.js';

export interface CommandPlacement {
  /** Working directory of the command; it must exist (checked by the caller). */
  cwd?: string;
  /** Further fds of ours (above 2) the command inherits under the same numbers. */
  pass?: readonly number[];
  /** Its environment; PATH in it is where the command is looked for. Default: ours. */
  env?: NodeJS.ProcessEnv;
  /** Its fds 0, 1, 2. Default: all three inherited. */
  stdio?: readonly StdioTarget[];
}

/**
 * Start `argv` as a child, looked up in PATH as execvp(3) does, and return its pid once it
 * has exec'd; wait for it with waitForChild(). This is child_process.spawn() through
 * posix_spawnp(3), as spawnAndWait() is spawnSync(): `nsm exec` then loads neither
 * node:child_process nor the streams behind it, and the child is made with
 * clone(CLONE_VM|CLONE_VFORK) instead of libuv's fork(), which copies Node's page tables
 * (bench/RESULTS.md, exec). The child is forked from the calling thread, so it starts in
 * the namespaces that thread joined with setns(2).
 *
 * @throws SysError `execvp(FILE)` with exec's errno (ENOENT, EACCES, ...), as the native
 *   helper reports it.
 */
export function spawnCommand(argv: readonly string[], placement: CommandPlacement = {}): number {
  const [file, ...args] = argv;
  if (file === undefined || file === '') throw new SysError('execvp', 'EINVAL', '');
  const env = placement.env ?? process.env;
  const stdio = [0, 1, 2].map((i) => placement.stdio?.[i]);
  const c = load();
  // posix_spawnp searches the PATH of the calling process (glibc reads getenv("PATH")), not
  // the one in envp; execvp in the child, as libuv does it, would search the command's own.
  // So for the moment of the spawn ours is the command's.
  const ourPath = process.env.PATH;
  const swap = env.PATH !== ourPath;
  const setPath = (value: string | undefined) => (value === undefined ? delete process.env.PATH : (process.env.PATH = value));
  if (swap) setPath(env.PATH);
  try {
    try {
      return startChild(c, file, argv, env, stdio, { search: true, cwd: placement.cwd, pass: placement.pass });
    } catch (err) {
      if (!(err instanceof SysError) || err.errno !== 'ENOEXEC') throw err;
      // execvp(3) runs a file without a #! line, which execve(2) refuses (ENOEXEC), with
      // /bin/sh; posix_spawnp no longer does (glibc 2.15). Node's spawn() does, so do we.
      const script = file.includes('/') ? file : findInPath(file, env.PATH);
      if (script === undefined) throw err;
      return startChild(c, '/bin/sh', ['/bin/sh', script, ...args], env, stdio, { cwd: placement.cwd, pass: placement.pass });
    }
  } catch (err) {
    if (err instanceof SysError && (err.call === 'posix_spawnp' || err.call === 'posix_spawn')) throw new SysError(`execvp(${file})`, err.errno, undefined, { cause: err });
    throw err;
  } finally {
    if (swap) setPath(ourPath);
  }
}

/** The first executable regular file named `file` in `path` (execvp(3)'s default: /bin:/usr/bin). */
function findInPath(file: string, path = '/bin:/usr/bin'): string | undefined {
  for (const dir of path.split(':')) {
    const candidate = join(dir || '.', file);
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Start `path` (no PATH search) with `fds[i]` as its fd i, the fds in `pass` under their own
 * numbers, and every signal at its default action; returns its pid once it has exec'd. Wait
 * for it with waitForChild(). posix_spawn(3), for what child_process.spawn() with extra stdio
 * entries did (the native helper's protocol socket and namespace fds).
 */
export function spawnProcess(path: string, argv: readonly string[], env: NodeJS.ProcessEnv, fds: readonly StdioTarget[], pass?: readonly number[]): number {
  return startChild(load(), path, argv, env, fds, { pass });
}

/** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): two connected sockets, both close-on-exec. */
export function socketPair(): [number, number] {
  const AF_UNIX = 1;
  const SOCK_STREAM = 1;
  const fds = new Int32Array(2);
  check(load().socketpair(AF_UNIX, SOCK_STREAM | O_CLOEXEC, 0, fds), 'socketpair');
  return [fds[0]!, fds[1]!];
}

/**
 * What can be read from `fd` now, up to end of file, without waiting for more (poll(2)
 * with no timeout before each read): for a socket whose peer has exited but whose other
 * copies (a daemon the command started) may keep it open.
 */
export function readAvailable(fd: number): Buffer {
  const c = load();
  const chunks: Buffer[] = [];
  const pollfd = Buffer.alloc(8);
  const buf = Buffer.alloc(65536);
  for (;;) {
    pollfd.writeInt32LE(fd, 0);
    pollfd.writeInt16LE(POLLIN, 4);
    pollfd.writeInt16LE(0, 6);
    if (retrying(() => c.poll(pollfd, 1, 0), 'poll') === 0) break;
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}

/** How our child `pid` ended (src/sys/child-wait.ts), reaped through waitpid(WNOHANG). */
export function waitForChild(pid: number, onExit?: () => void): Promise<ChildExit> {
  const c = load();
  const WNOHANG = 1;
  const status = new Int32Array(1);
  return waitForReaped(() => (retrying(() => c.waitpid(pid, status, WNOHANG), 'waitpid', String(pid)) === pid ? status[0]! : undefined), onExit);
}
