/** `nsm metrics`: the Prometheus text exposition of one scan. */
import { defineCommand, defineOptions } from './spec.js';

export const metricsOptions = defineOptions([
  { flags: '--textfile <path>', description: 'write to PATH atomically (a temp file in the same directory, then rename) instead of stdout' },
  { flags: '--owner-names', description: 'label nsm_namespaces_by_owner with owner names too (one series per container: mind the cardinality)' },
]);

export const metricsCommand = defineCommand({
  name: 'metrics',
  summary: "print Prometheus metrics of one scan (for node_exporter's textfile collector)",
  description:
    'Scan the host once and print the Prometheus text exposition: namespaces by type and holder, by owner kind, user namespaces per uid against the per-user limits, environments by state, the scan time. ' +
    'Counters of created and destroyed namespaces need a running monitor: nsm serve has them.',
  options: metricsOptions,
  examples: [
    { command: 'nsm metrics', does: 'the exposition on stdout' },
    { command: 'nsm metrics --textfile /var/lib/prometheus/node-exporter/nsm.prom', does: 'for node_exporter (from a timer)' },
  ],
  action: () => import('./actions/metrics.js'),
});
