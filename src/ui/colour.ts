/**
 * The one chalk instance. Whether to colour is colour-rules.ts's decision; chalk adds the
 * depth (16, 256 or true colour) when it finds one, and parses FORCE_COLOR.
 */
import { Chalk, supportsColor, type ChalkInstance, type ColorSupportLevel } from 'chalk';
import { colourDecision } from './colour-rules.js';

function level(): ColorSupportLevel | undefined {
  const decision = colourDecision();
  if (decision === 'chalk') return undefined; // chalk parses FORCE_COLOR itself
  if (decision === 'off') return 0;
  return supportsColor ? supportsColor.level : 1;
}

const lvl = level();
export const colour: ChalkInstance = lvl === undefined ? new Chalk() : new Chalk({ level: lvl });

/** Remove ANSI colour codes (for width computations). */
export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}
