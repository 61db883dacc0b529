/**
 * Columns as data (lsns's infos[]): one table per listing drives -o, --output-all,
 * --list-columns, the human table and the JSON keys.
 */
import { UsageError } from '../sys/errors.js';

export type CellValue = string | number | boolean | null | undefined | readonly string[] | readonly number[];

export interface Column<R> {
  /** Upper-case id used with -o and as the header (NS, TYPE ...). */
  id: string;
  help: string;
  align?: 'left' | 'right';
  /** Type of the value in JSON; keys are the lower-case id unless `key` says otherwise. */
  json: 'number' | 'string' | 'array';
  key?: string;
  /** May be shortened to fit the terminal (lsns's SCOLS_FL_TRUNC) unless --notruncate. */
  truncate?: boolean;
  /** Lists print one item per line unless --nowrap (lsns's SCOLS_FL_WRAP). */
  wrap?: boolean;
  get(row: R): CellValue;
  /** Optional colouring of the human text. */
  style?(text: string, row: R): string;
}

/**
 * Resolve an -o list against `all` (case-insensitive). A list starting with '+' adds to
 * the defaults, as lsns accepts. Unknown names are a usage error naming the valid ones.
 */
export function selectColumns<R>(
  all: readonly Column<R>[],
  defaults: readonly string[],
  spec?: string,
  outputAll = false,
): Column<R>[] {
  if (outputAll) return [...all];
  let ids: string[] = [...defaults];
  if (spec !== undefined && spec !== '') {
    const append = spec.startsWith('+');
    const names = (append ? spec.slice(1) : spec).split(',').map((s) => s.trim()).filter(Boolean);
    // +COL of a column the defaults have already (NSFS with -t net) does not print it twice.
    ids = append ? [...ids, ...names.filter((n) => !ids.some((d) => d.toLowerCase() === n.toLowerCase()))] : names;
  }
  return ids.map((name) => {
    const col = all.find((c) => c.id.toLowerCase() === name.toLowerCase());
    if (!col) throw new UsageError(`unknown column: ${name} (known: ${all.map((c) => c.id).join(', ')})`);
    return col;
  });
}

/** --list-columns text: id and help, aligned as lsns --help shows them. */
export function describeColumns<R>(all: readonly Column<R>[]): string {
  const width = Math.max(...all.map((c) => c.id.length));
  return all.map((c) => `${c.id.padStart(width + 2)}  ${c.help}`).join('\n') + '\n';
}

/** A cell as JSON: numbers stay numbers, absent values become null, lists stay lists. */
function jsonValue(col: Column<unknown>, value: CellValue): unknown {
  if (value === undefined || value === null) return null;
  if (col.json === 'array') return Array.isArray(value) ? value : [value];
  if (col.json === 'number') return typeof value === 'number' ? value : Number(value);
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** Rows as JSON objects keyed by lower-case column id (or the column's key). */
export function rowsToJson<R>(rows: readonly R[], cols: readonly Column<R>[]): Array<Record<string, unknown>> {
  return rows.map((row) => {
    const obj: Record<string, unknown> = {};
    for (const col of cols) obj[col.key ?? col.id.toLowerCase()] = jsonValue(col as Column<unknown>, col.get(row));
    return obj;
  });
}
