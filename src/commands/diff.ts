import { Command } from 'commander';
import { diff } from '../core/diff.js';
import { parseTarget } from '../core/target.js';
import { comparisonJson, renderComparison } from '../ui/diff-view.js';
import { printJson } from '../ui/json.js';
import { collectTypes } from './options.js';

export function diffCommand(): Command {
  return new Command('diff')
    .alias('compare')
    .summary('compare the namespaces of two processes')
    .description('For each namespace type: do the two processes share it, with both inodes; then the counts.')
    .argument('<target1>', 'first process (PID, or environment name)', parseTarget)
    .argument('<target2>', 'second process (PID, or environment name)', parseTarget)
    .option('-t, --type <types>', 'compare only these types, repeatable or comma-separated', collectTypes)
    .option('-q, --quiet', 'print nothing; exit 0 when every compared type is shared, 1 when not')
    .option('-J, --json', 'JSON output')
    .addHelpText('after', `
Examples:
  nsm diff 1 $$                   how the shell differs from PID 1
  nsm diff -t net,mnt 1234 5678   only the network and mount namespaces
  nsm diff -q -t net $$ 1234 && echo "same network"
  nsm compare 1234 5678 --json | jq .summary
  nsm diff web $$                 environment web against the shell`)
    .action((a, b, opts) => {
      const result = diff(a, b, { types: opts.type });
      if (opts.quiet) {
        // For scripts: the answer is the exit status alone.
        if (!result.allShared) process.exitCode = 1;
        return;
      }
      if (opts.json) printJson(comparisonJson(result));
      else process.stdout.write(renderComparison(result));
    });
}
