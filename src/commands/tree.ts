import { Command, Option } from 'commander';
import { namespaceTree } from '../core/tree.js';
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { printJson } from '../ui/json.js';
import { renderTree, treeJson } from '../ui/tree-view.js';
import { parseNsType, parsePositiveInt } from './options.js';

export function treeCommand(): Command {
  return new Command('tree')
    .summary('namespaces as trees: by owner user namespace, by parent, or with their processes')
    .description(
      'Draw namespaces as a tree. -T owner (default): each user namespace with the namespaces it owns; ' +
        '-T parent: the pid and user namespace hierarchies; -T process: processes under their namespaces. ' +
        'User namespaces kept alive only by the namespaces they own are shown too, marked as such. ' +
        'Ends with a bar chart of how many namespaces of each type exist.',
    )
    .addOption(new Option('-T, --tree <view>', 'what to draw').choices(['owner', 'parent', 'process']).default('owner'))
    .option('-t, --type <type>', `-T process: the namespace type to group processes by (${NS_TYPE_NAMES.join(', ')})`, parseNsType, 'pid')
    .option('-a, --all', 'do not shorten long lists of children or processes')
    .option('--limit <n>', 'children shown per node before shortening', parsePositiveInt('--limit'), 20)
    .option('--no-bars', 'leave out the per-type count bars')
    .option('-J, --json', 'JSON output (always complete)')
    .addHelpText('after', `
Examples:
  nsm tree                        user namespaces and what each owns, then counts per type
  nsm tree -T parent              the pid and user namespace hierarchies
  nsm tree -T process -t net      processes under their network namespaces
  nsm tree --json | jq '.counts'`)
    .action(async (opts) => {
      const tree = await namespaceTree({ view: opts.tree, type: opts.type });
      if (opts.json) {
        printJson(treeJson(tree));
        return;
      }
      const width = process.stdout.isTTY ? process.stdout.columns : undefined;
      process.stdout.write(renderTree(tree, { limit: opts.all ? Infinity : opts.limit, width, bars: opts.bars }));
    });
}
