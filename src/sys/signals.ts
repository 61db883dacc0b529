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

export interface SignalForwarder {
  /** The child to forward to; signals that arrived before are delivered now. */
  attach(child: ChildProcess): void;
  /** Remove the handlers. */
  restore(): void;
}

/**
 * Install the handlers *before* spawning, then attach() the child. Installing them after
 * spawn() returns leaves a window: the child has already exec'd (and can be seen, and
 * signalled, by others) while spawn() still waits for the exec to be confirmed, and a
 * SIGTERM then would kill us with the default action and orphan the command. Seen on this
 * host with `node -e` and a loop sending SIGTERM as soon as the child shows up.
 */
export function forwardSignals(): SignalForwarder {
  let target: ChildProcess | undefined;
  const pending: NodeJS.Signals[] = [];
  const send = (sig: NodeJS.Signals) => {
    try {
      target!.kill(sig);
    } catch {
      // the child is exiting
    }
  };
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  for (const sig of FORWARDED) {
    handlers.push([sig, () => (target ? send(sig) : pending.includes(sig) || pending.push(sig))]);
  }
  for (const sig of SWALLOWED) handlers.push([sig, () => {}]);
  for (const [sig, h] of handlers) process.on(sig, h);
  return {
    attach(child) {
      target = child;
      for (const sig of pending.splice(0)) send(sig);
    },
    restore() {
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}

/** The exit status a shell reports for a process that ended with `code` or died of `signal`. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number | undefined {
  if (signal) return EXIT_SIGNAL_BASE + osConstants.signals[signal];
  return code ?? undefined;
}
