/** `nsm gc`: remove the records of environments whose holder has died. */
import { defineCommand, defineOptions } from './spec.js';

export const gcOptions = defineOptions([
  { flags: '-n, --dry-run', description: 'only report what would be removed' },
  { flags: '-J, --json', description: 'JSON output: {schemaVersion, dryRun, removed[], kept[]}' },
]);

export const gcCommand = defineCommand({
  name: 'gc',
  summary: 'remove the records of environments whose holder has died',
  description:
    'Remove the records of environments whose holder process is dead (or whose PID now belongs to another process) and that no pin keeps alive, with their /run/netns link; also reservations left by an nsm create that was killed, and held records (destroyed while something still held their namespaces) once nothing does. Live and pinned environments are never touched, and gc signals nothing.',
  options: gcOptions,
  examples: [
    { command: 'nsm gc', does: 'clean up after holders that were killed' },
    { command: 'nsm gc -n --json', does: 'what would go, as JSON' },
  ],
  action: () => import('./actions/gc.js'),
});
