/**
 * Waiting for a child of ours without blocking Node's event loop (and with it signal
 * forwarding), shared by the two ways nsm starts its helper: koffi's waitpid (src/sys/libc.ts)
 * and nsm's own Node-API module (src/sys/spawn-addon.ts).
 */
import { constants as osConstants } from 'node:os';

/** How a child ended: its exit status, or the signal that killed it. */
export interface ChildExit {
  status: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Resolve with how the child ended, once `reap` (a waitpid(WNOHANG) of it: its wait status,
 * or undefined while it runs) finds it ended. Woken by SIGCHLD and, should one be missed, a
 * 1 s tick that also keeps the loop alive; it reaps on the main thread. Not on a worker thread:
 * once the main thread has joined a pid namespace, clone(2) refuses new threads (EINVAL for
 * CLONE_THREAD when the pid namespace for children differs), and libuv aborts when it cannot
 * start its thread pool. `onExit` runs in the same tick as the reaping, before anything else
 * can: whatever signals the child by pid must stop there (its pid may be reused from then on).
 * A `reap` that throws rejects the promise.
 */
export function waitForReaped(reap: () => number | undefined, onExit?: () => void): Promise<ChildExit> {
  return new Promise((resolve, reject) => {
    const stop = () => {
      process.off('SIGCHLD', check);
      clearInterval(tick);
      onExit?.();
    };
    function check(): void {
      let status: number | undefined;
      try {
        status = reap();
      } catch (err) {
        stop();
        reject(err);
        return;
      }
      if (status === undefined) return;
      stop();
      resolve(childExit(status));
    }
    process.on('SIGCHLD', check);
    const tick = setInterval(check, 1000);
    check(); // it may have ended before the handler was there
  });
}

/** A waitpid(2) status as an exit code or the signal that ended the child (WIFEXITED/WTERMSIG). */
export function childExit(waitStatus: number): ChildExit {
  const termsig = waitStatus & 0x7f;
  return { status: termsig === 0 ? (waitStatus >> 8) & 0xff : null, signal: termsig === 0 ? null : signalName(termsig) };
}

function signalName(n: number): NodeJS.Signals | null {
  const entry = Object.entries(osConstants.signals).find(([, v]) => v === n);
  return entry ? (entry[0] as NodeJS.Signals) : null;
}
