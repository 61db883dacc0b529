/** `nsm ps` (alias procs): processes grouped by namespace. */
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { collectOwners, parseNsType, parsePositiveInt } from './options.js';
import { defineCommand, defineOptions } from './spec.js';

export const psOptions = defineOptions([
  { flags: '-t, --type <type>', description: `namespace type to group by (${NS_TYPE_NAMES.join(', ')})`, parse: parseNsType, default: 'pid' },
  { flags: '-p, --pid <target>', description: 'only the namespace this target is in: a PID or environment name (pid:PID, env:NAME), netns:NAME, a namespace file, ns:INODE, nsid:ID, or an owner (docker:NAME)' },
  {
    flags: '--owner <kind[:name]>',
    description: 'only namespaces owned by this kind (docker, podman, kubernetes, systemd, netns ...) or KIND:NAME; repeatable or comma-separated',
    parse: collectOwners,
  },
  { flags: '-a, --all', description: 'show every process of every namespace (human output shortens long groups)' },
  { flags: '--limit <n>', description: 'processes shown per namespace before shortening', parse: parsePositiveInt('--limit'), default: 10 },
  { flags: '-J, --json', description: 'JSON output (always complete)' },
  { flags: '-r, --raw', description: 'raw output: space-separated, blanks escaped' },
  { flags: '-u, --notruncate', description: 'do not truncate command lines' },
]);

export const psCommand = defineCommand({
  name: 'ps',
  aliases: ['procs'],
  summary: 'processes grouped by namespace',
  description: "List processes grouped by the namespace of one type they are in (default: pid), with each namespace's process count and owners.",
  options: psOptions,
  examples: [
    { command: 'nsm ps', does: 'every pid namespace and its processes' },
    { command: 'nsm ps -t net', does: 'grouped by network namespace' },
    { command: 'nsm ps -t net -p 1234', does: "the processes sharing PID 1234's network namespace" },
    { command: 'nsm ps -t net -p netns:blue', does: 'as ip netns pids blue' },
    { command: 'nsm ps --owner docker', does: 'the processes of docker containers (--owner docker:web: one)' },
    { command: "nsm procs --json | jq '.namespaces[] | {ns, nprocs}'" },
  ],
  action: () => import('./actions/ps.js'),
});
