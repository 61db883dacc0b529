/**
 * The file-system side of nsm's state directory: where it is, refusing an unsafe one,
 * atomic writes, per-name locks, and removing a directory that may hold namespace pins.
 *
 * Everything is synchronous: these are a handful of small operations, and after an
 * in-process setns() only the main thread has moved (setns(2) moves the calling thread), so
 * sync calls are the ones that see the right mount namespace.
 */
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { hasErrno, NsmError, SysError } from './errors.js';
import { MNT_DETACH, tryLockExclusive, umount2 } from './libc.js';
import { ProcFs } from './procfs.js';

/** Where the state directory comes from (for messages and tests). */
export type StateDirSource = 'NSM_STATE_DIR' | 'root' | 'XDG_RUNTIME_DIR' | 'tmp';

export interface StateDirChoice {
  path: string;
  source: StateDirSource;
}

/** The effective uid: it decides root's /run/nsm and owns a user's state directory. */
export function effectiveUid(): number {
  return process.geteuid?.() ?? process.getuid?.() ?? 0;
}

/**
 * The directory that holds users' fallback state directories (nsm-UID): $NSM_TMPDIR when it
 * is an absolute path, else /tmp. Root looks for other users' directories there too, so a
 * test (or a host whose /tmp is elsewhere) can point both sides at one private directory.
 */
export function usersTmpDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.NSM_TMPDIR;
  return dir !== undefined && isAbsolute(dir) ? dir : '/tmp';
}

/**
 * Where nsm keeps its state (docs/state.md): $NSM_STATE_DIR if set; root: /run/nsm;
 * others: $XDG_RUNTIME_DIR/nsm when that is usable, else /tmp/nsm-$UID (usersTmpDir()).
 * Nothing is created.
 */
export function resolveStateDir(env: NodeJS.ProcessEnv = process.env, euid: number = effectiveUid()): StateDirChoice {
  const override = env.NSM_STATE_DIR;
  if (override !== undefined && override !== '') return { path: override, source: 'NSM_STATE_DIR' };
  // NSM_TMPDIR (tests): root's directory beside the users', so that nothing of the host's is read.
  if (euid === 0) return { path: env.NSM_TMPDIR && isAbsolute(env.NSM_TMPDIR) ? join(env.NSM_TMPDIR, 'nsm-0') : '/run/nsm', source: 'root' };
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg !== undefined && xdgUsable(xdg, euid)) return { path: join(xdg, 'nsm'), source: 'XDG_RUNTIME_DIR' };
  return { path: join(usersTmpDir(env), `nsm-${euid}`), source: 'tmp' };
}

/**
 * XDG Base Directory spec: $XDG_RUNTIME_DIR "MUST be owned by the user, and he MUST be the
 * only one having read and write access to it. Its Unix access mode MUST be 0700." A value
 * inherited through su or sudo names someone else's directory; then fall back to /tmp.
 */
function xdgUsable(path: string, euid: number): boolean {
  if (!isAbsolute(path)) return false;
  try {
    const st = statSync(path);
    if (!st.isDirectory() || st.uid !== euid || (st.mode & 0o077) !== 0) return false;
    accessSync(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why a directory cannot be trusted with nsm's state, or undefined when it can. */
export function privateDirProblem(path: string, euid: number = effectiveUid()): string | undefined {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return 'it is a symbolic link';
  if (!st.isDirectory()) return 'it is not a directory';
  if (st.uid !== euid) return `it is owned by uid ${st.uid}, not by uid ${euid}`;
  if ((st.mode & 0o022) !== 0) return `it is writable by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return undefined;
}

/**
 * Make sure `path` is a private directory of the caller: create it (mode 0700) when
 * `create` is set and it is missing; refuse a symlink, a foreign owner, or group/world
 * write permission. Those are what a user planting /tmp/nsm-1000 before its owner runs nsm
 * would use to read or redirect the owner's records. The check is lstat-then-use; that is
 * safe because once the directory is ours and not writable by others, nobody else can
 * replace it (/tmp is sticky: only a file's owner may rename or remove it).
 * A directory nsm finds is never changed (no chmod, no chown): NSM_STATE_DIR may name any
 * directory (/etc, a home), and root looks into users' directories; the files nsm puts in
 * it are 0600 and its subdirectories 0700 whatever the mode of the directory itself.
 * Returns false when the directory is missing and `create` is not set.
 */
export function ensurePrivateDir(path: string, options: { create: boolean; euid?: number }): boolean {
  const euid = options.euid ?? effectiveUid();
  if (options.create) {
    try {
      mkdirIfMissing(path, 0o700);
    } catch (err) {
      if (hasErrno(err, 'ENOENT')) mkdirSync(path, { mode: 0o700, recursive: true });
      else throw err;
    }
  }
  let problem: string | undefined;
  try {
    problem = privateDirProblem(path, euid);
  } catch (err) {
    if (hasErrno(err, 'ENOENT') && !options.create) return false;
    throw SysError.fromNode(err, 'lstat', path);
  }
  if (problem !== undefined) {
    throw new NsmError(`unsafe state directory ${path}: ${problem}`, {
      hint: `nsm uses only a directory of your own that no one else can write to, and never changes one it did not make: fix or remove ${path}, or set NSM_STATE_DIR to another`,
    });
  }
  return true;
}

const uuidBuffer = Buffer.alloc(64);

/**
 * 8 random hex digits, for names that must not collide (temp files, staging directories).
 * They come from /proc/sys/kernel/random/uuid, a fresh random (version 4) UUID per read
 * (random(4)), whose first 8 digits are all random: loading node:crypto for them would cost
 * `nsm create` several milliseconds (bench/RESULTS.md). Without procfs, Math.random()
 * stands in: the names only need to differ, not to be unguessable (the directory is private).
 */
export function randomHex(): string {
  try {
    // One small read: readFileSync would allocate 64 KiB for a file whose size procfs reports as 0.
    const fd = openSync('/proc/sys/kernel/random/uuid', constants.O_RDONLY);
    try {
      const n = readSync(fd, uuidBuffer, 0, uuidBuffer.length, null);
      const uuid = uuidBuffer.toString('latin1', 0, n);
      if (/^[0-9a-f]{8}-/.test(uuid)) return uuid.slice(0, 8);
    } finally {
      closeSync(fd);
    }
  } catch {
    // no procfs here
  }
  return Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, '0');
}

export interface AtomicWriteOptions {
  /** File mode of a new file (default 0600). */
  mode?: number;
  /**
   * fsync the directory after the rename (default true), so the rename itself survives a
   * crash. A caller that changes more in that directory passes false and fsyncs it once
   * after its last change (fsyncDir).
   */
  syncDir?: boolean;
  /** false: no fsync at all, for notes that mean nothing after a reboot (default true). */
  durable?: boolean;
}

/**
 * mkdir(2) `path` with `mode` unless something is there already. Looked at first: an
 * EEXIST on every run would cost an exception each time (the first one, libuv's whole
 * error map). Returns whether it made the directory.
 */
export function mkdirIfMissing(path: string, mode: number): boolean {
  try {
    if (lstatSync(path, { throwIfNoEntry: false }) !== undefined) return false;
    mkdirSync(path, { mode });
    return true;
  } catch (err) {
    if (hasErrno(err, 'EEXIST')) return false;
    throw SysError.fromNode(err, 'mkdir', path);
  }
}

/**
 * Run `fn` (synchronous) with the effective uid, gid and groups of `uid`/`gid`, then restore
 * root's. Root acts in another user's state directory this way: every path lookup, read,
 * create and unlink there is checked against that user's permissions, so a symbolic link or
 * a file the user swaps in mid-way (the directory is theirs to change) reaches nothing the
 * user could not reach, and what root creates there (a lock file) belongs to the user.
 * seteuid(2) changes only the effective uid (glibc: setresuid(-1, uid, -1)); the real and
 * saved uid stay 0, so root's ids come back afterwards. glibc applies the change to every
 * thread of the process (nptl(7)), libuv's pool included.
 * Only for root; anyone else runs `fn` as is (they act only in their own directory).
 */
export function asUser<T>(uid: number, gid: number, fn: () => T): T {
  if (effectiveUid() !== 0 || uid === 0) return fn();
  const groups = process.getgroups!();
  const egid = process.getegid!();
  process.setgroups!([gid]);
  process.setegid!(gid);
  process.seteuid!(uid);
  try {
    return fn();
  } finally {
    process.seteuid!(0);
    process.setegid!(egid);
    process.setgroups!(groups);
  }
}

/**
 * Write `data` to `path` so that readers see the old file or the new one, never a part:
 * a temp file in the same directory, fsync (so that a crash cannot leave the new name on
 * an empty or partial file), rename over `path` (rename(2) is atomic within one file
 * system), then, unless `syncDir` is false, fsync the directory.
 */
export function writeFileAtomic(path: string, data: string, options: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomHex()}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, options.mode ?? 0o600);
    const buf = Buffer.from(data);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (options.durable ?? true) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw SysError.fromNode(err, undefined, path);
  }
  if ((options.syncDir ?? true) && (options.durable ?? true)) fsyncDir(dir);
}

/** fsync(2) a directory, making a rename or unlink inside it durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * An exclusive flock(2) on a lock file. Held by one open file description, so two holders in
 * one process exclude each other as two processes do, and the kernel releases it when the
 * holder dies: a crashed nsm never leaves a stale lock. Node opens files with O_CLOEXEC, so
 * a holder or command spawned while the lock is held does not inherit it.
 */
export class FileLock {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Take the lock without waiting; undefined when someone else holds it. */
  static tryAcquire(path: string): FileLock | undefined {
    for (;;) {
      let fd: number;
      try {
        // O_NOFOLLOW: a lock file that is a symlink (ELOOP) is refused, never followed.
        fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
      } catch (err) {
        throw SysError.fromNode(err, 'open', path);
      }
      let locked = false;
      try {
        locked = tryLockExclusive(fd, path);
        if (!locked) {
          closeSync(fd);
          return undefined;
        }
        // The previous holder may have removed the lock file while holding it (removeAndRelease);
        // then we locked an unlinked inode, and a newcomer could lock a new file at `path`.
        // Only a lock on the inode `path` names right now counts: otherwise try again.
        const mine = fstatSync(fd).ino;
        let current: number | undefined;
        try {
          current = lstatSync(path).ino;
        } catch (err) {
          if (!hasErrno(err, 'ENOENT')) throw err;
        }
        if (current === mine) return new FileLock(path, fd);
        closeSync(fd);
      } catch (err) {
        if (locked) closeSync(fd);
        throw SysError.fromNode(err, undefined, path);
      }
    }
  }

  get held(): boolean {
    return this.fd !== undefined;
  }

  release(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  /** Remove the lock file, then release: nothing is left, and a waiter re-checks the inode. */
  removeAndRelease(): void {
    if (this.fd === undefined) return;
    try {
      unlinkSync(this.path);
    } catch (err) {
      if (!hasErrno(err, 'ENOENT')) throw SysError.fromNode(err, 'unlink', this.path);
    } finally {
      this.release();
    }
  }
}

/**
 * Remove a directory tree that may contain namespace pins (nsfs bind mounts). A mount point
 * cannot be unlinked (EBUSY), so first detach every mount at or below `dir` in our mount
 * namespace, deepest first; then remove the files. A missing `dir` is not an error.
 */
export function removeTree(dir: string, procRoot?: string): void {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return;
    throw SysError.fromNode(err, 'realpath', dir);
  }
  const below = new ProcFs(procRoot)
    .readMountinfo('self')
    .map((m) => m.mountPoint)
    .filter((p) => p === real || p.startsWith(`${real}/`))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of below) {
    try {
      umount2(mountPoint, MNT_DETACH);
    } catch (err) {
      // Stacked mounts at one point appear once per layer; the first detach may take them all.
      if (!hasErrno(err, 'EINVAL', 'ENOENT')) throw err;
    }
  }
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    throw SysError.fromNode(err, 'rm', dir);
  }
}
