/**
 * Test support: run the built CLI (bin/nsm -> dist/nsm.js, built by `npm test`'s pretest),
 * start processes in new namespaces, and stop exactly what was started.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const NSM = `${ROOT}bin/nsm`;
export const isRoot = process.geteuid?.() === 0;

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run `nsm ARGS` to completion. `asUser` runs it through setpriv as that uid/gid (root only). */
export function nsm(args: readonly string[], options: { env?: NodeJS.ProcessEnv; asUser?: number } = {}): RunResult {
  const env = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, NSM_DEBUG: undefined, ...options.env };
  const argv = [process.execPath, NSM, ...args];
  const [cmd, ...rest] =
    options.asUser === undefined
      ? argv
      : ['setpriv', `--reuid=${options.asUser}`, `--regid=${options.asUser}`, '--clear-groups', ...argv];
  const r = spawnSync(cmd!, rest, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Run `nsm ARGS --json`-style commands and parse stdout, failing loudly with stderr. */
export function nsmJson<T = any>(args: readonly string[], options: { env?: NodeJS.ProcessEnv; asUser?: number } = {}): T {
  const r = nsm(args, options);
  if (r.status !== 0) throw new Error(`nsm ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export function nsInode(pid: number | 'self', entry: string): number | undefined {
  try {
    return Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${entry}`))![1]);
  } catch {
    return undefined;
  }
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Child pids of `pid` (from /proc/PID/task/PID/children). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Processes a test started; stop() kills them by pid (SIGKILL: a pid namespace's init
 * ignores SIGTERM) and waits until each has exited, so nothing outlives the test.
 */
export class Processes {
  private readonly children: ChildProcess[] = [];
  private readonly extra: number[] = [];

  start(cmd: string, args: readonly string[], options: { uid?: number } = {}): ChildProcess {
    const child = spawn(cmd, args, { stdio: 'ignore', ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }) });
    this.children.push(child);
    return child;
  }

  /** Also kill this pid at stop() (a grandchild, such as the init of a new pid namespace). */
  adopt(pid: number): void {
    this.extra.push(pid);
  }

  async kill(child: ChildProcess): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  }

  async stop(): Promise<void> {
    for (const pid of this.extra) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.all(this.children.map((c) => this.kill(c)));
    // Adopted pids are not our children: wait until each is gone or a zombie awaiting its reaper.
    for (const pid of this.extra.splice(0)) await waitFor(`pid ${pid} to exit`, () => !isRunning(pid), 5_000);
  }
}

/** `ip netns add NAME`, remembered for removal. */
export class NetnsNames {
  private readonly names: string[] = [];

  add(name: string): string {
    const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
    this.names.push(name);
    return name;
  }

  removeAll(): void {
    for (const name of this.names.splice(0)) spawnSync('ip', ['netns', 'delete', name]);
  }
}
