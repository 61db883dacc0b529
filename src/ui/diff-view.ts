/**
 * `nsm diff`: the human comparison table and the JSON document.
 */
import type { Comparison } from '../core/diff.js';
import { colour } from './colour.js';
import { boxTable } from './table.js';

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** The JSON document (schema: docs/json.md, "nsm diff --json"). */
export function comparisonJson(c: Comparison): object {
  return {
    a: { pid: c.a.pid, label: c.a.label },
    b: { pid: c.b.pid, label: c.b.label },
    types: c.types.map((t) => ({ type: t.type, a: orNull(t.a), b: orNull(t.b), status: t.status, errorA: orNull(t.errorA), errorB: orNull(t.errorB) })),
    summary: c.summary,
    allShared: c.allShared,
  };
}

export function renderComparison(c: Comparison): string {
  const side = (inode: number | undefined, error: string | undefined): string =>
    inode !== undefined ? String(inode) : colour.dim(error ? `? (${error})` : '?');
  const rows = c.types.map((t) => [
    t.type,
    side(t.a, t.errorA),
    side(t.b, t.errorB),
    t.status === 'same' ? colour.green('same') : t.status === 'different' ? colour.yellow('different') : colour.dim('unknown'),
  ]);
  const table = boxTable(['TYPE', c.a.label, c.b.label, 'SAME?'], rows, { colAligns: ['left', 'right', 'right', 'left'] });
  const { same, different, unknown } = c.summary;
  const parts = [`${same} shared`, `${different} different`];
  if (unknown > 0) parts.push(`${unknown} unknown`);
  return `${table}${parts.join(', ')} (of ${c.types.length} compared)\n`;
}
