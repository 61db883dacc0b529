import { unshareRun } from '../../core/unshare.js';
import { namespaceRequest } from '../namespace-request.js';
import type { OptionsOf } from '../spec.js';
import type { unshareOptions } from '../unshare.js';

export async function run([command]: [string[]], opts: OptionsOf<typeof unshareOptions>): Promise<void> {
  // unshare(1): no command runs $SHELL, else /bin/sh.
  const argv = command.length > 0 ? command : [process.env.SHELL || '/bin/sh'];
  const killSignal = typeof opts.killChild === 'number' ? opts.killChild : undefined;
  // unshare(1) --clear-env / --whitelist-env: the command's environment, nothing else of ours.
  const keep = opts.whitelistEnv ?? (opts.clearEnv ? [] : undefined);
  const env = keep && Object.fromEntries(keep.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]]])));
  process.exitCode = await unshareRun(namespaceRequest(opts), argv, { root: opts.root, cwd: opts.wd, killSignal, ...(env ? { env } : {}) });
}
