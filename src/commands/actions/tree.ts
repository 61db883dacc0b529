import { namespaceTree } from '../../core/tree.js';
import { printJson } from '../../ui/json.js';
import { renderTree, treeJson } from '../../ui/tree-view.js';
import type { OptionsOf } from '../spec.js';
import type { treeOptions } from '../tree.js';

export async function run(_operands: [], opts: OptionsOf<typeof treeOptions>): Promise<void> {
  const tree = await namespaceTree({ view: opts.tree!, type: opts.type! });
  if (opts.json) {
    printJson(treeJson(tree));
    return;
  }
  const width = process.stdout.isTTY ? process.stdout.columns : undefined;
  process.stdout.write(renderTree(tree, { limit: opts.all ? Infinity : opts.limit!, width, bars: opts.bars !== false }));
}
