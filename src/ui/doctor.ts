/**
 * `nsm doctor` output: one boxed row per check, then the fixes as commands to copy.
 */
import type { Check, CheckStatus } from '../core/doctor.js';
import { colour } from './colour.js';
import { boxTable } from './table.js';

const STATUS_STYLE: { [s in CheckStatus]: (text: string) => string } = {
  ok: (t) => colour.green(t),
  warn: (t) => colour.yellow(t),
  fail: (t) => colour.red.bold(t),
};

/** `width`: the terminal's when stdout is one; the DETAIL column wraps to fit it. */
export function renderDoctor(checks: readonly Check[], width = process.stdout.isTTY ? process.stdout.columns : undefined): string {
  const rows = checks.map((c) => [c.title, STATUS_STYLE[c.status](c.status), c.detail]);
  const titleWidth = Math.max(5, ...checks.map((c) => c.title.length)) + 2;
  // Four borders, the CHECK and STATUS columns, and what is left for DETAIL (if it is enough to read).
  const detailWidth = width === undefined ? 0 : width - 4 - titleWidth - 8;
  const longest = Math.max(...checks.map((c) => c.detail.length)) + 2;
  const wrap = detailWidth >= 30 && longest > detailWidth;
  let out = boxTable(['CHECK', 'STATUS', 'DETAIL'], rows, wrap ? { colWidths: [titleWidth, 8, detailWidth] } : {});
  const fixes = checks.filter((c) => c.status !== 'ok' && c.fix);
  if (fixes.length > 0) {
    out += `\nTo fix:\n`;
    const width = Math.max(...fixes.map((c) => c.title.length));
    for (const c of fixes) out += `  ${c.title.padEnd(width)}  ${colour.bold(c.fix!)}\n`;
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  out += `\n${failed === 0 ? colour.green('nsm can work here') : colour.red(`${failed} failed`)}: ${checks.length} checks, ${failed} failed, ${warned} warnings\n`;
  return out;
}
