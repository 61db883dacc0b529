/** `nsm serve`: a Prometheus exporter (/metrics, /healthz). */
import type { ListenAddress } from '../core/exporter.js';
import { UsageError } from '../sys/errors.js';
import { defineCommand, defineOptions } from './spec.js';

export const DEFAULT_LISTEN = '127.0.0.1:9436';

/** --listen HOST:PORT, [IPv6]:PORT or :PORT (all addresses: only when asked). */
export function parseListen(value: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]*)):([0-9]{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`--listen needs HOST:PORT (port 1-65535), not: ${value.length > 80 ? `${value.slice(0, 80)}...` : value}`);
  }
  const host = m[1] ?? m[2]!;
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export const serveOptions = defineOptions([
  { flags: '--listen <address>', description: `HOST:PORT to listen on (default ${DEFAULT_LISTEN}; :PORT for every address)`, parse: parseListen },
  { flags: '--owner-names', description: 'label nsm_namespaces_by_owner with owner names too (one series per container: mind the cardinality)' },
]);

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'serve Prometheus metrics over HTTP (/metrics, /healthz)',
  description:
    'Run a Prometheus exporter: /metrics has the gauges of a fresh scan at each scrape (as nsm metrics prints) and counters of namespaces created and destroyed, ' +
    'fed by the monitor (process events as root, else polling) and its periodic rescans, so no namespace between two scrapes is missed. ' +
    '/healthz answers 200 once counting has started. Ends cleanly on SIGTERM or SIGINT.',
  options: serveOptions,
  examples: [
    { command: 'nsm serve', does: 'on 127.0.0.1:9436: curl -s localhost:9436/metrics' },
    { command: 'nsm serve --listen 10.0.0.5:9436', does: 'on one address of the host, for a Prometheus elsewhere' },
  ],
  action: () => import('./actions/serve.js'),
});
