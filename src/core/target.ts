/**
 * What `inspect`, `diff` and `ps -p` point at: a "target" that resolves to one process.
 *
 * Today a target is a PID. The lifecycle issue adds named environments: it extends
 * parseTarget() to accept a name and resolveTarget() to look it up in the registry and
 * return the environment's holder pid, so every command taking a target gains names at once.
 */
import { errnoOf, errnoText, hasErrno, NsmError, UsageError } from '../sys/errors.js';
import type { NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';

/** A target as the user wrote it, checked for syntax only. */
export type TargetSpec = { kind: 'pid'; pid: number };

/** A target resolved to a live process. */
export interface Target {
  spec: TargetSpec;
  pid: number;
  /** Start time (stat field 22): with pid, identifies the process across PID reuse. */
  startTime: number;
  /** How to name it in messages and output: "PID 1234". */
  label: string;
}

/** Largest pid the kernel hands out (pid_max may be raised to 2^22, proc(5)). */
const PID_MAX_LIMIT = 4194304;

/** Parse a target argument; a non-numeric one is a usage error (exit 2). */
export function parseTarget(text: string): TargetSpec {
  if (!/^[1-9][0-9]{0,9}$/.test(text) || Number(text) > PID_MAX_LIMIT) {
    throw new UsageError(`not a process id: ${text}`);
  }
  return { kind: 'pid', pid: Number(text) };
}

/**
 * Resolve a target to a live process. A pid that does not exist, or whose /proc entry
 * we may not read, is a one-line runtime error (exit 1).
 */
export function resolveTarget(spec: TargetSpec, procfs: ProcFs = new ProcFs()): Target {
  const label = `PID ${spec.pid}`;
  try {
    const stat = procfs.readStat(spec.pid);
    return { spec, pid: spec.pid, startTime: stat.startTime, label };
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ESRCH')) throw new NsmError(`${label}: no such process`);
    if (hasErrno(err, 'EACCES', 'EPERM')) throw new NsmError(`${label}: permission denied`, { hint: accessHint() });
    throw err;
  }
}

/** One /proc/PID/ns entry of a target, or why it could not be read. */
export interface EntryReading<E extends string = string> {
  entry: E;
  type: NsType;
  inode?: number;
  /** Errno name when the link could not be read. */
  error?: string;
}

/**
 * Read /proc/PID/ns entries of a target. One unreadable entry (a kernel without that type:
 * ENOENT; a zombie; not permitted: EACCES) is reported in that entry; none readable at all
 * is a one-line error, exit 1.
 */
export function readTargetNamespaces<E extends string>(
  target: Target,
  entries: ReadonlyArray<{ entry: E; type: NsType }>,
  procfs: ProcFs = new ProcFs(),
): Array<EntryReading<E>> {
  const readings = entries.map(({ entry, type }): EntryReading<E> => {
    try {
      return { entry, type, inode: procfs.readNsEntry(target.pid, entry)?.inode };
    } catch (err) {
      if (!hasErrno(err, 'ENOENT', 'ESRCH', 'EACCES', 'EPERM')) throw err;
      return { entry, type, error: errnoOf(err) };
    }
  });
  if (readings.length > 0 && readings.every((r) => r.inode === undefined)) {
    const errno = readings[0]!.error ?? 'EIO';
    if (errno === 'ENOENT' || errno === 'ESRCH') {
      // A zombie keeps its /proc entry but has left its namespaces (proc(5)).
      if (isZombie(procfs, target.pid)) throw new NsmError(`${target.label}: a zombie (exited, not yet reaped): it has left these namespaces`);
      throw new NsmError(`${target.label}: no such process`);
    }
    throw new NsmError(`${target.label}: cannot read its namespaces: ${errno}: ${errnoText(errno)}`, { hint: accessHint() });
  }
  return readings;
}

function isZombie(procfs: ProcFs, pid: number): boolean {
  try {
    return procfs.readStat(pid).state === 'Z';
  } catch {
    return false;
  }
}

/**
 * /proc/PID/ns links need ptrace read access to the process (proc(5)): another user's
 * process needs root; a few (a sandbox's init) refuse even root.
 */
function accessHint(): string {
  return process.geteuid?.() === 0
    ? 'the process denies ptrace read access to its /proc entries, even to root (proc(5))'
    : "run nsm as root to see other users' processes";
}
