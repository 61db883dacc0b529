import { listNamespaces } from '../../core/listing.js';
import type { EnvironmentListing } from '../../core/registry/list.js';
import { stderrSync } from '../../sys/stdio.js';
import { describeColumns, selectColumns } from '../../ui/columns.js';
import { listingSummaries, lsJson } from '../../ui/environment-summary.js';
import { printJson } from '../../ui/json.js';
import { environmentColumns, listingWarnings } from '../../ui/lifecycle-view.js';
import { DEFAULT_NAMESPACE_COLUMNS, NAMESPACE_COLUMNS, NETNSID_COLUMNS, RELATION_COLUMNS } from '../../ui/namespace-columns.js';
import { renderColumns } from '../../ui/table.js';
import type { lsOptions } from '../ls.js';
import type { OptionsOf } from '../spec.js';

export async function run([inode]: [number | undefined], opts: OptionsOf<typeof lsOptions>): Promise<void> {
  if (opts.listColumns) {
    process.stdout.write(describeColumns(NAMESPACE_COLUMNS));
    return;
  }
  const cols = selectColumns(NAMESPACE_COLUMNS, DEFAULT_NAMESPACE_COLUMNS, opts.output, opts.outputAll);
  const listing = await listNamespaces({
    types: opts.type,
    pid: opts.task,
    inode,
    owners: opts.owner,
    relations: cols.some((c) => RELATION_COLUMNS.has(c.id)),
    netnsid: cols.some((c) => NETNSID_COLUMNS.has(c.id)),
  });
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
  const envs = shown ? listingSummaries(listing.environments) : [];
  if (envs.length > 0) process.stdout.write(`\nENVIRONMENTS\n${renderColumns(envs, environmentColumns(), { noHeadings: opts.noheadings })}`);
}

/** What could not be read of the environments: a warning line on stderr each. */
function warnProblems(environments: EnvironmentListing): void {
  if (environments.problems.length > 0) stderrSync.write(listingWarnings(environments.problems));
}
