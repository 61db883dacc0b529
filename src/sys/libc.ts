/**
 * koffi bindings to libc. The only module that touches koffi; it is loaded on first use
 * so that commands which need no syscall (most of `nsm ls`) start as fast as Node does.
 *
 * Every wrapper throws SysError(call, errnoName, target) on failure and never exposes
 * pointers or numeric errno to callers.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
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
  pipe2(fds: Int32Array, flags: number): number;
  poll(fds: Buffer, nfds: number, timeout: number): number;
  waitpid(pid: number, status: Int32Array, options: number): number;
  sigemptyset(set: Buffer): number;
  spawnFileActionsInit(fa: Buffer): number;
  spawnFileActionsAddDup2(fa: Buffer, fd: number, newfd: number): number;
  spawnFileActionsDestroy(fa: Buffer): number;
  spawnAttrInit(attr: Buffer): number;
  spawnAttrSetFlags(attr: Buffer, flags: number): number;
  spawnAttrSetSigDefault(attr: Buffer, set: Buffer): number;
  spawnAttrSetSigMask(attr: Buffer, set: Buffer): number;
  spawnAttrDestroy(attr: Buffer): number;
  posixSpawn(pid: Int32Array, path: string, fa: Buffer, attr: Buffer, argv: Array<string | null>, envp: Array<string | null>): number;
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
    pipe2: lib.func('int pipe2(int *fds, int flags)'),
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    waitpid: lib.func('int waitpid(int pid, int *status, int options)'),
    sigemptyset: lib.func('int sigemptyset(void *set)'),
    spawnFileActionsInit: lib.func('int posix_spawn_file_actions_init(void *fa)'),
    spawnFileActionsAddDup2: lib.func('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
    spawnFileActionsDestroy: lib.func('int posix_spawn_file_actions_destroy(void *fa)'),
    spawnAttrInit: lib.func('int posix_spawnattr_init(void *attr)'),
    spawnAttrSetFlags: lib.func('int posix_spawnattr_setflags(void *attr, short flags)'),
    spawnAttrSetSigDefault: lib.func('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
    spawnAttrSetSigMask: lib.func('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
    spawnAttrDestroy: lib.func('int posix_spawnattr_destroy(void *attr)'),
    posixSpawn: lib.func('int posix_spawn(int *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)'),
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

/** Call `f` again while it fails with EINTR (a signal handler of Node's ran meanwhile). */
function retrying(f: () => number, call: string, target?: string): number {
  for (;;) {
    const rc = f();
    if (rc !== -1) return rc;
    const errno = errnoName(load().errno());
    if (errno !== 'EINTR') throw new SysError(call, errno, target);
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
 */
export function spawnAndWait(
  path: string,
  argv: readonly string[],
  input: Buffer,
  env: NodeJS.ProcessEnv = process.env,
  answer?: (stdoutChunk: Buffer) => Buffer | undefined,
): SpawnedResult {
  const c = load();
  const open: number[] = [];
  const pipe = (): [number, number] => {
    const fds = new Int32Array(2);
    check(c.pipe2(fds, O_CLOEXEC), 'pipe2');
    open.push(fds[0]!, fds[1]!);
    return [fds[0]!, fds[1]!];
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
    const pid = startChild(c, path, argv, env, [stdinRead, stdoutWrite, stderrWrite]);
    for (const fd of [stdinRead, stdoutWrite, stderrWrite]) close(fd);

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
      retrying(() => c.poll(pollfds, watched.length, -1), 'poll', path);
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
    const status = new Int32Array(1);
    retrying(() => c.waitpid(pid, status, 0), 'waitpid', path);
    if (thrown) throw thrown.error;
    const st = status[0]!;
    const termsig = st & 0x7f;
    return {
      status: termsig === 0 ? (st >> 8) & 0xff : null,
      signal: termsig === 0 ? null : signalName(termsig),
      stdout: Buffer.concat(out),
      stderr: Buffer.concat(err),
    };
  } finally {
    for (const fd of open.splice(0)) closeSync(fd);
  }
}

/** posix_spawn `path` with `stdio` as its fds 0, 1 and 2; returns its pid. */
function startChild(c: Libc, path: string, argv: readonly string[], env: NodeJS.ProcessEnv, stdio: readonly number[]): number {
  const actions = Buffer.alloc(OPAQUE_BYTES);
  const attr = Buffer.alloc(OPAQUE_BYTES);
  const all = Buffer.alloc(OPAQUE_BYTES);
  const none = Buffer.alloc(OPAQUE_BYTES);
  checkSpawn(c.spawnFileActionsInit(actions), 'posix_spawn_file_actions_init');
  try {
    checkSpawn(c.spawnAttrInit(attr), 'posix_spawnattr_init');
    try {
      // dup2 onto 0, 1, 2 clears their close-on-exec flag; the pipes' own fds close on exec.
      stdio.forEach((fd, target) => checkSpawn(c.spawnFileActionsAddDup2(actions, fd, target), 'posix_spawn_file_actions_adddup2'));
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
      checkSpawn(c.posixSpawn(pid, path, actions, attr, [...argv, null], [...envp, null]), 'posix_spawn', path);
      return pid[0]!;
    } finally {
      c.spawnAttrDestroy(attr);
    }
  } finally {
    c.spawnFileActionsDestroy(actions);
  }
}

function signalName(n: number): NodeJS.Signals | null {
  const entry = Object.entries(osConstants.signals).find(([, v]) => v === n);
  return entry ? (entry[0] as NodeJS.Signals) : null;
}
