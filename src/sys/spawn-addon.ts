/**
 * Starting nsm-helper through nsm's own small Node-API module (native/spawn-addon.c:
 * socketpair, posix_spawn, waitpid), not koffi: `nsm exec` and `nsm unshare` then load no
 * koffi at all, and Node is not fork(2)ed as libuv's spawn (child_process) would
 * (bench/RESULTS.md). The same calls as src/sys/libc.ts's socketPair, spawnProcess,
 * waitForChild and readAvailable; usable() says when they can stand in for those (the module
 * is built only where Node's headers are; NSM_NO_SPAWN_ADDON=1 leaves it out, for tests of
 * the koffi way).
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { errnoName, SysError } from './errors.js';
import { childExit, waitForReaped, type ChildExit } from './child-wait.js';
import type { StdioTarget } from './stdio-target.js';
import { findInPackage } from './native.js';


interface Addon {
  socketpair(): [number, number];
  spawn(path: string, argv: string[], envp: string[], dup2s: Array<[number, number]>): number;
  wait(pid: number): number | null;
  /** Older builds of the module lack these two: piped() says. */
  spawnPiped?(path: string, argv: string[], envp: string[]): [number, number, number];
  run?(path: string, argv: string[], envp: string[]): [number, number, Buffer, Buffer];
  /** Likewise: the result (out 0) or the value filled (32, 64), or -errno. */
  ioctl?(fd: number, request: number, out: 0 | 32 | 64): number;
}

let addon: Addon | null | undefined;

function load(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  const path = findInPackage('native/build/nsm-spawn.node');
  if (process.env.NSM_NO_SPAWN_ADDON === '1' || !existsSync(path)) return null;
  try {
    // One load per process: `nsm ls`'s early scan (its own bundle) and the CLI share it.
    const shared = Symbol.for('nsm.spawn-addon');
    const g = globalThis as { [shared]?: Addon };
    if (g[shared] === undefined) {
      const module = { exports: {} as Addon };
      process.dlopen(module, path);
      g[shared] = module.exports;
    }
    addon = g[shared];
  } catch {
    // built for another platform, or unreadable: koffi's way
  }
  return addon;
}

/**
 * Whether the module is there and can place `stdio` (each 'inherit', 'ignore', the fd of the
 * same number, or one above 2: the dup2s are applied in order, so a swap of 0-2 would clobber).
 */
export function usable(stdio: readonly StdioTarget[]): boolean {
  return stdio.every((t, i) => typeof t !== 'number' || t === i || t > 2) && load() !== null;
}

/** The error the module threw (its code: the errno number) as a SysError. */
function sysError(err: unknown, call: string, target?: string): unknown {
  const code = Number((err as { code?: string }).code);
  return Number.isInteger(code) && code > 0 ? new SysError(call, errnoName(code), target) : err;
}

/** A connected AF_UNIX stream pair, both close-on-exec: [ours (non-blocking), the child's]. */
export function socketPair(): [number, number] {
  try {
    return load()!.socketpair();
  } catch (err) {
    throw sysError(err, 'socketpair');
  }
}

/**
 * posix_spawn(3) `path` with `argv`, `env`, `fds` as its 0, 1, 2 and each fd of `pass` under
 * its own number; every signal at its default, none blocked. Returns the pid.
 */
export function spawnProcess(path: string, argv: readonly string[], env: NodeJS.ProcessEnv, fds: readonly StdioTarget[], pass?: readonly number[]): number {
  const opened: number[] = [];
  try {
    const dup2s: Array<[number, number]> = [0, 1, 2].map((i) => {
      const t = fds[i] ?? 'inherit';
      if (t === 'inherit') return [i, i];
      if (t === 'ignore') {
        const fd = openSync('/dev/null', 'r+');
        opened.push(fd);
        return [fd, i];
      }
      return [t, i];
    });
    for (const fd of pass ?? []) if (fd > 2) dup2s.push([fd, fd]);
    const envp = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    return load()!.spawn(path, [...argv], envp, dup2s);
  } catch (err) {
    throw sysError(err, 'posix_spawn', path);
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

/** How our child `pid` ended (src/sys/child-wait.ts), as libc.ts waitForChild. */
export function waitForChild(pid: number, onExit?: () => void): Promise<ChildExit> {
  const m = load()!;
  return waitForReaped(() => {
    try {
      return m.wait(pid) ?? undefined;
    } catch (err) {
      throw sysError(err, 'waitpid', String(pid));
    }
  }, onExit);
}

/** What is waiting in our non-blocking socket `fd` now (the peer has exited: nothing more comes). */
export function readAvailable(fd: number): Buffer {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}

/**
 * Whether the module can start a child with its output piped to us (spawnPiped, runPiped):
 * nsm-helper scan, whose child_process spawn would fork(2) all of Node (bench/RESULTS.md).
 */
export function piped(): boolean {
  return typeof load()?.run === 'function';
}

function environ(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
}

/**
 * posix_spawn(3) `path` (argv[0] included in `argv`) with stdin on /dev/null, stdout and stderr on pipes to us: its pid
 * and our read ends of the two (close-on-exec; the caller reads and closes them).
 */
export function spawnPiped(path: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): { pid: number; stdout: number; stderr: number } {
  try {
    const [pid, stdout, stderr] = load()!.spawnPiped!(path, [...argv], environ(env));
    return { pid, stdout, stderr };
  } catch (err) {
    throw sysError(err, 'posix_spawn', path);
  }
}

/** What runPiped gives: as spawnSync's, the output as Buffers. */
export interface PipedRun extends ChildExit {
  pid: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** spawnPiped, then read both pipes to their end and reap the child, blocking (as spawnSync). */
export function runPiped(path: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): PipedRun {
  let r: [number, number, Buffer, Buffer];
  try {
    r = load()!.run!(path, [...argv], environ(env));
  } catch (err) {
    throw sysError(err, 'posix_spawn', path);
  }
  const [pid, waitStatus, stdout, stderr] = r;
  return { pid, ...childExit(waitStatus), stdout, stderr };
}

/** The ioctl(2) shapes of src/sys/libc.ts's Libc that the module has, with its errno. */
export interface AddonIoctls {
  ioctlNoArg(fd: number, request: number): number;
  ioctlUid(fd: number, request: number, out: number[]): number;
  ioctlU64(fd: number, request: number, out: Array<number | bigint>): number;
  errno(): number;
}

/**
 * The module's ioctl as libc.ts's ioctl shapes (-1 and errno() on failure), so that reading
 * namespace relations (ioctl_ns(2)) loads no koffi; undefined where the module lacks it.
 */
export function ioctls(): AddonIoctls | undefined {
  const m = load();
  if (typeof m?.ioctl !== 'function') return undefined;
  const ioctl = m.ioctl.bind(m);
  let errno = 0;
  const call = (fd: number, request: number, out: 0 | 32 | 64): number => {
    const r = ioctl(fd, request, out);
    if (r < 0) errno = -r;
    return r;
  };
  return {
    ioctlNoArg: (fd, request) => {
      const r = call(fd, request, 0);
      return r < 0 ? -1 : r;
    },
    ioctlUid: (fd, request, out) => {
      const r = call(fd, request, 32);
      if (r < 0) return -1;
      out[0] = r;
      return 0;
    },
    ioctlU64: (fd, request, out) => {
      const r = call(fd, request, 64);
      if (r < 0) return -1;
      out[0] = r;
      return 0;
    },
    errno: () => errno,
  };
}

/**
 * The module's calls for what `nsm create` does besides starting a helper (src/sys/libc.ts
 * makes them through these where the module is there, else through koffi): each returns its
 * result or minus its errno number (waitBlocking retries EINTR itself; poll does not).
 */
export interface OwnCalls {
  flock(fd: number, operation: number): number;
  /** NS_GET_ID of the namespace open at `fd`. */
  nsId(fd: number): number;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number;
  umount2(target: string, flags: number): number;
  /** pipe2(O_CLOEXEC): [read end, write end], or minus errno. */
  pipe(): [number, number] | number;
  /** poll(2) over `pollfds` (struct pollfd, 8 bytes each). */
  poll(pollfds: Buffer, nfds: number, timeout: number): number;
  /** waitpid(pid, 0): the raw wait status. */
  waitBlocking(pid: number): number;
}

/** Those calls, or null where the module was not built (or is one from before they were added). */
export function ownCalls(): OwnCalls | null {
  const m = load() as (Addon & Partial<OwnCalls>) | null;
  return m && typeof m.waitBlocking === 'function' ? (m as Addon & OwnCalls) : null;
}
