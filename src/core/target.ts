/**
 * What `inspect`, `diff` and `ps -p` point at: a "target" that resolves to one process:
 * a PID, or the name of an environment, which stands for its holder (the process that is in
 * exactly the environment's namespaces: PID 1 of its pid namespace).
 */
import { echoInput, errnoOf, errnoText, hasErrno, NsmError, UsageError } from '../sys/errors.js';
import type { NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import { resolveEnvironment } from './environments.js';
import { ENV_NAME_PATTERN } from './record.js';
import { HolderReusedError } from './registry/holder.js';
import type { RegistryOptions } from './registry/layout.js';

/** A target as the user wrote it, checked for syntax only. */
export type TargetSpec = { kind: 'pid'; pid: number } | { kind: 'env'; name: string };

/** A target resolved to a live process. */
export interface Target {
  spec: TargetSpec;
  pid: number;
  /** Start time (stat field 22): with pid, identifies the process across PID reuse. */
  startTime: number;
  /** How to name it in messages and output: "PID 1234", "environment web (holder PID 1234)". */
  label: string;
  /** The environment's name when the target was one. */
  env?: string;
}

/** Largest pid the kernel hands out (pid_max may be raised to 2^22, proc(5)). */
const PID_MAX_LIMIT = 4194304;

/** Parse a target argument: a PID, or an environment name; anything else is a usage error (exit 2). */
export function parseTarget(text: string): TargetSpec {
  if (/^[0-9]+$/.test(text)) {
    if (!/^[1-9][0-9]{0,9}$/.test(text) || Number(text) > PID_MAX_LIMIT) throw new UsageError(`not a process id: ${echoInput(text)}`);
    return { kind: 'pid', pid: Number(text) };
  }
  if (!ENV_NAME_PATTERN.test(text)) throw new UsageError(`not a process id or an environment name: ${echoInput(text)}`);
  return { kind: 'env', name: text };
}

/**
 * Resolve a target to a live process. A pid that does not exist, or whose /proc entry
 * we may not read, is a one-line runtime error (exit 1). An environment resolves to its
 * holder while that runs; a dead or pinned one (no holder) is an error, and so is one whose
 * holder pid now belongs to another process (with the same words as exec's refusal).
 */
export function resolveTarget(spec: TargetSpec, procfs: ProcFs = new ProcFs(), registry: RegistryOptions = {}): Target {
  if (spec.kind === 'env') return resolveEnvironmentTarget(spec, registry);
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

function resolveEnvironmentTarget(spec: { kind: 'env'; name: string }, registry: RegistryOptions): Target {
  const env = resolveEnvironment(spec.name, registry);
  const { pid, startTime } = env.record.holder;
  switch (env.state) {
    case 'running':
      return { spec, pid, startTime, label: `environment ${spec.name} (holder PID ${pid})`, env: spec.name };
    case 'reused': {
      // The refusal exec gives (there with exit 125); here an ordinary failure, exit 1.
      const refusal = new HolderReusedError(spec.name, pid);
      throw new NsmError(refusal.message, { hint: refusal.hint });
    }
    default:
      throw new NsmError(`environment ${spec.name} has no running holder (it is ${env.state}): there is no process to look at`, {
        hint: env.state === 'pinned' ? 'its pinned namespaces are listed by: nsm ls -o +NSFS' : `run nsm gc, or nsm create ${spec.name}`,
      });
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
