#!/usr/bin/env node
/**
 * bench/monitor/tick-cost: what poll mode's looking at /proc costs, done by Node or by the
 * C helper (nsm-helper pidtick), on its own, with nothing changing.
 *
 *   node bench/monitor/tick-cost.mjs [--secs S] [--runs N]
 *
 * Side by side for S seconds (default 30), each its own process:
 *   node idle                      Node with no timer (the floor)
 *   node: cursor every P ms        a setTimeout loop that preads /proc/loadavg (P = 10, 50)
 *   pidtick: cursor every P ms     nsm-helper pidtick P
 *   node: list /proc every 250 ms  a setTimeout loop: readdir /proc, diff with the last listing
 *   pidtick: list every 250 ms     nsm-helper pidtick --list 250 60000 (the cursor all but never)
 * CPU is utime+stime from /proc/PID/stat, as % of one core. Prints a Markdown table.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const helper = join(here, '..', '..', 'native', 'build', 'nsm-helper');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const SECS = Number(opt('--secs', 30));
const RUNS = Number(opt('--runs', 1));
const TICK = 100; // sysconf(_SC_CLK_TCK)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const cursorLoop = (period) => `
  const { openSync, readSync } = require('node:fs');
  const fd = openSync('/proc/loadavg', 'r');
  const buf = Buffer.alloc(128);
  let last = 0;
  const tick = () => {
    const n = readSync(fd, buf, 0, 128, 0);
    last = Number(buf.toString('latin1', 0, n).split(' ')[4]);
    setTimeout(tick, ${period});
  };
  tick();`;

// What the monitor's Node-side full poll did (ProcFs.listPids and the diff), without the reads.
const listLoop = (period) => `
  const { readdirSync } = require('node:fs');
  let prev = new Set();
  const tick = () => {
    const pids = [];
    for (const name of readdirSync('/proc')) { const c = name.charCodeAt(0); if (c >= 48 && c <= 57) pids.push(Number(name)); }
    pids.sort((a, b) => a - b);
    const now = new Set(pids);
    let changed = 0;
    for (const p of prev) if (!now.has(p)) changed++;
    prev = now;
    setTimeout(tick, ${period});
  };
  tick();`;

const VARIANTS = [
  ['node idle', () => spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1e9)'], { stdio: 'ignore' })],
  ['node: cursor every 10 ms', () => spawn(process.execPath, ['-e', cursorLoop(10)], { stdio: 'ignore' })],
  ['pidtick: cursor every 10 ms', () => spawn(helper, ['pidtick', '10'], { stdio: ['pipe', 'ignore', 'inherit'] })],
  ['node: cursor every 50 ms', () => spawn(process.execPath, ['-e', cursorLoop(50)], { stdio: 'ignore' })],
  ['pidtick: cursor every 50 ms', () => spawn(helper, ['pidtick', '50'], { stdio: ['pipe', 'ignore', 'inherit'] })],
  ['node: list /proc every 250 ms', () => spawn(process.execPath, ['-e', listLoop(250)], { stdio: 'ignore' })],
  ['pidtick: list every 250 ms', () => spawn(helper, ['pidtick', '--list', '250', '60000'], { stdio: ['pipe', 'ignore', 'inherit'] })],
];

function ticks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function measure() {
  const procs = VARIANTS.map(([name, start]) => [name, start()]);
  await sleep(2000); // past Node's start-up
  const before = procs.map(([, c]) => ticks(c.pid));
  const t0 = Date.now();
  const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  await sleep(SECS * 1000);
  const wall = (Date.now() - t0) / 1000;
  const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const pct = procs.map(([name, c], i) => [name, (100 * (ticks(c.pid) - before[i])) / TICK / wall]);
  for (const [, c] of procs) c.kill('SIGKILL');
  return { pct, load: `${load0} -> ${load1}` };
}

console.log(`## monitor: cost of poll mode's looking (bench/monitor/tick-cost.mjs), ${SECS} s, side by side\n`);
console.log(`| run | load avg | ${VARIANTS.map(([n]) => n).join(' | ')} |`);
console.log(`|---|---|${VARIANTS.map(() => '---').join('|')}|`);
for (let run = 1; run <= RUNS; run++) {
  const r = await measure();
  console.log(`| ${run} | ${r.load} | ${r.pct.map(([, p]) => `${p.toFixed(2)}%`).join(' | ')} |`);
}
