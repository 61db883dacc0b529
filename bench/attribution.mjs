#!/usr/bin/env node
// Cost of attribution: `nsm ls` (default columns, NAME included) against `lsns` on a host
// with N processes, K of them "containers" (own net, uts and ipc namespaces, each in a
// cgroup named as docker's systemd driver names it: system.slice/docker-<id>.scope).
// Also times attribute() alone, in-process, on a fresh scan each run.
//
//   node bench/attribution.mjs [--procs 2000] [--containers 200] [--runs 15] [--baseline OTHER/bin/nsm]
//
// --baseline times another build's `nsm ls` alongside (e.g. one from before attribution).
// Commands run interleaved (lsns, nsm, baseline, lsns, ...) so load from elsewhere on the
// machine falls on all of them alike.
// Needs root for the containers (it creates cgroups); run `npm run -s build` first.
// Removes every process and cgroup it made, also on failure or Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const PROCS = opt('procs', 2000);
const CONTAINERS = process.getuid() === 0 ? opt('containers', 200) : 0;
const RUNS = opt('runs', 15);
const BASELINE = args.includes('--baseline') ? args[args.indexOf('--baseline') + 1] : undefined;
const NSM = fileURLToPath(new URL('../bin/nsm', import.meta.url));
const DIST = new URL('../dist/', import.meta.url);

const V2 = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => existsSync(`${d}/cgroup.controllers`));
const TOP = `${V2}/nsm-bench-${process.pid}`;
const children = [];
const cgroups = [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function cleanUp() {
  await Promise.all(
    children.map((c) => new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', resolve);
      c.kill('SIGKILL');
    })),
  );
  for (const d of cgroups.reverse()) {
    for (let i = 0; i < 100; i++) {
      try {
        rmdirSync(d);
        break;
      } catch (err) {
        if (err.code === 'ENOENT') break;
        await sleep(20);
      }
    }
  }
}

process.on('SIGINT', () => cleanUp().then(() => process.exit(130)));

async function setUp() {
  const selfNet = readlinkSync('/proc/self/ns/net');
  if (CONTAINERS > 0) {
    mkdirSync(TOP);
    cgroups.push(TOP);
    mkdirSync(`${TOP}/system.slice`);
    cgroups.push(`${TOP}/system.slice`);
  }
  for (let i = 0; i < CONTAINERS; i++) {
    const child = spawn('unshare', ['--net', '--uts', '--ipc', 'sleep', '3600'], { stdio: 'ignore' });
    children.push(child);
    const dir = `${TOP}/system.slice/docker-${randomBytes(32).toString('hex')}.scope`;
    mkdirSync(dir);
    cgroups.push(dir);
    // Wait until unshare has exec'd sleep in the new namespaces, then move it.
    for (let t = 0; ; t++) {
      try {
        if (readlinkSync(`/proc/${child.pid}/ns/net`) !== selfNet) break;
      } catch {}
      if (t > 500) throw new Error('unshare did not start');
      await sleep(2);
    }
    writeFileSync(`${dir}/cgroup.procs`, String(child.pid));
  }
  for (let i = CONTAINERS; i < PROCS; i++) children.push(spawn('sleep', ['3600'], { stdio: 'ignore' }));
  await sleep(500);
}

function timeCommand(argv) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main() {
  await setUp();
  const hostProcs = spawnSync('sh', ['-c', 'ls -d /proc/[0-9]* | wc -l'], { encoding: 'utf8' }).stdout.trim();
  const commands = { lsns: ['lsns'], 'nsm ls': [NSM, 'ls'] };
  if (BASELINE) commands.baseline = [BASELINE, 'ls'];
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (const argv of Object.values(commands)) timeCommand(argv); // warm-up
  for (let r = 0; r < RUNS; r++) for (const [k, argv] of Object.entries(commands)) times[k].push(timeCommand(argv));

  const { scanHostSync } = await import(new URL('core/scan.js', DIST));
  const { attribute } = await import(new URL('core/attribution.js', DIST));
  const attributeMs = [];
  let owned = 0;
  for (let r = 0; r < RUNS; r++) {
    const scan = scanHostSync();
    const t0 = process.hrtime.bigint();
    attribute(scan);
    attributeMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    owned = scan.namespaces.filter((n) => n.owners.length > 0).length;
  }

  const lsns = median(times.lsns);
  const nsm = median(times['nsm ls']);
  console.log(`host: ${hostProcs} processes (${CONTAINERS} containers, ${owned} attributed namespaces); median of ${RUNS} runs`);
  console.log(`lsns                 ${lsns.toFixed(1)} ms`);
  console.log(`nsm ls (with NAME)   ${nsm.toFixed(1)} ms   ratio ${(nsm / lsns).toFixed(2)}x lsns`);
  if (BASELINE) {
    const base = median(times.baseline);
    console.log(`baseline nsm ls      ${base.toFixed(1)} ms   ratio ${(base / lsns).toFixed(2)}x lsns   (${BASELINE})`);
  }
  console.log(`attribute() alone    ${median(attributeMs).toFixed(2)} ms`);
}

try {
  await main();
} finally {
  await cleanUp();
}
