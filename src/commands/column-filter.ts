/** -Q/--filter over a listing's columns: the expression's column names bound to Column getters. */
import { compileFilter, parseFilter, type FilterNode } from '../core/filter.js';
import type { Column } from '../ui/columns.js';

export interface ColumnFilter<R> {
  test(row: R): boolean;
  /** The columns the expression reads (they may need data the shown columns do not). */
  columns: Column<R>[];
}

/** Parse EXPR and bind its names (case-insensitive, as lsns) to `all`; errors exit 2. */
export function columnFilter<R>(all: readonly Column<R>[], expr: string): ColumnFilter<R> {
  const tree: FilterNode = parseFilter(expr);
  const used = new Set<Column<R>>();
  const find = (name: string): Column<R> | undefined => all.find((c) => c.id.toLowerCase() === name.toLowerCase());
  const test = compileFilter<R>(
    tree,
    (name) => {
      const col = find(name);
      if (!col) return undefined;
      used.add(col);
      return { numeric: col.json === 'number', get: (row) => col.get(row) };
    },
    all.map((c) => c.id),
  );
  return { test, columns: [...used] };
}
