#!/usr/bin/env node
// nsm ls against lsns, side by side in one run (issue 2 §10).
//
//   node bench/ls.mjs [--runs N] [--procs N] [--namespaces N] [--skip-load] [--baseline DIR] [--why]
//
// Two rounds: the host as it is, then with about --procs extra processes in --namespaces
// extra namespaces that this script starts (unshare(1), one new namespace each, types in
// turn; each namespace's first process forks the others) and stops again (SIGKILL to each
// process group it created, by pid). Each round times, interleaved so noise hits all alike:
//   node -e 0          Node's own start-up, the floor for any Node CLI
//   nsm ls             node bin/nsm ls, output to /dev/null
//   lsns               util-linux, output to /dev/null
//   nsm-helper scan    the C scan alone (what nsm ls spends in native/)
// and prints the median of --runs runs (default 15, at least 5) and the ratios.
// --baseline DIR adds `nsm ls` of another built checkout (e.g. an older commit) to compare.
// Needs root (unshare of every type; lsns sees all processes only as root).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoad, stopLoad } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = Math.max(5, opt('--runs', 15));
const PROCS = opt('--procs', 2000);
const NAMESPACES = opt('--namespaces', 300);
const baselineAt = args.indexOf('--baseline');
const BASELINE = baselineAt >= 0 ? args[baselineAt + 1] : undefined;

const commands = [
  { name: 'node -e 0', argv: [process.execPath, '-e', '0'] },
  { name: 'nsm ls', argv: [process.execPath, join(root, 'bin/nsm'), 'ls'] },
  { name: 'lsns', argv: ['lsns'] },
  { name: 'nsm-helper scan', argv: [join(root, 'native/build/nsm-helper'), 'scan'] },
  ...(BASELINE ? [{ name: 'baseline nsm ls', argv: [process.execPath, join(BASELINE, 'bin/nsm'), 'ls'] }] : []),
  // --why: `nsm why` of one namespace (the initial net namespace: every process is in it, the
  // largest report) against `nsm ls` (issue 13 §5: at most 1.5 times).
  ...(args.includes('--why') ? [{ name: 'nsm why', argv: [process.execPath, join(root, 'bin/nsm'), 'why', String(Number(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))[1]))] }] : []),
];

let retried = 0;

/** Wall time of one run. lsns itself can fail when a process vanishes under it: run again. */
function timeOnce(argv) {
  for (let attempt = 0; ; attempt++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status === 0) return ms;
    if (attempt === 4) throw new Error(`${argv.join(' ')} failed 5 times: ${r.stderr}`);
    retried++;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function processCount() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ')[3].split('/')[1] - 0; // threads, for reference
}

function countProcesses() {
  return spawnSync('sh', ['-c', 'ls -d /proc/[0-9]* | wc -l'], { encoding: 'utf8' }).stdout.trim();
}

function round(label) {
  for (const c of commands) timeOnce(c.argv); // warm the page cache
  const times = Object.fromEntries(commands.map((c) => [c.name, []]));
  for (let i = 0; i < RUNS; i++) for (const c of commands) times[c.name].push(timeOnce(c.argv));
  const med = Object.fromEntries(commands.map((c) => [c.name, median(times[c.name])]));
  const nsCount = JSON.parse(spawnSync(process.execPath, [join(root, 'bin/nsm'), 'ls', '--json'], { encoding: 'utf8' }).stdout).namespaces.length;
  console.log(`\n## ${label}: ${countProcesses()} processes (${processCount()} threads), ${nsCount} namespaces; median of ${RUNS} runs`);
  console.log('| command | median ms | min ms | max ms |');
  console.log('|---|---:|---:|---:|');
  for (const c of commands) {
    const t = times[c.name];
    console.log(`| ${c.name} | ${med[c.name].toFixed(1)} | ${Math.min(...t).toFixed(1)} | ${Math.max(...t).toFixed(1)} |`);
  }
  console.log(`nsm ls / lsns      = ${(med['nsm ls'] / med.lsns).toFixed(2)}`);
  console.log(`nsm ls / node -e 0 = ${(med['nsm ls'] / med['node -e 0']).toFixed(2)}`);
  if (BASELINE) {
    console.log(`baseline / lsns    = ${(med['baseline nsm ls'] / med.lsns).toFixed(2)}`);
    console.log(`baseline / node -e 0 = ${(med['baseline nsm ls'] / med['node -e 0']).toFixed(2)}`);
  }
  if (med['nsm why'] !== undefined) console.log(`nsm why / nsm ls   = ${(med['nsm why'] / med['nsm ls']).toFixed(2)}`);
  if (retried > 0) console.log(`(${retried} failed runs were repeated)`);
  retried = 0;
  return med;
}


const quiet = round('host as it is');
if (!args.includes('--skip-load')) {
  let leaders = [];
  const cleanup = () => leaders.forEach((c) => { try { process.kill(-c.pid, 'SIGKILL'); } catch {} });
  process.on('SIGINT', () => { cleanup(); process.exit(130); });
  process.on('exit', cleanup);
  try {
    leaders = await startLoad(PROCS, NAMESPACES);
    round(`with ${PROCS} extra processes in ${NAMESPACES} extra namespaces`);
  } finally {
    await stopLoad(leaders);
    leaders = [];
  }
}
void quiet;
