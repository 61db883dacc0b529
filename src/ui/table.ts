/**
 * Human output: aligned listings (lsns layout), --raw output, and cli-table3 boxes.
 * cli-table3 is loaded on first use so listings and JSON never pay for it.
 */
import { createRequire } from 'node:module';
import { colour, stripAnsi } from './colour.js';
import { escapeText } from '../sys/escape.js';
import type { CellValue, Column } from './columns.js';

export interface TableOptions {
  /** Plain space-separated output with escaped blanks (lsns -r). */
  raw?: boolean;
  noHeadings?: boolean;
  /** Never shorten truncatable columns (lsns -u). */
  noTruncate?: boolean;
  /** Lists on one line, comma-separated (lsns -W). */
  noWrap?: boolean;
  /** Width to fit; default: the terminal's when stdout is one, else unlimited. */
  width?: number;
}

type TableCtor = new (options: object) => { push(row: unknown[]): void; toString(): string };
let Table: TableCtor | undefined;

function loadTable(): TableCtor {
  // The CLI bundles (CommonJS) have require: esbuild then puts cli-table3 into the bundle, run
  // on this first call and compiled through the bundle's code cache, instead of a dozen files
  // of node_modules compiled at each start through node:module. The library (dist/, ES
  // modules) has none and loads it from node_modules.
  Table ??= (typeof require === 'function' ? require('cli-table3') : createRequire(import.meta.url)('cli-table3')) as TableCtor;
  return Table;
}

/** libsmartcols raw format: blanks and control characters as \xNN so fields stay split on spaces. */
function rawEscape(text: string): string {
  return text.replace(/[\s\\\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A cell as text; `escape` (the aligned layout): every value through escapeText, so a cell is one line per value. */
function cellText(value: CellValue, listSeparator: string, escape = true): string {
  const one = (v: unknown): string => (escape ? escapeText(String(v)) : String(v));
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(one).join(listSeparator);
  return one(value);
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * A listing in lsns's layout: one line per row, columns separated by a space, aligned.
 * This is a plain column printer rather than cli-table3: cli-table3's layout work grows with
 * every row and, on a host with thousands of processes, took a large share of `nsm ls`'s
 * whole budget (bench/RESULTS.md). cli-table3 draws the detail tables (boxTable below).
 */
export function renderColumns<R>(rows: readonly R[], cols: readonly Column<R>[], options: TableOptions = {}): string {
  if (options.raw) {
    const lines = options.noHeadings ? [] : [cols.map((c) => c.id).join(' ')];
    for (const row of rows) lines.push(cols.map((c) => rawEscape(cellText(c.get(row), ',', false))).join(' '));
    return lines.length > 0 ? `${lines.join('\n')}\n` : '';
  }

  const cells = rows.map((row) => cols.map((c) => cellText(c.get(row), c.wrap && !options.noWrap ? '\n' : ',')));
  const width = options.width ?? (process.stdout.isTTY ? process.stdout.columns : undefined);
  if (!options.noTruncate && width !== undefined) fitWidth(cells, cols, width, !options.noHeadings);

  const widths = cols.map((c, j) => Math.max(options.noHeadings ? 0 : c.id.length, ...cells.map((r) => longestLine(r[j]!))));
  const out: string[] = [];
  const emit = (texts: string[], styled: (j: number, text: string) => string): void => {
    // A multi-line cell (NSFS with several mounts) continues on following lines, other columns blank.
    const parts = texts.map((t) => t.split('\n'));
    const height = Math.max(...parts.map((p) => p.length));
    for (let k = 0; k < height; k++) {
      const line = parts.map((p, j) => {
        const text = p[k] ?? '';
        const pad = ' '.repeat(widths[j]! - text.length);
        const shown = text === '' ? '' : styled(j, text);
        return cols[j]!.align === 'right' ? pad + shown : shown + pad;
      });
      out.push(line.join(' ').trimEnd());
    }
  };
  if (!options.noHeadings) emit(cols.map((c) => c.id), (_, t) => colour.bold(t));
  rows.forEach((row, i) => emit(cells[i]!, (j, t) => cols[j]!.style?.(t, row) ?? t));
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

function longestLine(text: string): number {
  let max = 0;
  for (const line of text.split('\n')) max = Math.max(max, line.length);
  return max;
}

/**
 * A boxed table for detail views (inspect, diff, environments): few rows, where
 * cli-table3's borders and wrapping help reading.
 */
export function boxTable(
  head: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  options: { colAligns?: Array<'left' | 'right'>; colWidths?: Array<number | null>; wordWrap?: boolean } = {},
): string {
  const TableImpl = loadTable();
  const table = new TableImpl({
    head: head.map((h) => colour.bold(h)),
    style: { head: [], border: [], compact: true },
    ...(options.colAligns ? { colAligns: options.colAligns } : {}),
    // colWidths include cli-table3's one-space padding on each side; null = fit the content.
    ...(options.colWidths ? { colWidths: options.colWidths, wordWrap: options.wordWrap ?? true } : {}),
  });
  // Cells may hold several lines nsm joined; each line's control characters are escaped.
  for (const r of rows) table.push(r.map((cell) => escapeText(cell, { keepNewlines: true })));
  return `${table.toString()}\n`;
}

/**
 * Shorten truncatable columns until the table fits in `width`, the widest first (so that a
 * long NAME and a long COMMAND end up sharing the room, as libsmartcols trims lsns's), none
 * below its header or 8 characters; a table that still does not fit is left to wrap.
 */
function fitWidth<R>(cells: string[][], cols: readonly Column<R>[], width: number, headings: boolean): void {
  const colWidth = (j: number): number =>
    Math.max(headings ? cols[j]!.id.length : 0, ...cells.map((r) => Math.max(...r[j]!.split('\n').map((l) => stripAnsi(l).length))));
  const widths = cols.map((_, j) => colWidth(j));
  let excess = widths.reduce((a, b) => a + b, 0) + cols.length - 1 - width;
  if (excess <= 0) return;
  const min = (j: number): number => Math.max(cols[j]!.id.length, 8);
  const targets = [...widths];
  const candidates = cols.map((_, j) => j).filter((j) => cols[j]!.truncate);
  while (excess > 0) {
    // One character off the widest column that may still give one.
    let widest = -1;
    for (const j of candidates) if (targets[j]! > min(j) && (widest < 0 || targets[j]! > targets[widest]!)) widest = j;
    if (widest < 0) break;
    targets[widest]!--;
    excess--;
  }
  for (const j of candidates) {
    if (targets[j]! < widths[j]!) for (const r of cells) r[j] = r[j]!.split('\n').map((l) => truncate(l, targets[j]!)).join('\n');
  }
}
