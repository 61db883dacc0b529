#!/usr/bin/env node
// Paired A/B of `nsm ls` on a big host (issue 13 §5): this checkout against --baseline DIR,
// both against lsns, under the same load.
//
//   node bench/ls-ab.mjs --baseline DIR [--rounds N] [--procs N] [--namespaces N]
//
// Starts about --procs extra processes in --namespaces extra namespaces (bench/lib.mjs), then
// runs, each round, `nsm ls` of this checkout, `nsm ls` of DIR, lsns and `nsm why` of the
// initial net namespace once each, in an order reversed every other round, and prints the
// median of each round's ratio to lsns (the same round's lsns: noise from other work on the
// host hits a round's runs alike) beside plain medians. Needs root (as bench/ls.mjs).
import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoad, stopLoad } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const BASELINE = opt('--baseline');
if (!BASELINE) throw new Error('--baseline DIR is required');
const ROUNDS = Number(opt('--rounds', 21));
const netns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))[1];
const commands = {
  'nsm ls': [process.execPath, join(root, 'bin/nsm'), 'ls'],
  'baseline nsm ls': [process.execPath, join(BASELINE, 'bin/nsm'), 'ls'],
  lsns: ['lsns'],
  'nsm why': [process.execPath, join(root, 'bin/nsm'), 'why', netns],
};
const timeOnce = (argv) => {
  for (let attempt = 0; ; attempt++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status === 0) return Number(process.hrtime.bigint() - t0) / 1e6;
    if (attempt === 4) throw new Error(`${argv.join(' ')} failed 5 times: ${r.stderr}`);
  }
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const leaders = await startLoad(Number(opt('--procs', 2000)), Number(opt('--namespaces', 300)));
try {
  const load0 = readFileSync('/proc/loadavg', 'utf8').trim();
  for (const argv of Object.values(commands)) timeOnce(argv); // warm the page cache
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let i = 0; i < ROUNDS; i++) {
    const order = Object.keys(commands);
    if (i % 2) order.reverse();
    for (const k of order) times[k].push(timeOnce(commands[k]));
  }
  console.log(`${ROUNDS} rounds; load average ${load0} -> ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  console.log('| command | median ms | min ms | paired ratio to lsns (median) |');
  console.log('|---|---:|---:|---:|');
  for (const k of Object.keys(commands)) {
    const ratio = median(times[k].map((t, i) => t / times.lsns[i]));
    console.log(`| ${k} | ${median(times[k]).toFixed(1)} | ${Math.min(...times[k]).toFixed(1)} | ${ratio.toFixed(3)} |`);
  }
  console.log(`nsm why / nsm ls (paired median): ${median(times['nsm why'].map((t, i) => t / times['nsm ls'][i])).toFixed(2)}`);
} finally {
  await stopLoad(leaders);
}
