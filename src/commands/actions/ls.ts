import { listNamespaces, namespaceProcesses } from '../../core/listing.js';
import type { EnvironmentListing } from '../../core/registry/list.js';
import { parseTarget } from '../../core/target.js';
import { namespaceTree } from '../../core/tree.js';
import { NsmError, UsageError } from '../../sys/errors.js';
import { stderrSync } from '../../sys/stdio.js';
import { userName } from '../../sys/users.js';
import { columnFilter } from '../column-filter.js';
import { describeColumns, rowsToJson, selectColumns } from '../../ui/columns.js';
import { listingSummaries, lsJson } from '../../ui/environment-summary.js';
import { printJson } from '../../ui/json.js';
import { DEFAULT_ENVIRONMENT_COLUMNS, environmentColumns, listingWarnings } from '../../ui/lifecycle-view.js';
import { defaultNamespaceColumns, hiddenText, NAMESPACE_COLUMNS, NETNSID_COLUMNS, PROCESS_COLUMNS, RELATION_COLUMNS, shownCounts } from '../../ui/namespace-columns.js';
import { renderColumns } from '../../ui/table.js';
import { renderTree, treeJson } from '../../ui/tree-view.js';
import type { lsOptions } from '../ls.js';
import type { OptionsOf } from '../spec.js';

export async function run([inode]: [number | undefined], opts: OptionsOf<typeof lsOptions>): Promise<void> {
  if (opts.envs) return (await import('./ls-envs.js')).listEnvironments(inode, opts);
  if (opts.listColumns) {
    process.stdout.write(describeColumns(NAMESPACE_COLUMNS));
    return;
  }
  // Parsed before the scan: a bad expression or column fails at once (exit 2).
  const filter = opts.filter !== undefined ? columnFilter(NAMESPACE_COLUMNS, opts.filter) : undefined;
  if (opts.tree) {
    if (filter) throw new UsageError('--filter does not apply to --tree');
    // lsns -T: the same trees as nsm tree (owner, parent, or processes under their namespaces).
    const tree = await namespaceTree({ view: opts.tree, type: opts.type?.[0] });
    if (opts.json) printJson(treeJson(tree));
    else process.stdout.write(renderTree(tree, { limit: Infinity, width: process.stdout.isTTY ? process.stdout.columns : undefined, bars: false }));
    return;
  }
  const cols = selectColumns(NAMESPACE_COLUMNS, defaultNamespaceColumns(opts.type), opts.output, opts.outputAll);
  const needed = [...cols, ...(filter?.columns ?? [])];
  const listing = await listNamespaces({
    types: opts.type,
    ...(opts.task !== undefined ? { target: parseTarget(opts.task) } : {}),
    inode,
    owners: opts.owner,
    relations: needed.some((c) => RELATION_COLUMNS.has(c.id)),
    netnsid: needed.some((c) => NETNSID_COLUMNS.has(c.id)),
  });
  if (opts.persistent) listing.namespaces = listing.namespaces.filter((r) => r.detail.mounts.length > 0);
  if (inode !== undefined && listing.namespaces.length === 0) throw new NsmError(`namespace ${inode} not found`);
  // lsns -Q: rows the expression rejects are left out of every output form (with NS: its
  // processes are listed only when its row passes).
  if (filter) listing.namespaces = listing.namespaces.filter((r) => filter.test(r));
  if (inode !== undefined && opts.output === undefined && !opts.outputAll) {
    // As `lsns NS`: the namespace's processes (PID PPID USER COMMAND).
    const row = listing.namespaces[0];
    const procs = row ? namespaceProcesses(listing, row) : [];
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
    renderColumns(listing.namespaces, shownCounts(cols), { raw: opts.raw, noHeadings: opts.noheadings, noTruncate: opts.notruncate, noWrap: opts.nowrap }),
  );
  if (plainView(inode, opts) && listing.namespaces.some((r) => r.processesHidden)) {
    process.stdout.write(`\nNPROCS ?: ${hiddenText(listing.hiddenProcesses)} (their namespaces cannot be read: proc(5))\n`);
  }
  // The managed environments, below the namespaces, in the default human view only: a
  // script's -n, -o, -t ... output holds namespace rows alone (`nsm ls --envs` lists them).
  if (!plainView(inode, opts)) return;
  warnProblems(listing.environments);
  const envs = listingSummaries(listing.environments).map((e) => ({ ...e, user: userName(e.uid) }));
  const envCols = selectColumns(environmentColumns(), DEFAULT_ENVIRONMENT_COLUMNS);
  if (envs.length > 0) process.stdout.write(`\nENVIRONMENTS\n${renderColumns(envs, envCols, { noTruncate: opts.notruncate, noWrap: opts.nowrap })}`);
}

/** `nsm ls` as a person reads it: no option that selects rows or columns or shapes the output for a script. */
function plainView(inode: number | undefined, opts: OptionsOf<typeof lsOptions>): boolean {
  const shaped = opts.raw || opts.noheadings || opts.json || opts.output !== undefined || opts.outputAll || opts.persistent;
  const filtered = inode !== undefined || opts.task !== undefined || opts.type !== undefined || opts.owner !== undefined;
  return !shaped && !filtered;
}

/** What could not be read of the environments: a warning line on stderr each. */
function warnProblems(environments: EnvironmentListing): void {
  if (environments.problems.length > 0) stderrSync.write(listingWarnings(environments.problems));
}
