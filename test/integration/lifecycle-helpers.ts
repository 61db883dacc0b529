/**
 * Shared pieces of the lifecycle tests (create, enter, exec, unshare, destroy), which drive
 * the real CLI (bin/nsm) on the real kernel.
 *
 * Every environment a test creates is recorded here with its holder (pid + start time) and
 * state directory; cleanup() destroys it through nsm and then, should that have failed, kills
 * exactly that holder and removes what is left (pins, /run/netns link, state directory), so a
 * failing test leaves nothing behind and never touches anyone else's processes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
export { mountsBelow, nsfsMountsBelow } from '../support/mounts.js';
import { mountsBelow } from '../support/mounts.js';
import { parseStat, type ProcStat } from '../../src/sys/parse.js';

export const isRoot = process.geteuid?.() === 0;
export const NSM = new URL('../../bin/nsm', import.meta.url).pathname;
/** As root, the rootless tests run as this user (nobody); otherwise as ourselves. */
export const ROOTLESS_UID = isRoot ? 65534 : process.getuid!();
export const OTHER_UID = 1000;
/**
 * The pid a planted record gives its (exited) holder or creator: above any pid_max (proc(5):
 * at most 2^22), so it can never name a process of the host, whatever pid reuse does.
 */
export const NEVER_A_PID = 2147483647;

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface NsmOptions {
  /** NSM_STATE_DIR for this run (undefined: leave the variable out: the default directory). */
  stateDir?: string;
  /** Run as this uid (and gid) through setpriv; needs root. */
  uid?: number;
  env?: NodeJS.ProcessEnv;
  input?: string;
  cwd?: string;
  /** Called with the spawned process (to signal it). */
  onSpawn?: (child: ChildProcess) => void;
}

const started: ChildProcess[] = [];

/** Run `nsm ARGS`; resolves when it exits. */
export function nsm(args: readonly string[], opts: NsmOptions = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, NO_COLOR: '1' };
  delete env.NSM_STATE_DIR;
  if (opts.stateDir !== undefined) env.NSM_STATE_DIR = opts.stateDir;
  const entry = [NSM];
  const [cmd, argv] =
    opts.uid === undefined || (!isRoot && opts.uid === process.getuid!())
      ? [process.execPath, [...entry, ...args]]
      : ['setpriv', [`--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', process.execPath, ...entry, ...args]];
  const child = spawn(cmd, argv, { env, cwd: opts.cwd ?? '/', stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(child);
  opts.onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdin!.on('error', () => {});
  child.stdin!.end(opts.input ?? '');
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export function uniqueName(prefix = 'lc'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

const dirs: string[] = [];

/** A private state directory (mode 0700) owned by `uid` (default: us). */
export function stateDir(uid?: number): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'nsm-lifecycle-test-')));
  if (uid !== undefined && isRoot) chownSync(dir, uid, uid);
  dirs.push(dir);
  return dir;
}

/** /proc/PID/stat through nsm's own parser, or undefined when there is no such process. */
function statOf(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** (pid, start time) of a live process, or undefined. */
export function identity(pid: number): { pid: number; startTime: number; state: string } | undefined {
  const stat = statOf(pid);
  return stat && { pid, state: stat.state, startTime: stat.startTime };
}

/** Parent pid of `pid`, or undefined when it is gone. */
export function parentOf(pid: number): number | undefined {
  return statOf(pid)?.ppid;
}

/** Alive and not a zombie (this host's PID 1 reaps orphans lazily). */
export function alive(pid: number, startTime?: number): boolean {
  const id = identity(pid);
  return id !== undefined && id.state !== 'Z' && id.state !== 'X' && (startTime === undefined || id.startTime === startTime);
}

export async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Created {
  name: string;
  pid: number;
  startTime: number;
  namespaces: Record<string, number>;
  stateDir?: string;
  uid?: number;
  netnsLink: string | null;
  pins: Record<string, string>;
}

const envs: Created[] = [];

/** `nsm create --json NAME ARGS` that must succeed; the environment is destroyed by cleanup(). */
export async function create(name: string, args: readonly string[] = [], opts: NsmOptions = {}): Promise<Created> {
  const r = await nsm(['create', '--json', ...args, name], opts);
  if (r.code !== 0) throw new Error(`nsm create ${name} failed (${r.code}): ${r.stderr}`);
  return remember(JSON.parse(r.stdout), opts);
}

/** Record an environment created some other way (parallel creates) for cleanup. */
export function remember(doc: { name: string; pid: number; namespaces: Record<string, number>; netnsLink: string | null; pins: Record<string, string> }, opts: NsmOptions = {}): Created {
  const created: Created = {
    name: doc.name,
    pid: doc.pid,
    startTime: identity(doc.pid)?.startTime ?? -1,
    namespaces: doc.namespaces,
    stateDir: opts.stateDir,
    uid: opts.uid,
    netnsLink: doc.netnsLink,
    pins: doc.pins,
  };
  envs.push(created);
  return created;
}



/** The environment record's path. */
export function recordPath(stateDir: string, name: string): string {
  return join(stateDir, 'envs', name, 'env.json');
}

/** Children of `pid` (from /proc/PID/task/PID/children). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Start `argv` (a command that ends in a `sleep`: `unshare -n sleep 60`, say), as `uid` through
 * setpriv when given, and wait until the process has exec'd that sleep: its pid. Killed by cleanup().
 */
export async function startUntilSleep(argv: string[], uid?: number): Promise<number> {
  const [cmd, args] = uid === undefined ? [argv[0]!, argv.slice(1)] : ['setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv]];
  const p = spawn(cmd, args, { stdio: 'ignore' });
  started.push(p);
  await waitFor(() => comm(p.pid!) === 'sleep', `${argv.join(' ')} to start`);
  return p.pid!;
}

/**
 * A `sleep` in a PID namespace of its own (unprivileged: in a user namespace of its own too),
 * started by the test: its host pid and start time. What a test plants in a record as "another
 * live process" must be this, never a process of the host's. Killed by cleanup().
 */
export async function sleeperInOwnPidNs(): Promise<{ pid: number; startTime: number }> {
  const userns = isRoot ? [] : ['--user', '--map-root-user'];
  const u = spawn('unshare', [...userns, '--pid', '--fork', '--kill-child', 'sleep', '60'], { stdio: 'ignore' });
  started.push(u);
  let pid: number | undefined;
  await waitFor(() => {
    pid = childrenOf(u.pid!).find((c) => comm(c) === 'sleep');
    return pid !== undefined;
  }, 'the sleep to start');
  return { pid: pid!, startTime: identity(pid!)!.startTime };
}

function killIfSame(pid: number, startTime: number): void {
  if (!alive(pid, startTime)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/**
 * Destroy every environment the tests created (through nsm, as its creator), then make sure:
 * kill a holder that survived, detach and remove its pins and /run/netns link, remove the
 * state directories. Also kills any nsm process a test started and left running.
 */
export async function cleanup(): Promise<void> {
  for (const c of started.splice(0)) {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      try {
        c.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const e of envs.splice(0)) {
    if (alive(e.pid, e.startTime) || (e.netnsLink && existsSync(e.netnsLink))) {
      await nsm(['destroy', '--force', '--timeout', '1', e.name], { stateDir: e.stateDir, uid: e.uid });
    }
    killIfSame(e.pid, e.startTime);
    if (e.netnsLink && existsSync(e.netnsLink)) {
      spawnSync('ip', ['netns', 'delete', e.name]);
    }
  }
  for (const dir of dirs.splice(0)) {
    for (const m of mountsBelow(dir).sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Our temp dirs still present (for a final check). */
export function leftoverDirs(): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith('nsm-lifecycle-test-')).map((d) => join(tmpdir(), d)).filter((d) => dirs.includes(d));
}
