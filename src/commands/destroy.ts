import { Command } from 'commander';
import { destroyEnvironments } from '../core/destroy.js';
import { UsageError } from '../sys/errors.js';
import { printJson } from '../ui/json.js';
import { formatDestroyed } from '../ui/lifecycle-view.js';
import { parsePositiveInt } from './options.js';

export function destroyCommand(): Command {
  return new Command('destroy')
    .aliases(['rm', 'del'])
    .summary('end environments and check that nothing of them is left')
    .description(
      'End environments: SIGTERM to the processes inside and to the holder, SIGKILL after the timeout; unmount pins; remove the /run/netns link and the record. Then scan the host: if anything still holds one of its namespaces (a process that entered it from outside, an open fd, a bind mount) say what and where, and exit 1.',
    )
    .argument('[names...]', 'environment names')
    .option('-a, --all', 'destroy every environment of yours')
    .option('-f, --force', 'also end processes still in its namespaces outside its pid namespace')
    .option('--timeout <secs>', 'seconds between SIGTERM and SIGKILL (default 2)', parsePositiveInt('--timeout'))
    .option('--forget', "signal nothing: drop the record of one nsm cannot end (holder PID reused, dead, pinned) and what nsm made for it (NAT rules, cgroups, pins, /run/netns link)")
    .option('-J, --json', 'JSON output: {schemaVersion, destroyed: [...]}')
    .addHelpText('after', `
Examples:
  nsm destroy web
  nsm rm --all
  nsm destroy --force web        also kill what was started into it with nsenter
  nsm destroy --forget web       its holder PID now belongs to another process`)
    .action(async (names: string[], opts: { all?: boolean; force?: boolean; timeout?: number; json?: boolean; forget?: boolean }) => {
      if (opts.all && names.length > 0) throw new UsageError('give environment names or --all, not both');
      if (opts.forget && (opts.force || opts.timeout !== undefined)) throw new UsageError('--forget signals nothing: it takes no --force or --timeout');
      if (!opts.all && names.length === 0) throw new UsageError('which environment? give its name (or --all)');
      const outcome = await destroyEnvironments(opts.all ? 'all' : names, {
        force: opts.force,
        graceMs: opts.timeout === undefined ? undefined : opts.timeout * 1000,
        forget: opts.forget,
      });
      if (opts.json) printJson({ destroyed: outcome.results });
      else if (outcome.results.length > 0 || opts.all) process.stdout.write(formatDestroyed(outcome.results));
      if (outcome.error) throw outcome.error;
    });
}
