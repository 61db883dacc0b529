/**
 * `nsm ps`: namespaces of one type, each with its processes; the JSON document.
 */
import type { GroupedProcess, ProcessGrouping } from '../core/ps.js';
import { colour } from './colour.js';
import type { Column } from './columns.js';
import { groupedCount, hiddenText, ownerLabel } from './namespace-columns.js';
import { renderColumns, type TableOptions } from './table.js';

const PROCESS_COLUMNS: readonly Column<GroupedProcess>[] = [
  { id: 'PID', help: 'process id', align: 'right', json: 'number', get: (p) => p.pid },
  { id: 'PPID', help: 'parent process id', align: 'right', json: 'number', get: (p) => p.ppid },
  { id: 'USER', help: 'owner of the process', json: 'string', get: (p) => p.user },
  { id: 'COMMAND', help: 'command line', json: 'string', truncate: true, get: (p) => p.command },
];

/** The JSON document (schema: docs/json.md, "nsm ps --json"): every process of every group. */
export function groupingJson(g: ProcessGrouping): object {
  return {
    type: g.type,
    target: g.target ? { pid: g.target.pid, label: g.target.label } : null,
    namespaces: g.groups.map((group) => ({
      ns: group.ns,
      type: group.type,
      nprocs: group.nprocs,
      held: group.held,
      owners: group.owners,
      processes: group.processes,
      processesHidden: group.processesHidden,
    })),
    // Processes whose namespaces could not be read (another user's): no group counts them.
    hiddenProcesses: g.hiddenProcesses,
  };
}

/** "no processes", or, when some could not be read, that they may just not be visible. */
function emptyText(group: ProcessGrouping['groups'][number]): string {
  const held = group.held.length > 0 ? ` (held by ${group.held.join(', ')})` : '';
  return `${group.processesHidden ? 'processes not visible to you' : 'no processes'}${held}`;
}

export interface PsRenderOptions extends TableOptions {
  /** Processes shown per namespace before "… N more"; Infinity shows all. */
  limit: number;
}

export function renderGrouping(g: ProcessGrouping, options: PsRenderOptions): string {
  if (g.groups.length === 0) {
    const owned = g.owners ? ` owned by ${g.owners.map((o) => (o.name === undefined ? o.kind : `${o.kind}:${o.name}`)).join(', ')}` : '';
    return colour.dim(`no ${g.type} namespaces${owned} visible\n`);
  }
  const out: string[] = [];
  for (const group of g.groups) {
    const count = group.nprocs === 1 ? '1 process' : `${groupedCount(group.nprocs)} processes`;
    const head = [colour.bold(`${group.type}:[${group.ns}]`), group.nprocs === 0 ? colour.yellow(emptyText(group)) : count];
    if (group.owners.length > 0) head.push(colour.cyan(group.owners.map(ownerLabel).join(', ')));
    out.push(head.join('  '));
    if (group.nprocs > 0) {
      const shown = group.processes.slice(0, options.limit);
      const table = renderColumns(shown, PROCESS_COLUMNS, options);
      out.push(table.replace(/^/gm, '  ').trimEnd());
      const more = group.nprocs - shown.length;
      if (more > 0) out.push(colour.dim(`  … ${groupedCount(more)} more (use --json or --all)`));
    }
    out.push('');
  }
  const n = g.groups.length;
  const hidden = g.hiddenProcesses > 0 ? ` (${hiddenText(g.hiddenProcesses)})` : '';
  out.push(colour.dim(`${n} ${g.type} namespace${n === 1 ? '' : 's'}${hidden}`));
  return `${out.join('\n')}\n`;
}
