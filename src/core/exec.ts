/**
 * `nsm enter` / `nsm exec`: run a command in an environment's namespaces.
 * The record names the namespaces; openEnvironment() opens them and checks every inode against
 * it, and the join goes through those fds (src/core/join.ts), so a holder that died and
 * whose pid was reused cannot lead anyone into a stranger's namespaces.
 */
import type { StdioTarget } from '../sys/helper.js';
import { noteInheritedFds } from '../sys/inherited-fds.js';
import type { NsType } from '../sys/nstypes.js';
import { openEnvironment } from './environments.js';
import { limitsOf } from './limits.js';
import { runJoined, type JoinPath } from './join.js';
import type { RegistryOptions } from './registry/layout.js';

export interface ExecInEnvironmentOptions extends RegistryOptions {
  /** Join only these of the environment's namespaces (default: all of them). */
  types?: NsType[];
  /** Working directory inside (default: ours if it exists there, else /). */
  cwd?: string;
  /** Environment of the command (default: ours); NSM_ENV=NAME is added. */
  env?: NodeJS.ProcessEnv;
  stdio?: [StdioTarget, StdioTarget, StdioTarget];
  /** Force a join path (tests); default: in-process unless a user or time namespace is joined. */
  path?: JoinPath;
}

/**
 * Run `argv` in environment `name`; resolves with its exit status (128+N after signal N).
 * @throws NsmError for an unknown or dead environment; HolderReusedError (exit 125) when the
 *   recorded holder is not the environment's any more; SysError 126/127 when the command
 *   cannot be executed; SysError/NsmError 125 for a failed join.
 */
export async function execInEnvironment(name: string, argv: readonly string[], options: ExecInEnvironmentOptions = {}): Promise<number> {
  noteInheritedFds(); // if the entry has not (a library caller): before anything is opened
  const { env, verified } = openEnvironment(name, options.types, options);
  const record = env.record;
  try {
    return await runJoined({
      namespaces: verified.namespaces,
      argv,
      cwd: options.cwd,
      env: { ...(options.env ?? process.env), NSM_ENV: name },
      stdio: options.stdio,
      rootPid: verified.via === 'holder' ? record.holder.pid : undefined,
      path: options.path,
      // Everything run in the environment is under its limits, whichever namespaces it joins.
      cgroups: limitsOf(record)?.cgroups,
    });
  } finally {
    verified.close();
  }
}
