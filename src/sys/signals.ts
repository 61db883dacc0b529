/**
 * What a process that runs a command on someone's behalf (nsm exec, enter, unshare) does with
 * signals while the command runs, as sudo and docker do:
 *
 * - SIGTERM and SIGHUP come from a supervisor (kill, systemd, a closed terminal's session
 *   leader): pass them on to the command, which is the one that should react.
 * - SIGINT, SIGQUIT and SIGWINCH come from the terminal, which sends them to the whole
 *   foreground process group, command included (the command is spawned in our group):
 *   forwarding them too would deliver them twice. Only stay alive.
 */
import type { ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { EXIT_SIGNAL_BASE } from './errors.js';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];
const SWALLOWED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGWINCH'];

/** Install the handlers for `child`; returns the function that removes them. */
export function forwardSignals(child: ChildProcess): () => void {
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  for (const sig of FORWARDED) {
    handlers.push([
      sig,
      () => {
        try {
          child.kill(sig);
        } catch {
          // the child is exiting
        }
      },
    ]);
  }
  for (const sig of SWALLOWED) handlers.push([sig, () => {}]);
  for (const [sig, h] of handlers) process.on(sig, h);
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}

/** The exit status a shell reports for a process that ended with `code` or died of `signal`. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number | undefined {
  if (signal) return EXIT_SIGNAL_BASE + osConstants.signals[signal];
  return code ?? undefined;
}
