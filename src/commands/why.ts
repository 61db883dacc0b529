/** `nsm why`: what keeps a namespace alive, and how to release it. */
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { parseNsType } from './options.js';
import { defineCommand, defineOptions } from './spec.js';

export const whyOptions = defineOptions([
  { flags: '-t, --type <type>', description: `with a PID or environment: which of its namespaces (${NS_TYPE_NAMES.join(', ')})`, parse: parseNsType },
  { flags: '--release', description: 'carry out the plan, then check that the namespace is gone' },
  { flags: '-y, --yes', description: 'do not ask before --release (required when stdin is not a terminal)' },
  { flags: '--userns-limit', description: 'per uid: user namespaces alive against max_user_namespaces, and what holds them' },
  { flags: '-J, --json', description: 'JSON output' },
]);

export const whyCommand = defineCommand({
  name: 'why',
  summary: 'what keeps a namespace alive, and how to release it',
  description:
    'Name every holder of one namespace: its processes, threads of other processes, open fds, bind mounts in every ' +
    'mount namespace, sockets (net, as root), owned namespaces (user) and child pid namespaces, and its names; then ' +
    'the commands that would release it. NS is an inode (or ns:INODE), nsid:ID, or a PID or environment with -t TYPE.',
  operands: [{ name: '[ns]', description: 'the namespace: INODE, ns:INODE, nsid:ID, or PID|ENV with -t' }],
  options: whyOptions,
  examples: [
    { command: 'nsm why 4026532177', does: 'who holds this namespace' },
    { command: 'nsm why nsid:7098 --json', does: 'the same by 64-bit namespace id, as JSON' },
    { command: 'nsm why -t net web', does: 'the net namespace of environment web' },
    { command: 'nsm why 4026532177 --release --yes', does: 'release it, then check that it is gone' },
    { command: 'nsm why --userns-limit', does: 'who uses up user.max_user_namespaces' },
  ],
  epilogue: 'Exit status: 0; 1 when the namespace does not exist or a release left it alive; 2 bad usage.',
  action: () => import('./actions/why.js'),
});
