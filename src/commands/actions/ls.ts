import { listNamespaces, namespaceProcesses } from '../../core/listing.js';
import type { EnvironmentListing } from '../../core/registry/list.js';
import { parseTarget } from '../../core/target.js';
import { namespaceTree } from '../../core/tree.js';
import { NsmError } from '../../sys/errors.js';
import { stderrSync } from '../../sys/stdio.js';
import { userName } from '../../sys/users.js';
import { describeColumns, rowsToJson, selectColumns } from '../../ui/columns.js';
import { listingSummaries, lsJson } from '../../ui/environment-summary.js';
import { printJson } from '../../ui/json.js';
import { environmentColumns, listingWarnings } from '../../ui/lifecycle-view.js';
import { DEFAULT_NAMESPACE_COLUMNS, NAMESPACE_COLUMNS, NETNSID_COLUMNS, PROCESS_COLUMNS, RELATION_COLUMNS } from '../../ui/namespace-columns.js';
import { renderColumns } from '../../ui/table.js';
import { renderTree, treeJson } from '../../ui/tree-view.js';
import type { lsOptions } from '../ls.js';
import type { OptionsOf } from '../spec.js';

export async function run([inode]: [number | undefined], opts: OptionsOf<typeof lsOptions>): Promise<void> {
  if (opts.listColumns) {
    process.stdout.write(describeColumns(NAMESPACE_COLUMNS));
    return;
  }
  if (opts.tree) {
    // lsns -T: the same trees as nsm tree (owner, parent, or processes under their namespaces).
    const tree = await namespaceTree({ view: opts.tree, type: opts.type?.[0] });
    if (opts.json) printJson(treeJson(tree));
    else process.stdout.write(renderTree(tree, { limit: Infinity, width: process.stdout.isTTY ? process.stdout.columns : undefined, bars: false }));
    return;
  }
  const cols = selectColumns(NAMESPACE_COLUMNS, DEFAULT_NAMESPACE_COLUMNS, opts.output, opts.outputAll);
  const listing = await listNamespaces({
    types: opts.type,
    ...(opts.task !== undefined ? { target: parseTarget(opts.task) } : {}),
    inode,
    owners: opts.owner,
    relations: cols.some((c) => RELATION_COLUMNS.has(c.id)),
    netnsid: cols.some((c) => NETNSID_COLUMNS.has(c.id)),
  });
  if (opts.persistent) listing.namespaces = listing.namespaces.filter((r) => r.detail.mounts.length > 0);
  if (inode !== undefined && listing.namespaces.length === 0) throw new NsmError(`namespace ${inode} not found`);
  if (inode !== undefined && opts.output === undefined && !opts.outputAll) {
    // As `lsns NS`: the namespace's processes (PID PPID USER COMMAND).
    const procs = namespaceProcesses(listing, listing.namespaces[0]!);
    if (opts.json) printJson({ namespaces: rowsToJson(procs, PROCESS_COLUMNS) });
    else process.stdout.write(renderColumns(procs, PROCESS_COLUMNS, { raw: opts.raw, noHeadings: opts.noheadings, noTruncate: opts.notruncate, noWrap: opts.nowrap }));
    return;
  }
  if (opts.json) {
    warnProblems(listing.environments);
    printJson(lsJson(listing, cols));
    return;
  }
  process.stdout.write(
    renderColumns(listing.namespaces, cols, { raw: opts.raw, noHeadings: opts.noheadings, noTruncate: opts.notruncate, noWrap: opts.nowrap }),
  );
  // The managed environments, below the namespaces, in the plain listing only.
  const shown = !(opts.raw || inode !== undefined || opts.task !== undefined);
  if (shown) warnProblems(listing.environments);
  const envs = shown ? listingSummaries(listing.environments).map((e) => ({ ...e, user: userName(e.uid) })) : [];
  if (envs.length > 0) process.stdout.write(`\nENVIRONMENTS\n${renderColumns(envs, environmentColumns(), { noHeadings: opts.noheadings })}`);
}

/** What could not be read of the environments: a warning line on stderr each. */
function warnProblems(environments: EnvironmentListing): void {
  if (environments.problems.length > 0) stderrSync.write(listingWarnings(environments.problems));
}
