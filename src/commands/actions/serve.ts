import { serveMetrics } from '../../core/exporter.js';
import { DEFAULT_LISTEN, parseListen, type serveOptions } from '../serve.js';
import type { OptionsOf } from '../spec.js';

export async function run(_operands: [], opts: OptionsOf<typeof serveOptions>): Promise<void> {
  const listen = opts.listen ?? parseListen(DEFAULT_LISTEN);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    await serveMetrics({ listen, ownerNames: opts.ownerNames, signal: stop.signal });
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}
