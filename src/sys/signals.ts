/**
 * What a process that runs a command on someone's behalf (nsm exec, enter, unshare) does with
 * signals while the command runs, as sudo and docker do:
 *
 * - SIGTERM and SIGHUP come from a supervisor (kill, systemd, a closed terminal's session
 *   leader): pass them on to the command, which is the one that should react.
 * - SIGINT, SIGQUIT and SIGWINCH usually come from the terminal, which sends them to its
 *   whole foreground process group, the command included (it is spawned in our group):
 *   forwarding them too would deliver them twice. So they are forwarded only when our
 *   group is not the terminal's foreground group (no terminal, as in CI, or run in the
 *   background): then they were sent to nsm alone (`kill -INT`), and the command gets them.
 *   sudo tells the two apart by si_pid; Node hands no siginfo to a handler, so nsm asks
 *   the kernel whose group the terminal's is, at the moment the signal arrives.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { EXIT_SIGNAL_BASE } from './errors.js';
import { parseStatTerminal } from './parse.js';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];
const FROM_TERMINAL: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGWINCH'];

/**
 * Whether our process group is the foreground group of our controlling terminal, so that
 * the terminal's signals reach the command too: /proc/self/stat field 5 (pgrp) equals
 * field 8 (tpgid, -1 without a terminal); proc(5).
 */
export function inTerminalForeground(statText?: string): boolean {
  let stat;
  try {
    stat = parseStatTerminal(statText ?? readFileSync('/proc/self/stat', 'latin1'));
  } catch {
    return false;
  }
  return stat.tpgid > 0 && stat.tpgid === stat.pgrp;
}

export interface SignalForwarder {
  /**
   * The child to forward to, a ChildProcess or the pid of a child not yet reaped (restore()
   * before reaping it, or the pid may be reused); signals that arrived before are delivered now.
   */
  attach(child: ChildProcess | number): void;
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
  let target: ChildProcess | number | undefined;
  const pending: NodeJS.Signals[] = [];
  const send = (sig: NodeJS.Signals) => {
    try {
      if (typeof target === 'number') process.kill(target, sig);
      else target!.kill(sig);
    } catch {
      // the child is exiting
    }
  };
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  for (const sig of FORWARDED) {
    handlers.push([sig, () => (target ? send(sig) : pending.includes(sig) || pending.push(sig))]);
  }
  for (const sig of FROM_TERMINAL) {
    handlers.push([sig, () => (inTerminalForeground() ? undefined : target ? send(sig) : pending.includes(sig) || pending.push(sig))]);
  }
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

/**
 * For a command that changes the host in steps (create, destroy): SIGINT, SIGTERM and SIGHUP
 * are noted instead of killing us half-way, so that the command can finish or undo the step
 * in hand and then report the signal (pending()). restore() removes the handlers.
 */
export function deferSignals(): { pending(): NodeJS.Signals | undefined; restore(): void } {
  let caught: NodeJS.Signals | undefined;
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handler = (sig: NodeJS.Signals) => {
    caught ??= sig;
  };
  for (const s of signals) process.on(s, handler);
  return {
    pending: () => caught,
    restore: () => {
      for (const s of signals) process.off(s, handler);
    },
  };
}
