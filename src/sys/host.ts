/**
 * Facts about the host that `nsm doctor` reports: sysctl knobs, sub-id ranges, the
 * privileges of newuidmap/newgidmap, the state of a directory, and whether the caller
 * can create a namespace of each type. Every reader takes its root (/proc/sys, /etc, a
 * search path) as an argument so the doctor can run on a fixture tree.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, lstatSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { hasErrno } from './errors.js';
import { getXattr } from './libc.js';
import { nsTypeInfo, type NsType } from './nstypes.js';

// ---------------------------------------------------------------------------------------
// sysctl

/**
 * Value of a sysctl ("kernel.unprivileged_userns_clone") read from `root`/kernel/...,
 * trimmed; undefined when the file does not exist (the kernel has no such knob).
 */
export function readSysctl(name: string, root = '/proc/sys'): string | undefined {
  try {
    return readFileSync(join(root, ...name.split('.')), 'utf8').trim();
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// /etc/subuid, /etc/subgid

/** One line of subuid(5)/subgid(5): "owner:start:count", owner a login name or a uid. */
export interface SubIdRange {
  owner: string;
  start: number;
  count: number;
}

/** Parse subuid(5) text; malformed lines and comments are skipped, as shadow's libsubid does. */
export function parseSubIds(text: string): SubIdRange[] {
  const ranges: SubIdRange[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const [owner, start, count, ...rest] = t.split(':');
    if (!owner || rest.length > 0 || !/^[0-9]+$/.test(start ?? '') || !/^[0-9]+$/.test(count ?? '')) continue;
    ranges.push({ owner, start: Number(start), count: Number(count) });
  }
  return ranges;
}

/** Contents of a subuid/subgid file, or undefined when it does not exist. */
export function readSubIds(path: string): SubIdRange[] | undefined {
  try {
    return parseSubIds(readFileSync(path, 'utf8'));
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// File capabilities and setuid bits

/** capability.h: CAP_SETGID and CAP_SETUID bit numbers. */
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;

/** A decoded security.capability xattr (struct vfs_ns_cap_data, linux/capability.h). */
export interface FileCaps {
  /** 1, 2 or 3 (VFS_CAP_REVISION_1..3). */
  revision: number;
  /** VFS_CAP_FLAGS_EFFECTIVE: permitted caps become effective at exec. */
  effective: boolean;
  /** Permitted capability numbers. */
  permitted: number[];
  /** Revision 3 only: the uid that is root in the user namespace the caps apply to. */
  rootUid?: number;
}

/**
 * Decode security.capability: le32 magic_etc (revision in the top byte, bit 0 = effective),
 * then (permitted, inheritable) le32 pairs: one pair for revision 1, two for 2 and 3
 * (the second pair holds caps 32-63), then le32 rootid for revision 3.
 */
export function parseFileCaps(buf: Buffer): FileCaps | undefined {
  if (buf.length < 4) return undefined;
  const magic = buf.readUInt32LE(0);
  const revision = magic >>> 24;
  const words = revision === 1 ? 1 : revision === 2 || revision === 3 ? 2 : 0;
  if (words === 0 || buf.length < 4 + 8 * words) return undefined;
  const permitted: number[] = [];
  for (let w = 0; w < words; w++) {
    const bits = buf.readUInt32LE(4 + 8 * w);
    for (let b = 0; b < 32; b++) if (bits & (1 << b)) permitted.push(32 * w + b);
  }
  const caps: FileCaps = { revision, effective: (magic & 0x1) !== 0, permitted };
  if (revision === 3 && buf.length >= 24) caps.rootUid = buf.readUInt32LE(20);
  return caps;
}

/** Owner, mode bits and file capabilities of an executable. */
export interface ExecutableInfo {
  path: string;
  uid: number;
  mode: number;
  caps?: FileCaps;
}

/** The first `name` in `dirs` that is a regular executable file, with its privileges. */
export function findExecutable(name: string, dirs: readonly string[]): ExecutableInfo | undefined {
  for (const dir of dirs) {
    const path = join(dir, name);
    let st;
    try {
      st = statSync(path);
      accessSync(path, constants.X_OK);
    } catch {
      continue; // absent here, or not executable by the caller: keep looking, as a shell would
    }
    if (!st.isFile()) continue;
    const raw = getXattr(path, 'security.capability');
    const caps = raw ? parseFileCaps(raw) : undefined;
    return { path, uid: st.uid, mode: st.mode, ...(caps ? { caps } : {}) };
  }
  return undefined;
}

/** Directories searched for newuidmap/newgidmap: $PATH, then the usual system ones. */
export function executableSearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs = (env.PATH ?? '').split(':').filter((d) => d.startsWith('/'));
  for (const d of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!dirs.includes(d)) dirs.push(d);
  }
  return dirs;
}

// ---------------------------------------------------------------------------------------
// Directories

/** What lstat and access(2) say about a path. access() checks the real uid, which is the caller's. */
export interface PathState {
  exists: boolean;
  /** lstat failed with EACCES: a directory on the way may not be searched by the caller. */
  denied?: boolean;
  isSymlink?: boolean;
  isDirectory?: boolean;
  uid?: number;
  /** Permission bits (mode & 0o7777). */
  mode?: number;
  /** The caller may create entries in it (W_OK|X_OK). */
  writable?: boolean;
}

export function pathState(path: string): PathState {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ENOTDIR')) return { exists: false };
    if (hasErrno(err, 'EACCES')) return { exists: false, denied: true };
    throw err;
  }
  let writable = false;
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    writable = true;
  } catch {
    writable = false;
  }
  return { exists: true, isSymlink: st.isSymbolicLink(), isDirectory: st.isDirectory(), uid: st.uid, mode: st.mode & 0o7777, writable };
}

/** access(path, W_OK): may the caller write it (EROFS and EACCES both mean no). */
export function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Can the caller create a namespace? Asked of the kernel by running unshare(1).

/** Outcome of one creation attempt. */
export type UnshareProbe =
  | { ok: true; command: string }
  | { ok: false; command: string; errno?: string; message: string }
  /** The probe itself could not run (no unshare(1), or one too old for this type). */
  | { ok: undefined; command: string; message: string };

/**
 * Try to create a namespace of `type` in a short-lived child: `unshare --TYPE true`, or
 * with `viaUser`, `unshare --user --map-root-user --TYPE true` (an unprivileged caller
 * can create the other types only inside a user namespace it owns; user_namespaces(7)).
 * A child process does it because Node is multi-threaded, and unshare(CLONE_NEWUSER)
 * fails with EINVAL in a multi-threaded process (unshare(2)); running the real tool also
 * catches refusals that come after unshare() itself, such as writing uid_map under
 * Ubuntu's AppArmor user-namespace restriction.
 */
export function probeUnshare(type: NsType, viaUser: boolean, unshareBin = 'unshare'): Promise<UnshareProbe> {
  const long = `--${nsTypeInfo(type).unshareLong}`;
  const args: string[] = viaUser ? ['--user', '--map-root-user'] : [];
  if (type !== 'user' || !viaUser) args.push(long);
  // A mount namespace is all we ask for: skip unshare's `mount --make-rprivate /`.
  if (type === 'mnt') args.push('--propagation', 'unchanged');
  args.push('true');
  const command = `unshare ${args.join(' ')}`;
  return new Promise((resolve) => {
    const child = spawn(unshareBin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, timeout: 10_000 });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      const why = hasErrno(err, 'ENOENT') ? 'unshare(1) not found' : `cannot run unshare(1): ${err.message}`;
      resolve({ ok: undefined, command, message: why });
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve({ ok: true, command });
      if (signal) return resolve({ ok: false, command, message: `killed by ${signal}` });
      const line = stderr.trim().split('\n')[0] ?? '';
      if (/unrecognized option|invalid option/.test(line)) {
        return resolve({ ok: undefined, command, message: `this unshare(1) does not know ${long}` });
      }
      resolve({ ok: false, command, ...parseUnshareError(line) });
    });
  });
}

/**
 * unshare(1)'s one-line error ("unshare: unshare failed: Operation not permitted",
 * "unshare: write failed /proc/self/uid_map: Operation not permitted") as the step that
 * failed and the errno name, found by its C-locale text.
 */
export function parseUnshareError(line: string): { errno?: string; message: string } {
  const message = line.replace(/^unshare: /, '') || 'failed';
  const colon = message.lastIndexOf(': ');
  if (colon < 0) return { message };
  // Node's table has libuv's lower-case texts ("operation not permitted"); glibc capitalises.
  const text = message.slice(colon + 2).toLowerCase();
  for (const [, [name, desc]] of getSystemErrorMap()) {
    if (desc.toLowerCase() === text) return { errno: name, message: `${message.slice(0, colon)}: ${name}` };
  }
  return { message };
}

// ---------------------------------------------------------------------------------------
// SELinux

/**
 * Whether SELinux is enabled: its file system is mounted at /sys/fs/selinux (what
 * libselinux's is_selinux_enabled() finds; without it nsenter -Z does nothing).
 */
export function selinuxEnabled(root = '/sys/fs/selinux'): boolean {
  try {
    accessSync(join(root, 'enforce'), constants.F_OK);
    return true;
  } catch {
    return false;
  }
}
