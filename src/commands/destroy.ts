/** `nsm destroy` (aliases rm, del): end environments and check that nothing of them is left. */
import { parseSeconds } from './options.js';
import { defineCommand, defineOptions } from './spec.js';

export const destroyOptions = defineOptions([
  { flags: '-a, --all', description: 'destroy every environment of yours' },
  { flags: '-f, --force', description: 'also end processes still in its namespaces outside its pid namespace (of a held one too), and say which' },
  { flags: '--timeout <secs>', description: 'seconds between SIGTERM and SIGKILL (default 2; fractions allowed)', parse: parseSeconds('--timeout') },
  {
    flags: '--forget',
    description: "signal nothing: drop the record of one nsm cannot end (holder PID reused, dead, pinned) and what nsm made for it (NAT rules, cgroups, pins, /run/netns link)",
  },
  { flags: '-J, --json', description: 'JSON output: {schemaVersion, destroyed: [...]}' },
]);

export const destroyCommand = defineCommand({
  name: 'destroy',
  aliases: ['rm', 'del'],
  summary: 'end environments and check that nothing of them is left',
  description:
    'End environments: SIGTERM to the processes inside and to the holder, SIGKILL after the timeout; unmount pins; remove the /run/netns link and the record. Then scan the host: if anything still holds one of its namespaces (a process that entered it from outside, an open fd, a bind mount) say what and where, and exit 1; the record is then kept, in state held, until nothing holds them: nsm destroy --force NAME ends the processes among that, and gc removes the record once they are gone.',
  operands: [{ name: '[names...]', description: 'environment names' }],
  options: destroyOptions,
  lean: true,
  exitStatus: [
    {
      status: '1',
      when: 'a name failed (a holder PID reused by another process included: see --forget), something still holds a destroyed environment\'s namespaces (its record is kept, state held), or one of its cgroups or NAT rules could not be removed',
    },
    { status: '128+N', when: 'signal N (SIGINT, SIGTERM, SIGHUP) came; the environment in hand was finished first' },
  ],
  examples: [
    { command: 'nsm destroy web' },
    { command: 'nsm rm --all' },
    { command: 'nsm destroy --force web', does: 'also kill what was started into it with nsenter' },
    { command: 'nsm destroy --forget web', does: 'its holder PID now belongs to another process' },
  ],
  action: () => import('./actions/destroy.js'),
});
