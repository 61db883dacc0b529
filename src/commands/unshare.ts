/** `nsm unshare`: one command in new namespaces; nothing is left when it exits. */
import { namespaceOptions } from './namespace-options.js';
import { defineCommand } from './spec.js';

export const unshareCommand = defineCommand({
  name: 'unshare',
  summary: 'run one command in new namespaces; nothing is left when it exits',
  description:
    "Run a command in fresh namespaces, like unshare(1) with --fork and a proper PID 1, and remove them when it exits. Without types: mnt, uts, ipc, pid, net, cgroup (plus user, mapped to root, when not run as root). Exits with the command's status; 125 when nsm failed, 126/127 when the command could not be run, 128+N when it died of signal N. nsm's options end where the command starts; put -- before a command that starts with -.",
  operands: [{ name: '<command...>', description: 'the command and its arguments' }],
  options: namespaceOptions,
  runsCommand: { operandsBefore: 0 },
  examples: [
    { command: 'nsm unshare --net ip link', does: 'only lo' },
    { command: 'nsm unshare --net -- npm test', does: 'tests without network access (only lo)' },
    { command: "nsm unshare -- sh -c 'echo $$; hostname'", does: 'default namespaces: the shell is PID 2 under nsm:init' },
    { command: 'nsm unshare --user --time --boottime 86400 -- cat /proc/uptime' },
  ],
  action: () => import('./actions/unshare.js'),
});
