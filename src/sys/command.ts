/**
 * Run a user's command as a child of this process and report its exit status the way a
 * shell does. Used after an in-process join (src/core/exec.ts): the child is forked from
 * Node's main thread, so it inherits the namespaces that thread joined.
 */
import { EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_NSM_FAILED, SysError } from './errors.js';
import { spawnCommand, waitForChild, type StdioTarget } from './libc.js';
import { exitStatus, forwardSignals } from './signals.js';

export interface CommandOptions {
  /** Working directory; must exist (the caller picks a fallback). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Default: all inherited, so the terminal passes through. */
  stdio?: [StdioTarget, StdioTarget, StdioTarget];
  /** Forward SIGTERM/SIGHUP and outlive SIGINT/SIGQUIT/SIGWINCH (src/sys/signals.ts); default true. */
  forwardSignals?: boolean;
  onStarted?: (pid: number) => void;
  /** Further fds of ours the command inherits under the same numbers. */
  pass?: readonly number[];
}

/**
 * Spawn `argv` and resolve with its exit status: its own code, or 128+N after signal N.
 * The child is started with posix_spawnp(3) from the calling thread (src/sys/libc.ts
 * spawnCommand), so it inherits the namespaces that thread joined.
 *
 * @throws SysError `execvp(CMD)`: ENOENT with exitCode 127 (not found), EACCES/ENOEXEC/EISDIR
 *   with exitCode 126 (not executable), anything else with exitCode 125 - the same calls and
 *   codes the native helper reports, so both join paths fail alike.
 */
export async function runCommand(argv: readonly string[], opts: CommandOptions = {}): Promise<number> {
  // Before the spawn: see forwardSignals() for the window this closes.
  const forwarder = opts.forwardSignals === false ? undefined : forwardSignals();
  let pid: number;
  try {
    pid = spawnCommand(argv, { cwd: opts.cwd, env: opts.env, stdio: opts.stdio, pass: opts.pass });
  } catch (err) {
    forwarder?.restore();
    if (!(err instanceof SysError) || !err.call.startsWith('execvp')) throw err;
    const exitCode = err.errno === 'ENOENT' ? EXIT_NOT_FOUND : NOT_EXECUTABLE.includes(err.errno) ? EXIT_NOT_EXECUTABLE : EXIT_NSM_FAILED;
    throw new SysError(err.call, err.errno, undefined, { exitCode, cause: err });
  }
  forwarder?.attach(pid);
  opts.onStarted?.(pid);
  const end = await waitForChild(pid, () => forwarder?.restore());
  return exitStatus(end.status, end.signal) ?? EXIT_NSM_FAILED;
}

/** execve(2) errors that mean "found, but cannot be run": the shell's 126. */
const NOT_EXECUTABLE = ['EACCES', 'ENOEXEC', 'EISDIR', 'EPERM'];
