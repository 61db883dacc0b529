import { Command } from 'commander';
import { metricsText } from '../core/metrics.js';
import { writeFileAtomic } from '../sys/statefs.js';

export function metricsCommand(): Command {
  return new Command('metrics')
    .summary('print Prometheus metrics of one scan (for node_exporter\'s textfile collector)')
    .description(
      'Scan the host once and print the Prometheus text exposition: namespaces by type and holder, by owner kind, user namespaces per uid against the per-user limits, environments by state, the scan time. ' +
        'Counters of created and destroyed namespaces need a running monitor: nsm serve has them.',
    )
    .option('--textfile <path>', 'write to PATH atomically (a temp file in the same directory, then rename) instead of stdout')
    .option('--owner-names', 'label nsm_namespaces_by_owner with owner names too (one series per container: mind the cardinality)')
    .addHelpText('after', `
Examples:
  nsm metrics                                                       the exposition on stdout
  nsm metrics --textfile /var/lib/prometheus/node-exporter/nsm.prom  for node_exporter (from a timer)`)
    .action(async (opts) => {
      const { text } = await metricsText({ ownerNames: opts.ownerNames });
      if (opts.textfile !== undefined) writeFileAtomic(opts.textfile, text, { mode: 0o644 });
      else process.stdout.write(text);
    });
}
