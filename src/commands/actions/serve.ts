import { setFlagsFromString } from 'node:v8';
import { serveMetrics } from '../../core/exporter.js';
import { DEFAULT_LISTEN, parseListen, type serveOptions } from '../serve.js';
import type { OptionsOf } from '../spec.js';

export async function run(_operands: [], opts: OptionsOf<typeof serveOptions>): Promise<void> {
  const listen = opts.listen ?? parseListen(DEFAULT_LISTEN);
  // A long-running exporter that is idle between scrapes: V8's optimizing compiler (TurboFan)
  // would cost its own code pages and zone memory for little gain, and the idle budget is
  // memory (issue 14: 60 MiB RSS). Without it every function runs in the interpreter and
  // the baseline compiler. For this process only, from here on (nothing hot has run yet);
  // figures in bench/RESULTS.md, "nsm serve".
  setFlagsFromString('--no-opt');
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    await serveMetrics({ listen, ownerNames: opts.ownerNames, signal: stop.signal });
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}
