/** `nsm inspect` (alias info): one process's namespaces, id maps, cgroups and owners. */
import { defineCommand, defineOptions } from './spec.js';

export const inspectOptions = defineOptions([{ flags: '-J, --json', description: 'JSON output' }]);

export const inspectCommand = defineCommand({
  name: 'inspect',
  aliases: ['info'],
  summary: "show one process's namespaces, id maps, cgroups and owners",
  description:
    'Show every namespace of a process (all eight types plus pid_for_children and time_for_children): inode, ' +
    "whether it is the host's or isolated, its owner user namespace, and whose it is; plus the NSpid chain, " +
    'uid/gid maps when not the identity map, cgroup paths and the command line. ' +
    'A target that is one namespace (netns:NAME, a namespace file, ns:INODE), which may have no process in it: ' +
    'what its file tells (type, inode, nsid, owner user namespace and its creator uid, parent for pid and user) and what holds it, as nsm why lists it.',
  operands: [{ name: '<target>', description: 'process to inspect: a PID, or an environment name (its holder); or one namespace: netns:NAME, a namespace file, ns:INODE' }],
  options: inspectOptions,
  notes: `"host" means the namespaces of PID 1; when those are unreadable (a sandbox init, or not root),
the kernel's initial namespaces, read from kthreadd (PID 2) or known by their fixed inodes.
The output says which reference was used.`,
  examples: [
    { command: 'nsm inspect $$', does: "the shell's namespaces" },
    { command: "nsm inspect 1234 --json | jq '.namespaces[] | select(.sharing == \"isolated\") | .type'" },
    { command: 'nsm info $(pgrep -o nginx)', does: 'the same, by its alias' },
    { command: 'nsm inspect web', does: 'the namespaces of environment web (its holder)' },
  ],
  action: () => import('./actions/inspect.js'),
});
