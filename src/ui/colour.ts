/**
 * The one chalk instance. Colour only when stdout is a terminal (chalk's own check),
 * FORCE_COLOR forces it (chalk honours it), and NO_COLOR (https://no-color.org) turns it
 * off, which chalk itself does not look at.
 */
import { Chalk, type ChalkInstance } from 'chalk';

function level(): 0 | undefined {
  const noColor = process.env.NO_COLOR;
  if (noColor !== undefined && noColor !== '' && process.env.FORCE_COLOR === undefined) return 0;
  return undefined; // chalk's detection: TTY + FORCE_COLOR
}

const lvl = level();
export const colour: ChalkInstance = lvl === 0 ? new Chalk({ level: 0 }) : new Chalk();

/** Remove ANSI colour codes (for width computations). */
export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}
