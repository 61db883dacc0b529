/**
 * `nsm ls --envs`: nsm's environments as a listing of their own (the ENVIRONMENTS section of
 * the plain `nsm ls`), with the namespace listing's output options.
 */
import { listNamespaces } from '../../core/listing.js';
import { UsageError } from '../../sys/errors.js';
import { stderrSync } from '../../sys/stdio.js';
import { userName } from '../../sys/users.js';
import { describeColumns, rowsToJson, selectColumns } from '../../ui/columns.js';
import { listingSummaries } from '../../ui/environment-summary.js';
import { printJson } from '../../ui/json.js';
import { DEFAULT_ENVIRONMENT_COLUMNS, environmentColumns, listingWarnings } from '../../ui/lifecycle-view.js';
import { renderColumns } from '../../ui/table.js';
import type { lsOptions } from '../ls.js';
import type { OptionsOf } from '../spec.js';

export async function listEnvironments(inode: number | undefined, opts: OptionsOf<typeof lsOptions>): Promise<void> {
  // The namespace filters have no meaning for environments: say so rather than ignore them.
  const filters = [
    [inode !== undefined, 'a namespace'],
    [opts.type !== undefined, '-t'],
    [opts.task !== undefined, '-p'],
    [opts.owner !== undefined, '--owner'],
    [opts.persistent, '-P'],
    [opts.tree !== undefined, '-T'],
  ] as const;
  const used = filters.filter(([on]) => on).map(([, what]) => what);
  if (used.length > 0) throw new UsageError(`--envs lists environments: ${used.join(', ')} select${used.length === 1 ? 's' : ''} namespaces`);
  const all = environmentColumns();
  if (opts.listColumns) {
    process.stdout.write(describeColumns(all));
    return;
  }
  const cols = selectColumns(all, DEFAULT_ENVIRONMENT_COLUMNS, opts.output, opts.outputAll);
  const listing = await listNamespaces();
  const { problems } = listing.environments;
  if (problems.length > 0) stderrSync.write(listingWarnings(problems));
  const summaries = listingSummaries(listing.environments);
  if (opts.json && opts.output === undefined && !opts.outputAll) {
    // The same elements as `nsm ls --json`'s environments[], so jq filters carry over.
    printJson({ environments: summaries });
    return;
  }
  const rows = summaries.map((e) => ({ ...e, user: userName(e.uid) }));
  if (opts.json) printJson({ environments: rowsToJson(rows, cols) });
  else process.stdout.write(renderColumns(rows, cols, { raw: opts.raw, noHeadings: opts.noheadings, noTruncate: opts.notruncate, noWrap: opts.nowrap }));
}
