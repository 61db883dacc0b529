import { Command } from 'commander';
import { collectGarbage } from '../core/registry.js';
import { NsmError } from '../sys/errors.js';
import { formatGcResult } from '../ui/environments.js';
import { printJson } from '../ui/json.js';

export function gcCommand(): Command {
  return new Command('gc')
    .summary('remove the records of environments whose holder has died')
    .description(
      'Remove the records of environments whose holder process is dead (or whose PID now belongs to another process) and that no pin keeps alive, with their /run/netns link; also reservations left by an nsm create that was killed. Live and pinned environments are never touched.',
    )
    .option('-n, --dry-run', 'only report what would be removed')
    .option('-J, --json', 'JSON output: {schemaVersion, dryRun, removed[], kept[]}')
    .addHelpText('after', `
Examples:
  nsm gc                 clean up after holders that were killed
  nsm gc -n --json       what would go, as JSON`)
    .action((opts: { dryRun?: boolean; json?: boolean }) => {
      const result = collectGarbage({ dryRun: opts.dryRun });
      if (opts.json) printJson({ dryRun: Boolean(opts.dryRun), ...result });
      else process.stdout.write(formatGcResult(result, opts.dryRun));
      const failed = result.kept.filter((k) => k.reason === 'failed');
      if (failed.length > 0) {
        throw new NsmError(`gc: could not remove ${failed.map((k) => k.name).join(', ')}: ${failed[0]!.message}`);
      }
    });
}
