/** `nsm tree`: namespaces as trees, by owner user namespace, by parent, or with their processes. */
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { parseNsType, parsePositiveInt } from './options.js';
import { defineCommand, defineOptions } from './spec.js';

const TREE_VIEWS = ['owner', 'parent', 'process'] as const;

export const treeOptions = defineOptions([
  { flags: '-T, --tree <view>', description: 'what to draw', choices: TREE_VIEWS, default: 'owner' },
  { flags: '-t, --type <type>', description: `-T process: the namespace type to group processes by (${NS_TYPE_NAMES.join(', ')})`, parse: parseNsType, default: 'pid' },
  { flags: '-a, --all', description: 'do not shorten long lists of children or processes' },
  { flags: '--limit <n>', description: 'children shown per node before shortening', parse: parsePositiveInt('--limit'), default: 20 },
  { flags: '--no-bars', description: 'leave out the per-type count bars' },
  { flags: '-J, --json', description: 'JSON output (always complete)' },
]);

export const treeCommand = defineCommand({
  name: 'tree',
  summary: 'namespaces as trees: by owner user namespace, by parent, or with their processes',
  description:
    'Draw namespaces as a tree. -T owner (default): each user namespace with the namespaces it owns; ' +
    '-T parent: the pid and user namespace hierarchies; -T process: processes under their namespaces. ' +
    'User namespaces kept alive only by the namespaces they own are shown too, marked as such. ' +
    'Ends with a bar chart of how many namespaces of each type exist.',
  options: treeOptions,
  // Every tree is drawn from a full scan of the host, as ls's listing.
  earlyScan: true,
  examples: [
    { command: 'nsm tree', does: 'user namespaces and what each owns, then counts per type' },
    { command: 'nsm tree -T parent', does: 'the pid and user namespace hierarchies' },
    { command: 'nsm tree -T process -t net', does: 'processes under their network namespaces' },
    { command: "nsm tree --json | jq '.counts'" },
  ],
  action: () => import('./actions/tree.js'),
});
