import { Command } from 'commander';
import { processesByNamespace } from '../core/ps.js';
import { parseTarget } from '../core/target.js';
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { printJson } from '../ui/json.js';
import { groupingJson, renderGrouping } from '../ui/ps-view.js';
import { collectOwners, parseNsType, parsePositiveInt } from './options.js';

export function psCommand(): Command {
  return new Command('ps')
    .alias('procs')
    .summary('processes grouped by namespace')
    .description('List processes grouped by the namespace of one type they are in (default: pid), with each namespace\'s process count and owners.')
    .option('-t, --type <type>', `namespace type to group by (${NS_TYPE_NAMES.join(', ')})`, parseNsType, 'pid')
    .option('-p, --pid <target>', 'only the namespace this process (PID, or environment name) is in', parseTarget)
    .option('--owner <kind[:name]>', 'only namespaces owned by this kind (docker, podman, kubernetes, systemd, netns ...) or KIND:NAME; repeatable or comma-separated', collectOwners)
    .option('-a, --all', 'show every process of every namespace (human output shortens long groups)')
    .option('--limit <n>', 'processes shown per namespace before shortening', parsePositiveInt('--limit'), 10)
    .option('-J, --json', 'JSON output (always complete)')
    .option('-r, --raw', 'raw output: space-separated, blanks escaped')
    .option('-u, --notruncate', 'do not truncate command lines')
    .addHelpText('after', `
Examples:
  nsm ps                          every pid namespace and its processes
  nsm ps -t net                   grouped by network namespace
  nsm ps -t net -p 1234           the processes sharing PID 1234's network namespace
  nsm ps --owner docker           the processes of docker containers (--owner docker:web: one)
  nsm procs --json | jq '.namespaces[] | {ns, nprocs}'`)
    .action(async (opts) => {
      const grouping = await processesByNamespace({ type: opts.type, target: opts.pid, owners: opts.owner });
      if (opts.json) printJson(groupingJson(grouping));
      else process.stdout.write(renderGrouping(grouping, { limit: opts.all ? Infinity : opts.limit, raw: opts.raw, noTruncate: opts.notruncate }));
    });
}
