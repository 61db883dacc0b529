/**
 * `nsm unshare`: fresh namespaces for one command, gone when it exits (the helper's run mode).
 */
import { runInNewNamespaces, type RunOptions } from '../sys/helper.js';
import { noteInheritedFds } from '../sys/inherited-fds.js';
import { effectiveUid } from '../sys/statefs.js';
import { explainPrivilegeFailure, planNamespaces, type NamespaceRequest } from './plan.js';

/**
 * Run `argv` in new namespaces as `req` describes and resolve with its exit status
 * (128+N after signal N). Failures: SysError/NsmError with exitCode 125 (setup), 126, 127.
 */
export async function unshareRun(req: NamespaceRequest, argv: readonly string[], opts: RunOptions = {}): Promise<number> {
  noteInheritedFds(); // if the entry has not (a library caller): before anything is opened
  const config = planNamespaces(req, { euid: effectiveUid() });
  try {
    return await runInNewNamespaces(config, argv, opts);
  } catch (err) {
    throw explainPrivilegeFailure(err, config);
  }
}
