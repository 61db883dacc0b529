/** `nsm monitor` (alias watch): namespaces as they are created and destroyed. */
import { DEFAULT_INTERVAL_MS } from '../core/monitor-events.js';
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { collectTypes, parsePid, parsePositiveInt, parseSeconds } from './options.js';
import { defineCommand, defineOptions } from './spec.js';

export const monitorOptions = defineOptions([
  { flags: '-t, --type <types>', description: `namespace types to watch, repeatable or comma-separated (${NS_TYPE_NAMES.join(', ')})`, parse: collectTypes },
  { flags: '-p, --pid <pid>', description: 'follow this process and its descendants only', parse: parsePid },
  { flags: '--json', description: 'JSON Lines: one object per event (schema: docs/json.md)' },
  { flags: '-c, --count <n>', description: 'stop after N namespace events', parse: parsePositiveInt('--count') },
  { flags: '-d, --duration <secs>', description: 'stop after SECS seconds (fractions allowed)', parse: parseSeconds('--duration') },
  { flags: '--baseline', description: 'first list the namespaces present at start' },
  { flags: '-v, --verbose', description: 'also report processes joining and leaving known namespaces' },
  {
    flags: '-i, --interval <ms>',
    description: `when polling, period of the full listing of /proc (default ${DEFAULT_INTERVAL_MS}); new processes are read every 10-50 ms`,
    parse: parsePositiveInt('--interval'),
  },
  { flags: '--poll', description: 'poll /proc even when process events are available' },
]);

export const monitorCommand = defineCommand({
  name: 'monitor',
  aliases: ['watch'],
  summary: 'report namespaces as they are created and destroyed',
  description:
    'Watch namespaces come and go: NEW when one appears, GONE when nothing (process, thread, fd or bind mount) holds it any more. ' +
    'As root, uses the kernel process events connector and catches namespaces that live a few milliseconds; otherwise polls /proc, ' +
    "reading new processes by the kernel's pid cursor every 10-50 ms (namespaces that live 100 ms are caught).",
  options: monitorOptions,
  notes: 'Ends on Ctrl-C, --count or --duration with a summary: created, destroyed and alive per type.',
  examples: [
    { command: 'nsm monitor', does: 'every namespace change on the host' },
    { command: 'nsm monitor -t net --baseline', does: 'network namespaces: those present, then changes' },
    { command: 'nsm monitor --json -d 60 > ns.jsonl', does: 'one minute of events for CI, then a summary record' },
    { command: 'nsm monitor -p $$ -v', does: 'what this shell and its children create and join' },
  ],
  action: () => import('./actions/monitor.js'),
});
