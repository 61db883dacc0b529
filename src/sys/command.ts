/**
 * Run a user's command as a child of this process and report its exit status the way a
 * shell does. Used after an in-process join (src/core/exec.ts): the child is forked from
 * Node's main thread, so it inherits the namespaces that thread joined.
 */
import { spawn } from 'node:child_process';
import { EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_NSM_FAILED, SysError } from './errors.js';
import type { StdioTarget } from './helper.js';
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
}

/**
 * Spawn `argv` and resolve with its exit status: its own code, or 128+N after signal N.
 *
 * @throws SysError `execvp(CMD)`: ENOENT with exitCode 127 (not found), EACCES/ENOEXEC/EISDIR
 *   with exitCode 126 (not executable), anything else with exitCode 125 - the same calls and
 *   codes the native helper reports, so both join paths fail alike.
 */
export function runCommand(argv: readonly string[], opts: CommandOptions = {}): Promise<number> {
  const [file, ...args] = argv;
  if (file === undefined || file === '') return Promise.reject(new SysError('execvp', 'EINVAL', '', { exitCode: EXIT_NSM_FAILED }));
  return new Promise((resolve, reject) => {
    const forwarder = opts.forwardSignals === false ? undefined : forwardSignals();
    let child;
    try {
      child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: opts.stdio ?? 'inherit' });
    } catch (err) {
      forwarder?.restore();
      throw err;
    }
    forwarder?.attach(child);
    const restore = () => forwarder?.restore();
    let failed = false;
    child.once('spawn', () => {
      if (child.pid !== undefined) opts.onStarted?.(child.pid);
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      // 'error' without 'spawn' means exec failed; a kill() error after spawn is not ours to report.
      if (child.pid !== undefined && !failed) return;
      failed = true;
      restore();
      const errno = typeof err.code === 'string' ? err.code : 'EIO';
      const exitCode = errno === 'ENOENT' ? EXIT_NOT_FOUND : ['EACCES', 'ENOEXEC', 'EISDIR', 'EPERM'].includes(errno) ? EXIT_NOT_EXECUTABLE : EXIT_NSM_FAILED;
      reject(new SysError(`execvp(${file})`, errno, undefined, { exitCode, cause: err }));
    });
    child.once('exit', (code, signal) => {
      if (failed) return;
      restore();
      resolve(exitStatus(code, signal) ?? EXIT_NSM_FAILED);
    });
  });
}
