/**
 * A command argument naming what to look at: a process id or an environment name.
 * `inspect NAME` and `diff NAME PID` resolve names here to the environment's holder: the
 * process that is in exactly the environment's namespaces (PID 1 of its pid namespace).
 */
import { NsmError, UsageError } from '../sys/errors.js';
import { ProcFs } from '../sys/procfs.js';
import { resolveEnvironment } from './environments.js';
import { HolderReusedError, ENV_NAME_PATTERN, type ListedEnvironment, type RegistryOptions } from './registry.js';

export interface ResolvedTarget {
  pid: number;
  /** Start time (stat field 22): with pid, names the process across PID reuse. */
  startTime: number;
  /** Set when the argument was an environment name. */
  env?: ListedEnvironment;
  /** "PID 1234" or "environment web (holder PID 1234)", for messages and headings. */
  label: string;
}

const PID_MAX_LIMIT = 4194304;

/** Whether `arg` is a pid (all digits) rather than an environment name. */
export function isPidArgument(arg: string): boolean {
  return /^[0-9]+$/.test(arg);
}

/**
 * Resolve a pid or an environment name. A name must belong to a running environment: its
 * holder is then the process (checked by pid and start time, so a reused pid is refused).
 * @throws UsageError for text that is neither; NsmError for an unknown or dead environment;
 *   HolderReusedError when its pid now belongs to another process.
 */
export function resolveTargetArgument(arg: string, options: RegistryOptions = {}): ResolvedTarget {
  const proc = new ProcFs(options.procRoot);
  if (isPidArgument(arg)) {
    const pid = Number(arg);
    if (pid < 1 || pid > PID_MAX_LIMIT) throw new UsageError(`not a process id: ${arg}`);
    let startTime: number;
    try {
      startTime = proc.readStat(pid).startTime;
    } catch {
      throw new NsmError(`PID ${pid}: no such process`);
    }
    return { pid, startTime, label: `PID ${pid}` };
  }
  if (!ENV_NAME_PATTERN.test(arg)) throw new UsageError(`not a process id or an environment name: ${arg}`);
  const env = resolveEnvironment(arg, options);
  const { pid, startTime } = env.record.holder;
  switch (env.state) {
    case 'running':
      return { pid, startTime, env, label: `environment ${arg} (holder PID ${pid})` };
    case 'reused':
      throw new HolderReusedError(arg, pid);
    default:
      throw new NsmError(`environment ${arg} has no running holder (it is ${env.state}): there is no process to look at`, {
        hint: env.state === 'pinned' ? `its pinned namespaces are listed by: nsm ls -o +NSFS` : `run nsm gc, or nsm create ${arg}`,
      });
  }
}
