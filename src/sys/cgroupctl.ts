/**
 * Writing cgroups (cgroups(7)): make one, enable controllers for children (v2), write its
 * limit files, read its usage files, remove it. The layout (which hierarchies exist, where,
 * with which controllers) comes from src/sys/cgroupfs.ts; what to make is decided in
 * src/core/limits.ts. Paths are absolute directories under /sys/fs/cgroup.
 */
import { mkdirSync, openSync, readFileSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { cgroupLayout, parseCgroupMounts, type CgroupLayout } from './cgroupfs.js';
import { hasErrno, NsmError, SysError } from './errors.js';
import { parseCgroup } from './parse.js';

/** The caller's cgroup layout, read from /proc/self/mountinfo and /proc/self/cgroup. */
export function readCgroupLayout(): CgroupLayout {
  return cgroupLayout(parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8')), parseCgroup(readFileSync('/proc/self/cgroup', 'utf8')));
}

/** mkdir a cgroup. `exclusive`: EEXIST is an error (a cgroup someone else may be using). */
export function makeCgroup(dir: string, exclusive: boolean): void {
  try {
    mkdirSync(dir, { mode: 0o755 });
  } catch (err) {
    if (hasErrno(err, 'EEXIST') && !exclusive) return;
    throw SysError.fromNode(err, 'mkdir', dir);
  }
}

/** Write `value` to the control file `file` of cgroup `dir`. */
export function writeCgroupFile(dir: string, file: string, value: string): void {
  try {
    writeFileSync(`${dir}/${file}`, value);
  } catch (err) {
    throw SysError.fromNode(err, 'write', `${dir}/${file}, ${JSON.stringify(value)}`);
  }
}

/** The text of control file `file` of cgroup `dir` (trimmed); undefined when it does not exist. */
export function readCgroupFile(dir: string, file: string): string | undefined {
  try {
    return readFileSync(`${dir}/${file}`, 'utf8').trim();
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ENODEV', 'EOPNOTSUPP')) return undefined;
    throw SysError.fromNode(err, 'read', `${dir}/${file}`);
  }
}

/** "key value" lines (cpu.stat, memory.events, pids.events) as a map of numbers. */
export function parseKeyedCounters(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^[0-9]+$/.test(value)) out.set(key, Number(value));
  }
  return out;
}

/**
 * v2: let children of `dir` use `controllers` ("+memory +pids" to cgroup.subtree_control).
 * Enabling one that is already enabled is a no-op; one the parent does not offer is ENOENT.
 */
export function enableControllers(dir: string, controllers: readonly string[]): void {
  if (controllers.length === 0) return;
  writeCgroupFile(dir, 'cgroup.subtree_control', controllers.map((c) => `+${c}`).join(' '));
}

/** Pids in cgroup `dir` (cgroup.procs); empty when it is gone. */
export function cgroupProcs(dir: string): number[] {
  const text = readCgroupFile(dir, 'cgroup.procs');
  return text ? text.split('\n').filter(Boolean).map(Number) : [];
}

/** Move process `pid` (0: the caller) into cgroup `dir`. */
export function joinCgroup(dir: string, pid = 0): void {
  writeCgroupFile(dir, 'cgroup.procs', String(pid));
}

/**
 * Open cgroup `dir`'s cgroup.procs for writing, to move a process there later through the fd
 * (after a setns() into a mount namespace where the path is not visible). The kernel checks
 * a write against the opener's credentials and cgroup namespace (cgroups(7), Linux 5.16+).
 */
export function openCgroupProcs(dir: string): number {
  try {
    return openSync(`${dir}/cgroup.procs`, 'w');
  } catch (err) {
    throw SysError.fromNode(err, 'open', `${dir}/cgroup.procs`);
  }
}

/** Move the caller (all its threads) into the cgroup whose cgroup.procs is open on `fd`. */
export function joinCgroupFd(fd: number, what: string): void {
  try {
    writeSync(fd, '0');
  } catch (err) {
    throw SysError.fromNode(err, 'write', what);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Why cgroup `dir` cannot be removed: the processes still in it. */
function busyError(dir: string): NsmError {
  const pids = cgroupProcs(dir);
  return new NsmError(`cannot remove cgroup ${dir}: ${pids.length > 0 ? `processes still in it (PID ${pids.join(', ')})` : 'it is busy (EBUSY)'}`, {
    hint: `rmdir ${dir} once they have exited`,
  });
}

/** rmdir a cgroup now; false when it was already gone; NsmError naming the pids when busy. */
export function removeCgroupNow(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return false;
    if (hasErrno(err, 'EBUSY')) throw busyError(dir);
    throw SysError.fromNode(err, 'rmdir', dir);
  }
}

/**
 * rmdir a cgroup. A cgroup is removable once no process is in it (cgroups(7)); processes that
 * were just killed leave it when they finish exiting, so EBUSY is retried for `waitMs`.
 * Returns false when it was already gone; throws NsmError naming the pids still inside.
 */
export async function removeCgroup(dir: string, waitMs = 2000): Promise<boolean> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      return removeCgroupNow(dir);
    } catch (err) {
      if (!(err instanceof NsmError) || err instanceof SysError || Date.now() >= until) throw err;
      await sleep(20);
    }
  }
}
