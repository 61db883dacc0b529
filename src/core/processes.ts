/**
 * Ending processes identified by (pid, start time), so that a pid reused meanwhile is never
 * signalled: the identity is checked right before each kill(2).
 */
import { hasErrno } from '../sys/errors.js';
import { ProcFs } from '../sys/procfs.js';

export interface ProcessRef {
  pid: number;
  startTime: number;
}

const proc = new ProcFs();

/**
 * Alive: the same process (start time), and not a zombie. A zombie has left its namespaces
 * already (exit_task_namespaces runs before it is reaped); on this host PID 1 reaps orphans
 * lazily, so a killed holder may stay a zombie for seconds.
 */
export function isAlive(p: ProcessRef): boolean {
  try {
    const stat = proc.readStat(p.pid);
    return stat.startTime === p.startTime && stat.state !== 'Z' && stat.state !== 'X';
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ESRCH')) return false;
    throw err;
  }
}

/** A pid that no longer runs: gone, or a zombie waiting to be reaped. */
export function isZombieOrGone(pid: number): boolean {
  try {
    const state = proc.readStat(pid).state;
    return state === 'Z' || state === 'X';
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ESRCH')) return true;
    throw err;
  }
}

/** Send `signal` if `p` is still that process; false when it is gone (or not ours to signal). */
function signalProcess(p: ProcessRef, signal: NodeJS.Signals): boolean {
  if (!isAlive(p)) return false;
  try {
    process.kill(p.pid, signal);
    return true;
  } catch (err) {
    // ESRCH: it exited just now; EPERM: another user's process (an id mapped into a rootless
    // environment); the holder's exit takes it down with the pid namespace.
    if (hasErrno(err, 'ESRCH', 'EPERM')) return false;
    throw err;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until none of `ps` is alive, at most `ms`; returns those still alive. */
async function waitForExit(ps: readonly ProcessRef[], ms: number): Promise<ProcessRef[]> {
  const end = Date.now() + ms;
  let left = ps.filter(isAlive);
  let pause = 1;
  while (left.length > 0 && Date.now() < end) {
    await sleep(Math.min(pause, Math.max(1, end - Date.now())));
    pause = Math.min(pause * 2, 25);
    left = left.filter(isAlive);
  }
  return left;
}

/**
 * SIGTERM to every process, SIGKILL to those still alive after `graceMs`, then wait (up to
 * `killWaitMs`) for them to die. Returns the ones that outlived even SIGKILL (stuck in D state).
 */
export async function stopProcesses(ps: readonly ProcessRef[], opts: { graceMs: number; killWaitMs?: number }): Promise<ProcessRef[]> {
  let left = ps.filter((p) => (opts.graceMs > 0 ? signalProcess(p, 'SIGTERM') : isAlive(p)));
  if (opts.graceMs > 0) left = await waitForExit(left, opts.graceMs);
  for (const p of left) signalProcess(p, 'SIGKILL');
  return waitForExit(left, opts.killWaitMs ?? 2000);
}

/** stopProcesses for one process. */
export async function stopProcess(p: ProcessRef, opts: { graceMs: number; killWaitMs?: number }): Promise<boolean> {
  return (await stopProcesses([p], opts)).length === 0;
}
