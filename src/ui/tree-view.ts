/**
 * `nsm tree`: namespace trees drawn with box characters, the per-type count bars, and
 * the JSON document.
 */
import type { NamespaceTree, TreeNode, TreeProcess } from '../core/tree.js';
import { NS_TYPE_NAMES, type NsType } from '../sys/nstypes.js';
import { colour, stripAnsi } from './colour.js';
import { escapeText } from '../sys/escape.js';
import { groupedCount, ownerLabel } from './namespace-columns.js';

/** The JSON document (schema: docs/json.md, "nsm tree --json"). */
export function treeJson(t: NamespaceTree): object {
  const node = (n: TreeNode): object => ({
    ns: n.ns,
    id: n.id ?? null,
    type: n.type,
    nprocs: n.nprocs,
    pid: n.pid ?? null,
    command: n.command ?? null,
    user: n.user ?? null,
    held: n.held,
    owners: n.owners,
    ons: n.ons ?? null,
    pns: n.pns ?? null,
    discovered: n.discovered ?? null,
    children: n.children.map(node),
    ...(n.processes ? { processes: n.processes } : {}),
  });
  return { view: t.view, roots: t.roots.map(node), counts: t.counts };
}

/**
 * Draw a forest: each item's label, its children indented under ├─ / └─.
 * `limit` shortens long child lists and says how many were left out.
 */
function drawForest<T>(items: readonly T[], label: (item: T) => string, children: (item: T) => readonly T[], limit = Infinity): string[] {
  const lines: string[] = [];
  const walk = (list: readonly T[], prefix: string, top: boolean): void => {
    const shown = list.slice(0, limit);
    shown.forEach((item, i) => {
      const last = i === shown.length - 1 && shown.length === list.length;
      const branch = top ? '' : last ? '└─ ' : '├─ ';
      lines.push(`${prefix}${colour.dim(branch)}${label(item)}`);
      walk(children(item), top ? prefix : `${prefix}${last ? '   ' : colour.dim('│  ')}`, false);
    });
    if (shown.length < list.length) {
      lines.push(`${prefix}${top ? '' : colour.dim('└─ ')}${colour.dim(`… ${groupedCount(list.length - shown.length)} more (use --json or --all)`)}`);
    }
  };
  walk(items, '', true);
  return lines;
}

function nodeLabel(n: TreeNode): string {
  const parts = [colour.bold(`${n.type}:[${n.ns}]`)];
  if (n.nprocs > 0) {
    parts.push(`${n.nprocs} proc${n.nprocs === 1 ? '' : 's'}`);
    if (n.pid !== undefined) parts.push(colour.dim(escapeText(`${n.pid} ${n.user ?? ''} ${n.command ?? ''}`.replace(/\s+/g, ' ').trim())));
  } else if (n.held.length > 0) {
    parts.push(colour.yellow(`held by ${n.held.join(', ')}`));
  }
  if (n.discovered) {
    const why = n.discovered === 'owner' ? 'owns' : 'is the parent of';
    const creator = n.user !== undefined ? `, created by ${n.user}` : '';
    parts.push(colour.magenta(`(no process: alive because it ${why} others${creator})`));
  }
  if (n.owners.length > 0) parts.push(colour.cyan(n.owners.map(ownerLabel).join(', ')));
  return parts.join('  ');
}

function processLabel(p: TreeProcess): string {
  return `${p.pid} ${escapeText(p.comm)}`;
}

/** Per-type count bars: how many namespaces of each type exist. */
function renderCountBars(counts: Record<NsType, number>, width = 40): string[] {
  const max = Math.max(1, ...Object.values(counts));
  const numWidth = String(max).length;
  const lines = [colour.bold('namespaces by type')];
  for (const type of NS_TYPE_NAMES) {
    const n = counts[type];
    const bar = '█'.repeat(Math.max(n > 0 ? 1 : 0, Math.round((n / max) * width)));
    lines.push(`  ${type.padEnd(6)} ${String(n).padStart(numWidth)} ${colour.blue(bar)}`);
  }
  return lines;
}

export interface TreeRenderOptions {
  /** Children (and processes) shown per node before "… N more". */
  limit: number;
  /** Cut lines to this width (the terminal's); undefined: no cutting. */
  width?: number;
  bars: boolean;
}

export function renderTree(t: NamespaceTree, options: TreeRenderOptions): string {
  let lines: string[];
  if (t.view === 'process') {
    // Namespaces (nested by hierarchy for pid/user), each followed by its process forest.
    type Item = { node?: TreeNode; proc?: TreeProcess };
    const label = (it: Item): string => (it.node ? nodeLabel(it.node) : processLabel(it.proc!));
    const children = (it: Item): Item[] =>
      // Child namespaces before processes: shortening a long process list must not hide them.
      it.node ? [...it.node.children.map((node) => ({ node })), ...(it.node.processes ?? []).map((proc) => ({ proc }))] : it.proc!.children.map((proc) => ({ proc }));
    lines = drawForest(t.roots.map((node) => ({ node })), label, children, options.limit);
  } else {
    if (t.view === 'parent') lines = [colour.dim('pid and user namespaces under their parents')];
    else lines = [colour.dim('user namespaces with the namespaces they own')];
    lines.push(...drawForest(t.roots, nodeLabel, (n) => n.children, options.limit));
  }
  if (options.width !== undefined) lines = lines.map((l) => cut(l, options.width!));
  if (options.bars) lines.push('', ...renderCountBars(t.counts));
  return `${lines.join('\n')}\n`;
}

/** Shorten a coloured line to `width` visible characters. */
function cut(line: string, width: number): string {
  if (stripAnsi(line).length <= width) return line;
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; ) {
    const esc = /^\u001b\[[0-9;]*m/.exec(line.slice(i));
    if (esc) {
      out += esc[0];
      i += esc[0].length;
      continue;
    }
    if (visible === width - 1) {
      out += '…';
      break;
    }
    out += line[i];
    visible++;
    i++;
  }
  // Close any colour left open by the cut.
  return out.includes('\u001b[') ? `${out}\u001b[0m` : out;
}
