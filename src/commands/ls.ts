import { Command, Option } from 'commander';
import { namespaceTree } from '../core/tree.js';
import { renderTree, treeJson } from '../ui/tree-view.js';
import { listNamespaces, namespaceProcesses, type NamespaceProcess } from '../core/listing.js';
import { NsmError } from '../sys/errors.js';
import type { Column } from '../ui/columns.js';
import { environmentSummary, listEnvironments } from '../core/registry.js';
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { describeColumns, rowsToJson, selectColumns } from '../ui/columns.js';
import { printJson } from '../ui/json.js';
import { DEFAULT_NAMESPACE_COLUMNS, NAMESPACE_COLUMNS, NETNSID_COLUMNS, RELATION_COLUMNS } from '../ui/namespace-columns.js';
import { environmentColumns } from '../ui/lifecycle-view.js';
import { renderColumns } from '../ui/table.js';
import { collectOwners, collectTypes, parseInode, parsePid } from './options.js';

/** `nsm ls NS`: lsns's columns for a namespace's processes. */
const PROCESS_COLUMNS: readonly Column<NamespaceProcess>[] = [
  { id: 'PID', help: 'process ID', align: 'right', json: 'number', get: (r) => r.pid },
  { id: 'PPID', help: 'parent process ID', align: 'right', json: 'number', get: (r) => r.ppid },
  { id: 'USER', help: 'username of the PID', json: 'string', get: (r) => r.user },
  { id: 'COMMAND', help: 'command line of the PID', json: 'string', truncate: true, get: (r) => r.command },
];

export function lsCommand(): Command {
  return new Command('ls')
    .alias('list')
    .summary('list namespaces (like lsns, plus those held by a mount or an fd)')
    .description('List every namespace on the host: everything lsns shows, plus namespaces held only by a bind mount or an open file descriptor.')
    .argument('[namespace]', "list this namespace's processes (inode number; with -o or --output-all: its row)", parseInode)
    .option('-t, --type <types>', `namespace types to list, repeatable or comma-separated (${NS_TYPE_NAMES.join(', ')})`, collectTypes)
    .option('-p, --task <pid>', 'only the namespaces of this process', parsePid)
    .option('--owner <kind[:name]>', 'only namespaces owned by this kind (docker, podman, kubernetes, systemd, netns ...) or KIND:NAME; repeatable or comma-separated', collectOwners)
    .option('-o, --output <columns>', 'columns to print (comma-separated; +COL adds to the defaults)')
    .option('--output-all', 'print every column')
    .option('-H, --list-columns', 'list the available columns and exit')
    .option('-P, --persistent', 'only namespaces held by a bind mount (lsns -P)')
    .addOption(new Option('-T, --tree [view]', 'draw as `nsm tree -T VIEW` does (lsns -T)').choices(['owner', 'parent', 'process']).preset('owner'))
    .option('-J, --json', 'JSON output (lsns -J compatible, plus schemaVersion)')
    .option('-r, --raw', 'raw output: space-separated, blanks escaped')
    .option('-l, --list', 'list format (the default; accepted for lsns compatibility)')
    .option('-n, --noheadings', 'do not print headings')
    .option('-u, --notruncate', 'do not truncate text in columns')
    .option('-W, --nowrap', 'do not use multi-line cells')
    .addHelpText('after', `
Examples:
  nsm ls                          all namespaces: NS TYPE NPROCS PID USER NAME COMMAND
  nsm ls -t net -o +NSFS,HELD     network namespaces and where they are pinned
  nsm ls -p $$ --output-all       every column for the shell's namespaces
  nsm ls --owner docker           namespaces of docker containers (--owner docker:web: one)
  nsm ls --json | jq '.namespaces[] | select(.nprocs == 0)'`)
    .action(async (inode: number | undefined, opts) => {
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
        pid: opts.task,
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
        const rows = rowsToJson(listing.namespaces, cols);
        listing.namespaces.forEach((ns, i) => {
          // The id beside the inode in every row (null on kernels before 6.18).
          if (!('id' in rows[i]!)) rows[i]!.id = ns.detail.id ?? null;
          rows[i]!.owners = ns.owners;
        });
        printJson({ namespaces: rows, environments: listEnvironments().environments.map(environmentSummary) });
        return;
      }
      process.stdout.write(
        renderColumns(listing.namespaces, cols, { raw: opts.raw, noHeadings: opts.noheadings, noTruncate: opts.notruncate, noWrap: opts.nowrap }),
      );
      // The managed environments, below the namespaces, in the plain listing only.
      const envs = opts.raw || inode !== undefined || opts.task !== undefined ? [] : listEnvironments().environments;
      if (envs.length > 0) process.stdout.write(`\nENVIRONMENTS\n${renderColumns(envs, environmentColumns(), { noHeadings: opts.noheadings })}`);
    });
}
