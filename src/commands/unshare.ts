/** `nsm unshare`: one command in new namespaces; nothing is left when it exits. */
import { namespaceOptions } from './namespace-options.js';
import { parseNameList, parseSignal, parseWd } from './options.js';
import { parseNetMode, parsePublish } from '../core/user-net.js';
import { defineCommand, defineOptions } from './spec.js';

/** create's namespace options, plus unshare(1)'s options that only make sense for one command. */
export const unshareOptions = defineOptions([
  ...namespaceOptions,
  { flags: '-f, --fork', description: 'accepted for unshare(1) command lines: nsm always forks' },
  { flags: '--kill-child [signal]', description: 'signal the command gets if nsm dies (default, and without this option: KILL); give it as --kill-child=SIG', parse: parseSignal('--kill-child'), preset: 'KILL' },
  { flags: '-R, --root <dir>', description: 'chroot to this directory before running the command' },
  { flags: '-w, --wd <dir>', description: 'working directory of the command (after --root; it must exist)', parse: parseWd },
  { flags: '--clear-env', description: 'the command gets no environment variables of ours (unshare(1) 2.41)' },
  { flags: '--whitelist-env <list>', description: 'the command gets only these of our environment variables (comma-separated names)', parse: parseNameList },
  { flags: '--net-mode <mode>', description: 'a user-mode network for the command, rootless too: pasta (Debian package passt), none', parse: parseNetMode },
  { flags: '--pasta', description: 'short for --net-mode pasta: address, default route, DNS; the host loopback at the gateway address' },
  { flags: '--publish <port>', description: 'with --pasta: publish [HOSTADDR:]HOSTPORT:ENVPORT[/tcp|udp] (host address 127.0.0.1 unless given); repeatable', parse: parsePublish },
]);

export const unshareCommand = defineCommand({
  name: 'unshare',
  summary: 'run one command in new namespaces; nothing is left when it exits',
  description:
    "Run a command in fresh namespaces, like unshare(1) with --fork and a proper PID 1, and remove them when it exits. Without types: mnt, uts, ipc, pid, net, cgroup; when not run as root, a user namespace (mapped to root) comes with any types. Without a command: $SHELL (else /bin/sh), as unshare(1). If nsm is killed, the command dies with it (with a new pid namespace: everything inside). Exits with the command's status; 125 when nsm failed, 126/127 when the command could not be run, 128+N when it died of signal N. nsm's options end where the command starts; put -- before a command that starts with -.",
  operands: [{ name: '[command...]', description: 'the command and its arguments (default: $SHELL, else /bin/sh)' }],
  options: unshareOptions,
  runsCommand: { operandsBefore: 0 },
  examples: [
    { command: 'nsm unshare --net ip link', does: 'only lo' },
    { command: 'nsm unshare --net -- npm test', does: 'tests without network access (only lo)' },
    { command: "nsm unshare -- sh -c 'echo $$; hostname'", does: 'default namespaces: the shell is PID 2 under nsm:init' },
    { command: 'nsm unshare --user --time --boottime 86400 -- cat /proc/uptime' },
    { command: 'nsm unshare --pasta -- npm ci', does: 'a real network for one command, rootless too (pasta)' },
  ],
  action: () => import('./actions/unshare.js'),
});
