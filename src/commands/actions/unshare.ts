import { unshareRun } from '../../core/unshare.js';
import { unshareWithUserNet } from '../../core/unshare-net.js';
import { UsageError } from '../../sys/errors.js';
import { fallbackNote } from '../../core/user-net.js';
import { userNetRequest } from '../environment-options.js';
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
  const userNet = userNetRequest(opts);
  if (userNet) {
    // The command joins a holder's namespaces (src/core/unshare-net.ts): no chroot of run mode there,
    // and nsm's death ends the holder, and so the command, whatever --kill-child says.
    const note = fallbackNote(userNet.mode);
    if (note) process.stderr.write(note);
    if (opts.root !== undefined) throw new UsageError(`--root cannot be combined with --net-mode ${userNet.mode}`);
    if (killSignal !== undefined && killSignal !== 9) throw new UsageError(`--kill-child cannot be combined with --net-mode ${userNet.mode}: the command is killed when nsm dies`);
    process.exitCode = await unshareWithUserNet(namespaceRequest(opts), argv, userNet, { ...(opts.wd !== undefined ? { cwd: opts.wd } : {}), ...(env ? { env } : {}) });
    return;
  }
  process.exitCode = await unshareRun(namespaceRequest(opts), argv, { root: opts.root, cwd: opts.wd, killSignal, ...(env ? { env } : {}) });
}
