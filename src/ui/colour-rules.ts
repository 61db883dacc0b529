/**
 * When nsm colours its output, decided without chalk (colour.ts adds chalk's colour depth;
 * `nsm create` uses this to load chalk only when it will colour, created-view.ts).
 *
 * nsm colours as GNU ls --color=auto and util-linux do: when stdout is a terminal whose TERM
 * is not "dumb". chalk's own detection also turns colour off when TERM is unset or when a CI
 * variable is set without a CI vendor it knows, which would make `nsm ls` plain on a CI
 * runner's terminal and differ between shells; so nsm decides the on/off itself. FORCE_COLOR
 * (0-3, as chalk reads it) overrides everything; NO_COLOR (https://no-color.org), which chalk
 * does not read, turns colour off.
 */
import { isatty } from 'node:tty';

/** on: colour; off: none; chalk: FORCE_COLOR is set, and chalk parses it. */
export type ColourDecision = 'on' | 'off' | 'chalk';

export function colourDecision(env: NodeJS.ProcessEnv = process.env, terminal: boolean = isatty(1)): ColourDecision {
  if (env.FORCE_COLOR !== undefined) return 'chalk';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 'off';
  // isatty(1), not process.stdout.isTTY: setting the stream up on a pipe loads node:net and
  // node:stream (src/sys/stdio.ts), and a command that prints through stdio.ts never needs it.
  if (!terminal || env.TERM === 'dumb') return 'off';
  return 'on';
}
