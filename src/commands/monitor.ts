import { Command } from 'commander';
import { DEFAULT_INTERVAL_MS, monitorNamespaces } from '../core/monitor.js';
import { UsageError } from '../sys/errors.js';
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { monitorPrinter } from '../ui/monitor.js';
import { collectTypes, parsePid, parsePositiveInt, parseSeconds } from './options.js';

export function monitorCommand(): Command {
  return new Command('monitor')
    .alias('watch')
    .summary('report namespaces as they are created and destroyed')
    .description(
      'Watch namespaces come and go: NEW when one appears, GONE when nothing (process, thread, fd or bind mount) holds it any more. ' +
        'As root, uses the kernel process events connector and catches namespaces that live a few milliseconds; otherwise polls /proc, ' +
        'reading new processes by the kernel\'s pid cursor every 10-50 ms (namespaces that live 100 ms are caught).',
    )
    .option('-t, --type <types>', `namespace types to watch, repeatable or comma-separated (${NS_TYPE_NAMES.join(', ')})`, collectTypes)
    .option('-p, --pid <pid>', 'follow this process and its descendants only', parsePid)
    .option('--json', 'JSON Lines: one object per event (schema in the README)')
    .option('-c, --count <n>', 'stop after N namespace events', parsePositiveInt('--count'))
    .option('-d, --duration <secs>', 'stop after SECS seconds (fractions allowed)', parseSeconds('--duration'))
    .option('--baseline', 'first list the namespaces present at start')
    .option('-v, --verbose', 'also report processes joining and leaving known namespaces')
    .option('-i, --interval <ms>', `when polling, period of the full listing of /proc (default ${DEFAULT_INTERVAL_MS}); new processes are read every 10-50 ms`, parsePositiveInt('--interval'))
    .option('--poll', 'poll /proc even when process events are available')
    .addHelpText('after', `
Ends on Ctrl-C, --count or --duration with a summary: created, destroyed and alive per type.

Examples:
  nsm monitor                          every namespace change on the host
  nsm monitor -t net --baseline        network namespaces: those present, then changes
  nsm monitor --json -d 60 > ns.jsonl  one minute of events for CI, then a summary record
  nsm monitor -p $$ -v                 what this shell and its children create and join`)
    .action(async (opts) => {
      if (opts.interval !== undefined && opts.interval < 10) throw new UsageError(`--interval must be at least 10 ms, not: ${opts.interval}`);
      // Tests only: a tiny connector receive buffer makes the kernel drop events (ENOBUFS).
      const rcvbufEnv = process.env.NSM_MONITOR_RCVBUF;
      if (rcvbufEnv !== undefined && !/^[1-9][0-9]{0,9}$/.test(rcvbufEnv)) throw new UsageError(`NSM_MONITOR_RCVBUF needs a number of bytes, not: ${rcvbufEnv.slice(0, 40)}`);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
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
            baseline: opts.baseline,
            intervalMs: opts.interval,
            mode: opts.poll ? 'poll' : 'auto',
            signal: stop.signal,
            rcvbuf: rcvbufEnv === undefined ? undefined : Number(rcvbufEnv),
          },
          monitorPrinter({ json: opts.json }),
        );
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
    });
}
