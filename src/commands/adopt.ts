/** `nsm adopt NAME TARGET`: an environment record for namespaces nsm did not make (src/core/adopt.ts). */
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { collectTypes } from './options.js';
import { defineCommand, defineOptions } from './spec.js';

export const adoptOptions = defineOptions([
  { flags: '-t, --type <types>', description: `adopt only these of the target's namespaces, comma-separated or repeated (${NS_TYPE_NAMES.join(', ')})`, parse: collectTypes },
  { flags: '-J, --json', description: 'JSON output: {schemaVersion, environment: {...}} (the record)' },
]);

export const adoptCommand = defineCommand({
  name: 'adopt',
  summary: 'name namespaces nsm did not make as an environment',
  description:
    "Record environment NAME for an existing set of namespaces, as ip netns attach does for one: a process's (every type that differs from nsm's own, or -t), or one namespace file (netns:NAME, a path, ns:INODE). As root nsm holds them with bind mounts of their files in its state directory; without root, with an nsm:holder process that joined them, which the kernel allows for namespaces owned by the user's own user namespace (their own unshare -r, a rootless container). The environment then works with exec, enter, inspect, ls and destroy, and outlives the target. destroy releases only what nsm added (the bind mounts or its holder) and leaves the target's processes running; destroy --force also ends them.",
  operands: [
    { name: '<name>', description: 'environment name to record' },
    { name: '<target>', description: 'PID, pid:PID, netns:NAME, a namespace file path, ns:INODE, or an owner (docker:web)' },
  ],
  options: adoptOptions,
  exitStatus: [
    { status: '1', when: "the target is not there, is another user's (permission denied), shares every namespace with nsm, or the name is taken" },
    { status: '2', when: 'bad name, target or type' },
  ],
  examples: [
    { command: 'nsm adopt web 4242', does: "name the namespaces of PID 4242 that differ from nsm's own" },
    { command: 'nsm adopt blue netns:blue', does: 'an ip netns name as an environment' },
    { command: 'nsm adopt db docker:db -t net,uts' },
    { command: 'nsm destroy web', does: 'release the bind mounts (or holder); PID 4242 runs on' },
  ],
  action: () => import('./actions/adopt.js'),
});
