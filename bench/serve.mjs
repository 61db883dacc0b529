#!/usr/bin/env node
// What `nsm serve` costs (issue 14 §4): idle CPU and RSS, and one scrape of /metrics
// against one `nsm ls`, on the host as it is and with --procs extra processes.
//
//   node bench/serve.mjs [--idle-secs S] [--runs N] [--procs N] [--namespaces N] [--skip-load]
//
// Idle: nsm serve (as the user running this: root gets event mode) on a free loopback
// port, after its first scan, --idle-secs (default 30) with no scrape; CPU from
// /proc/PID/stat (its own utime+stime plus its children's: the rescans' scanner), as % of
// one core; RSS (VmRSS) at the end and its peak (VmHWM).
// Scrape vs ls: --runs (default 15) times each, interleaved: GET /metrics (wall time; CPU of
// serve and its children over the scrape) and `node bin/nsm ls > /dev/null` (wall time; CPU
// from this process's cutime+cstime once it is reaped). Medians.
// Load: --procs (default 2000) extra processes in --namespaces (default 300) new namespaces
// (unshare(1)), stopped again by the process groups this script made. Root only for the load.
// Run it alone: flock /tmp/nsm-hostwide.lock node bench/serve.mjs
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoad, stopLoad } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nsm = join(root, 'bin/nsm');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const IDLE_SECS = opt('--idle-secs', 30);
const RUNS = opt('--runs', 15);
const PROCS = opt('--procs', 2000);
const NAMESPACES = opt('--namespaces', 300);
const TICK = 100; // sysconf(_SC_CLK_TCK) on Linux
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime+stime of `pid`, plus reaped children (cutime+cstime) and live children so far. */
function cpuTicks(pid) {
  const f = statFields(pid);
  let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  let kids = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
  } catch {
    // none
  }
  for (const kid of kids) {
    try {
      const k = statFields(kid);
      ticks += Number(k[11]) + Number(k[12]) + Number(k[13]) + Number(k[14]);
    } catch {
      // reaped meanwhile: counted in cutime next time
    }
  }
  return ticks;
}

/** VmRSS of the live children of `pid` (the monitor's helper), in KiB. */
function childrenRssKiB(pid) {
  let kids = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
  } catch {
    // none
  }
  let sum = 0;
  for (const kid of kids) {
    try {
      sum += memKiB(kid, 'VmRSS');
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}

/** Reaped children's CPU of this process, in ticks. */
const ownChildrenTicks = () => {
  const f = statFields(process.pid);
  return Number(f[13]) + Number(f[14]);
};

function memKiB(pid, field) {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function fetch(port, path) {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

async function startServe(stateDir) {
  const port = await freePort();
  const child = spawn(process.execPath, [nsm, 'serve', '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NSM_STATE_DIR: stateDir } });
  const exited = new Promise((r) => child.once('exit', r));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(port, '/healthz')).status === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error('nsm serve did not come up in 30 s');
    await sleep(100);
  }
  return { child, port, stop: async () => (child.kill('SIGTERM'), exited) };
}

async function idle(serve) {
  await sleep(2000);
  const before = cpuTicks(serve.child.pid);
  const t0 = Date.now();
  await sleep(IDLE_SECS * 1000);
  const ticks = cpuTicks(serve.child.pid) - before;
  const secs = (Date.now() - t0) / 1000;
  return { secs, pct: (100 * ticks) / TICK / secs, ticks, rss: memKiB(serve.child.pid, 'VmRSS'), hwm: memKiB(serve.child.pid, 'VmHWM'), kids: childrenRssKiB(serve.child.pid) };
}

async function scrapeVsLs(serve, stateDir) {
  const scrape = { wall: [], cpu: 0 };
  const ls = { wall: [], cpu: 0 };
  await fetch(serve.port, '/metrics'); // warm
  spawnSync(process.execPath, [nsm, 'ls'], { stdio: 'ignore' });
  for (let i = 0; i < RUNS; i++) {
    let c0 = cpuTicks(serve.child.pid);
    let t0 = process.hrtime.bigint();
    const r = await fetch(serve.port, '/metrics');
    if (r.status !== 200) throw new Error(`scrape: ${r.status} ${r.body}`);
    scrape.wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    scrape.cpu += cpuTicks(serve.child.pid) - c0;
    c0 = ownChildrenTicks();
    t0 = process.hrtime.bigint();
    const l = spawnSync(process.execPath, [nsm, 'ls'], { stdio: 'ignore', env: { ...process.env, NSM_STATE_DIR: stateDir } });
    if (l.status !== 0) throw new Error('nsm ls failed');
    ls.wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    ls.cpu += ownChildrenTicks() - c0;
  }
  const ms = (ticks) => ((ticks / RUNS) * 1000) / TICK;
  return { scrape: { wall: median(scrape.wall), cpuMs: ms(scrape.cpu) }, ls: { wall: median(ls.wall), cpuMs: ms(ls.cpu) } };
}


const processes = () => spawnSync('sh', ['-c', 'ls -d /proc/[0-9]* | wc -l'], { encoding: 'utf8' }).stdout.trim();
const stateDir = mkdtempSync(join(tmpdir(), 'nsm-serve-bench-'));
let serve;
let leaders = [];
try {
  console.log(`## nsm serve (bench/serve.mjs)\n`);
  console.log(`Host: ${cpus().length} CPUs, kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}, uid ${process.geteuid()}; /proc/loadavg at start: ${readFileSync('/proc/loadavg', 'utf8').trim()}\n`);
  serve = await startServe(stateDir);
  const i = await idle(serve);
  console.log(`Idle ${i.secs.toFixed(1)} s (no scrapes, ${processes()} processes): CPU ${i.pct.toFixed(2)}% of one core (${i.ticks} ticks); RSS ${(i.rss / 1024).toFixed(1)} MiB (peak ${(i.hwm / 1024).toFixed(1)} MiB), its helper processes ${(i.kids / 1024).toFixed(1)} MiB; /proc/loadavg now: ${readFileSync('/proc/loadavg', 'utf8').trim()}\n`);
  console.log(`| host | processes | scrape wall ms | scrape CPU ms | nsm ls wall ms | nsm ls CPU ms | RSS after, MiB |`);
  console.log(`|---|---:|---:|---:|---:|---:|---:|`);
  const row = (label, r) =>
    console.log(`| ${label} | ${processes()} | ${r.scrape.wall.toFixed(1)} | ${r.scrape.cpuMs.toFixed(1)} | ${r.ls.wall.toFixed(1)} | ${r.ls.cpuMs.toFixed(1)} | ${(memKiB(serve.child.pid, 'VmRSS') / 1024).toFixed(1)} |`);
  row('as it is', await scrapeVsLs(serve, stateDir));
  if (!args.includes('--skip-load') && process.geteuid() === 0) {
    leaders = await startLoad(PROCS, NAMESPACES);
    await sleep(6000); // let the monitor's rescan see them
    row(`+${PROCS} processes in ${NAMESPACES} namespaces`, await scrapeVsLs(serve, stateDir));
  }
  console.log(`\n(medians of ${RUNS} runs; CPU: mean per run, clock ticks of ${1000 / TICK} ms)`);
} finally {
  await stopLoad(leaders);
  await serve?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
