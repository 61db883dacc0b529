import { unshareRun } from '../../core/unshare.js';
import { namespaceRequest } from '../namespace-request.js';
import type { OptionsOf } from '../spec.js';
import type { unshareOptions } from '../unshare.js';

export async function run([command]: [string[]], opts: OptionsOf<typeof unshareOptions>): Promise<void> {
  // unshare(1): no command runs $SHELL, else /bin/sh.
  const argv = command.length > 0 ? command : [process.env.SHELL || '/bin/sh'];
  const killSignal = typeof opts.killChild === 'number' ? opts.killChild : undefined;
  process.exitCode = await unshareRun(namespaceRequest(opts), argv, { root: opts.root, cwd: opts.wd, killSignal });
}
