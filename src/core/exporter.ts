/**
 * `nsm serve`: a Prometheus exporter. The monitor (src/core/monitor.ts) runs for the life
 * of the server, so the created/destroyed counters count every namespace it reports, not
 * what two scrapes happen to differ by; each scrape of /metrics adds the gauges of a fresh
 * scan (src/core/metrics.ts). /healthz answers 200 once the monitor's first scan is in
 * (counting has started), 503 before.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hasErrno, NsmError } from '../sys/errors.js';
import { collectMetrics, loadPromClient, METRIC_TYPES, SnapshotGauges, type MetricsOptions } from './metrics.js';
import { monitorNamespaces, type MonitorEvent } from './monitor.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ServeOptions extends MetricsOptions {
  listen: ListenAddress;
  /** Abort to stop (SIGTERM, SIGINT): the server closes, the monitor ends. */
  signal: AbortSignal;
  /** Called once the port is bound and the monitor's first scan is in. */
  onReady?: (address: ListenAddress) => void;
}

/**
 * What the monitor says it missed, in one event: of its 'lost' record's counts since the last
 * one (core/monitor-events.ts LossCounts), the events the kernel dropped and the processes
 * gone before they were read: by that much the created/destroyed counters may be low.
 * missedNew/missedGone namespaces were counted all the same, by a rescan, only later; an
 * 'overrun' is in `lost` already.
 */
export function lostEventsIn(e: MonitorEvent): number {
  return e.kind === 'lost' ? e.since.lost + e.since.unread : 0;
}

/** Serve until `options.signal` aborts. A port already in use is an error (exit 1), before anything starts. */
export async function serveMetrics(options: ServeOptions): Promise<void> {
  const prom = await loadPromClient();
  const registry = new prom.Registry();
  const counter = (name: string, help: string, labelNames: string[]) => new prom.Counter({ name, help, labelNames, registers: [registry] });
  const created = counter('nsm_namespaces_created_total', 'Namespaces the monitor saw created since nsm serve started.', ['type']);
  const destroyed = counter('nsm_namespaces_destroyed_total', 'Namespaces the monitor saw destroyed (nothing holds them any more) since nsm serve started.', ['type']);
  const lost = counter('nsm_monitor_lost_events_total', 'Events the monitor knows it missed (its counts may be low by that much).', []);
  // Every series from 0: Prometheus's increase() and rate() need a sample before the first event.
  for (const type of METRIC_TYPES) {
    created.inc({ type }, 0);
    destroyed.inc({ type }, 0);
  }
  lost.inc(0);
  const gauges = new SnapshotGauges(prom, registry, options.ownerNames ?? false);

  let ready = false;
  // One scan answers every scrape that arrives while it runs.
  let scrape: Promise<string> | undefined;
  const metrics = (): Promise<string> =>
    (scrape ??= (async () => {
      try {
        gauges.set(await collectMetrics(options));
        return await registry.metrics();
      } finally {
        scrape = undefined;
      }
    })());

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') return ready ? reply(res, 200, 'text/plain', 'ok\n') : reply(res, 503, 'text/plain', 'starting\n');
    if (path === '/metrics') {
      metrics().then(
        (text) => reply(res, 200, registry.contentType, text),
        (err: unknown) => reply(res, 500, 'text/plain', `nsm: ${err instanceof Error ? err.message : String(err)}\n`),
      );
      return;
    }
    if (path === '/') return reply(res, 200, 'text/html', '<html><body><a href="/metrics">/metrics</a> <a href="/healthz">/healthz</a></body></html>\n');
    reply(res, 404, 'text/plain', 'not found\n');
  };

  const server = createServer(handle);
  await listen(server, options.listen);
  const stopMonitor = new AbortController();
  const onAbort = (): void => stopMonitor.abort();
  options.signal.addEventListener('abort', onAbort);
  if (options.signal.aborted) stopMonitor.abort();
  try {
    await monitorNamespaces({ signal: stopMonitor.signal, baseline: true, procRoot: options.procRoot }, (e) => {
      if (e.kind === 'ns-new') created.inc({ type: e.type });
      else if (e.kind === 'ns-gone') destroyed.inc({ type: e.type });
      else if (e.kind === 'baseline') {
        // The first scan is in: every namespace created from now on is counted.
        ready = true;
        options.onReady?.(options.listen);
      }
      const n = lostEventsIn(e);
      if (n > 0) lost.inc(n);
    });
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    await close(server);
  }
}

function reply(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function listen(server: Server, { host, port }: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      if (hasErrno(err, 'EADDRINUSE')) reject(new NsmError(`serve: ${where} is already in use (another nsm serve?)`));
      else if (hasErrno(err, 'EADDRNOTAVAIL')) reject(new NsmError(`serve: ${where}: no such local address`));
      else if (hasErrno(err, 'EACCES')) reject(new NsmError(`serve: ${where}: permission denied (ports below 1024 need root)`));
      else reject(err);
    });
    server.listen({ host, port, exclusive: true }, () => resolve());
  });
}

/** Stop accepting, and end idle keep-alive connections so that close() returns. */
function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 1000).unref();
  });
}
