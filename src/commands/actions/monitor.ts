import { isatty } from 'node:tty';
import { monitorNamespaces } from '../../core/monitor.js';
import { UsageError } from '../../sys/errors.js';
import { processStartedAt } from '../../sys/started.js';
import { monitorPrinter } from '../../ui/monitor.js';
import type { MonitorEvent } from '../../core/monitor-events.js';
import type { monitorOptions } from '../monitor.js';
import type { OptionsOf } from '../spec.js';

export async function run(_operands: [], opts: OptionsOf<typeof monitorOptions>): Promise<void> {
  if (opts.interval !== undefined && opts.interval < 10) throw new UsageError(`--interval must be at least 10 ms, not: ${opts.interval}`);
  // Tests only: a tiny connector receive buffer makes the kernel drop events (ENOBUFS).
  const rcvbufEnv = process.env.NSM_MONITOR_RCVBUF;
  if (rcvbufEnv !== undefined && !/^[1-9][0-9]{0,9}$/.test(rcvbufEnv)) throw new UsageError(`NSM_MONITOR_RCVBUF needs a number of bytes, not: ${rcvbufEnv.slice(0, 40)}`);
  const stop = new AbortController();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal === 'SIGINT';
    stop.abort();
  };
  // A second Ctrl-C finds no handler and ends nsm at once.
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  // The reader went away (nsm monitor | head): stop quietly. The listener stays for the
  // rest of the process: the summary's own write fails asynchronously, after we return.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') stop.abort();
    else throw err;
  });
  try {
    await monitorNamespaces(
      {
        types: opts.type,
        pid: opts.pid,
        verbose: opts.verbose,
        count: opts.count,
        durationMs: opts.duration,
        // -d counts from when the user started nsm (time(1)'s start), not from after Node's start-up.
        startedAt: processStartedAt(),
        baseline: opts.baseline,
        intervalMs: opts.interval,
        mode: opts.poll ? 'poll' : 'auto',
        signal: stop.signal,
        rcvbuf: rcvbufEnv === undefined ? undefined : Number(rcvbufEnv),
      },
      afterInterrupt(monitorPrinter({ json: opts.json }), () => interrupted && !opts.json),
    );
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  // The summary is out (stdout writes synchronously to pipes, files and terminals on Linux):
  // end now rather than wait for an abandoned rescan's process to be reaped, so that -d ends
  // on time on a loaded host.
  process.exit();
}

/**
 * The terminal echoes ^C where the cursor is, at the start of a line (termios(3) ECHOCTL):
 * the summary after a Ctrl-C on a terminal starts on a line of its own.
 */
function afterInterrupt(print: (e: MonitorEvent) => void, interrupted: () => boolean): (e: MonitorEvent) => void {
  return (e) => {
    if (e.kind === 'summary' && interrupted() && process.stdout.isTTY && isatty(0)) process.stdout.write('\n');
    print(e);
  };
}
