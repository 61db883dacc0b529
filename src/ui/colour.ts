/**
 * The one chalk instance. nsm colours as GNU ls --color=auto and util-linux do: when stdout
 * is a terminal whose TERM is not "dumb". chalk's own detection also turns colour off when
 * TERM is unset or when a CI variable is set without a CI vendor it knows, which would make
 * `nsm ls` plain on a CI runner's terminal and differ between shells; so nsm decides the
 * on/off itself and keeps chalk's depth (16, 256 or true colour) when chalk finds one.
 * FORCE_COLOR (0-3, as chalk reads it) overrides everything; NO_COLOR
 * (https://no-color.org), which chalk does not read, turns colour off.
 */
import { isatty } from 'node:tty';
import { Chalk, supportsColor, type ChalkInstance, type ColorSupportLevel } from 'chalk';

function level(): ColorSupportLevel | undefined {
  const env = process.env;
  if (env.FORCE_COLOR !== undefined) return undefined; // chalk parses FORCE_COLOR itself
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  // isatty(1), not process.stdout.isTTY: the stream costs ~5 ms to set up on a pipe, and a
  // command that prints through src/sys/stdio.ts never needs it.
  if (!isatty(1) || env.TERM === 'dumb') return 0;
  return supportsColor ? supportsColor.level : 1;
}

const lvl = level();
export const colour: ChalkInstance = lvl === undefined ? new Chalk() : new Chalk({ level: lvl });

/** Remove ANSI colour codes (for width computations). */
export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}
