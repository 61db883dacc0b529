#!/usr/bin/env node
/**
 * bench/monitor: how many short-lived namespaces `nsm monitor` reports, and at what CPU.
 *
 *   node bench/monitor/run.mjs [--runs N] [--count N] [--no-idle] [--idle-secs S] [--modes a,b,...]
 *                              [--idle-modes a,b,...] [--idle-runs N] [--wait-quiet PIDS]
 *
 * For each mode, start the monitor (`--json -t net --baseline`), wait for its baseline,
 * run the churn (churn.mjs: COUNT namespaces living ~10 ms, then COUNT living ~100 ms,
 * 4 at a time), then stop it with SIGINT (its final rescan confirms the last GONEs) and
 * match its NEW/GONE records to the churn by inode and pid. Modes:
 *   events      root, process events connector
 *   poll250     root, --poll (process events off; default interval 250 ms)
 *   poll50      root, --poll --interval 50
 *   nobody      as uid 65534 (the real fallback, default interval), churn of that user's own (unshare -U -n)
 *   original    original.sh: diff-walk /proc once a second (the original tool's approach)
 * CPU is the monitor's utime+stime plus its children's (the rescans, reaped, and poll
 * mode's pidtick helper, alive), from /proc/PID/stat, over the churn, as % of one core. Idle: the monitor, all types, for
 * --idle-secs (default 30) with no churn of ours, in each of --idle-modes (default
 * events,poll250,nobody), one after the other, --idle-runs times (default 1). With
 * --wait-quiet PIDS, each run waits first for a quiet window: fewer than PIDS pids handed
 * out on the host in 10 s (checked every 40 s).
 * Load (issue 10 §5), with --rates R1,R2,... (e.g. 500,1900): for each rate and each of
 * --rate-modes (default events,poll250), the monitor (`--json -t net --baseline`) watches
 * burst.c start `unshare -n true` R times a second for --rate-secs (default 10) seconds
 * (namespaces that live well under a millisecond; `-- CMD` lifetimes with --rate-cmd, e.g.
 * "unshare -n sleep 0.01"; with --rate-type TYPE the monitor watches that type instead of
 * net: `--rate-cmd 'unshare -u true' --rate-type uts` reaches rates that making network
 * namespaces cannot on a small machine), and is stopped with SIGINT 1 s after. seen/created: NEW records
 * whose pid is one of the children that succeeded. Also the counts the monitor itself gave
 * (summary: lost, unread, missedNew, missedGone) and, per rate, how long `-d 8` ran while
 * the burst went on (spawn to exit, as time(1) would; and from its mode record).
 * Prints a Markdown report.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nsm = join(here, '..', '..', 'bin', 'nsm');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 3));
const COUNT = Number(opt('--count', 200));
const IDLE_SECS = Number(opt('--idle-secs', 30));
const MODES = opt('--modes', 'events,poll250,nobody,original').split(',');
const IDLE_MODES = opt('--idle-modes', 'events,poll250,nobody').split(',');
const IDLE_RUNS = Number(opt('--idle-runs', 1));
const WAIT_QUIET = opt('--wait-quiet', undefined);
const DEBUG = args.includes('--debug');
const RATES = opt('--rates', '').split(',').filter(Boolean).map(Number);
const RATE_SECS = Number(opt('--rate-secs', 10));
const RATE_MODES = opt('--rate-modes', 'events,poll250').split(',');
// `--rate-cmd nsone`: bench/monitor/nsone.c (a uts namespace, static: the highest rate; with --rate-type uts).
const RATE_CMD = opt('--rate-cmd', 'unshare -n true').split(' ');
// The type the load runs watch: the type RATE_CMD makes (e.g. --rate-cmd 'unshare -u true' --rate-type uts).
const RATE_TYPE = opt('--rate-type', 'net');
const TICK = 100; // sysconf(_SC_CLK_TCK) on Linux

const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * utime+stime (own) and, as children, cutime+cstime (reaped children: the rescans) plus
 * the CPU so far of live children (poll mode's pidtick helper, a rescan under way).
 */
function cpuTicks(pid) {
  const f = statFields(pid);
  let children = Number(f[13]) + Number(f[14]);
  let kids = [];
  try {
    kids = readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(' ').filter(Boolean));
  } catch {
    // gone
  }
  for (const kid of kids) {
    try {
      const k = statFields(kid);
      children += Number(k[11]) + Number(k[12]) + Number(k[13]) + Number(k[14]);
    } catch {
      // reaped meanwhile: in cutime next time
    }
  }
  return { own: Number(f[11]) + Number(f[12]), children };
}

function runProc(cmd, argv, { onLine } = {}) {
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  let err = '';
  child.stdout.on('data', (b) => {
    buf += b;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine?.(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr.on('data', (b) => (err += b));
  const done = new Promise((resolve) => child.on('close', (status, signal) => resolve({ status, signal, stderr: err })));
  return { child, done };
}

/** Start a monitor; resolves once it has printed its baseline (so churn starts after its first scan). */
async function startMonitor(mode, type = 'net') {
  const events = [];
  let cmd;
  let argv;
  let ready;
  const readyP = new Promise((r) => (ready = r));
  if (mode === 'original') {
    cmd = join(here, 'original.sh');
    argv = ['1'];
  } else {
    const flags = ['monitor', '--json', '-t', type, '--baseline'];
    if (mode === 'poll250') flags.push('--poll');
    if (mode === 'poll50') flags.push('--poll', '--interval', '50');
    cmd = mode === 'nobody' ? NOBODY[0] : process.execPath;
    argv = mode === 'nobody' ? [...NOBODY.slice(1), process.execPath, nsm, ...flags] : [nsm, ...flags];
  }
  const p = runProc(cmd, argv, {
    onLine: (line) => {
      if (mode === 'original') {
        const [t, kind, ino] = line.split(' ');
        events.push({ kind: kind === 'NEW' ? 'ns-new' : 'ns-gone', time: Number(t), inode: Number(ino) });
        return;
      }
      const e = JSON.parse(line);
      e.time = Date.parse(e.time);
      events.push(e);
      if (e.kind === 'baseline') ready();
    },
  });
  // The original script prints nothing at start: its first walk takes well under a second.
  if (mode === 'original') setTimeout(ready, 1500);
  await Promise.race([readyP, p.done.then((r) => Promise.reject(new Error(`monitor exited early: ${r.stderr}`)))]);
  // For `nobody`, the pid to read CPU from is the node process under setpriv (setpriv execs it: same pid).
  // bash waits out a foreground child on SIGINT and carries on when the child did not die of
  // it, so the original script gets SIGTERM; nsm gets SIGINT, as from Ctrl-C.
  return { pid: p.child.pid, events, stop: async () => (p.child.kill(mode === 'original' ? 'SIGTERM' : 'SIGINT'), p.done) };
}

async function churn(group, count, lifetime, user) {
  const records = [];
  const argv = [join(here, 'churn.mjs'), group, String(count), String(lifetime), '4'];
  if (user) argv.push('--user');
  const p = user ? runProc(NOBODY[0], [...NOBODY.slice(1), process.execPath, ...argv], { onLine: (l) => records.push(JSON.parse(l)) })
    : runProc(process.execPath, argv, { onLine: (l) => records.push(JSON.parse(l)) });
  const r = await p.done;
  if (r.status !== 0) throw new Error(`churn failed: ${r.stderr}`);
  return records;
}

/**
 * Match churn records to NEW/GONE events. nsfs inode numbers are reused, so a record
 * matches a NEW with its inode and, where the monitor gives one, its pid, seen within the
 * record's lifetime; then the first unused GONE of that inode after that NEW.
 */
function match(records, events) {
  const used = new Set();
  let news = 0;
  let gones = 0;
  const lifetimes = [];
  for (const r of [...records].sort((a, b) => a.start - b.start)) {
    const n = events.find((e, i) => !used.has(i) && e.kind === 'ns-new' && e.inode === r.inode && (e.pid === undefined || e.pid === r.pid) && e.time >= r.start - 5 && e.time <= r.end + 1500);
    if (!n) {
      if (DEBUG) console.error('miss', JSON.stringify(r), JSON.stringify(events.filter((e) => e.inode === r.inode || e.pid === r.pid)));
      continue;
    }
    used.add(events.indexOf(n));
    news++;
    const gi = events.findIndex((e, i) => !used.has(i) && e.kind === 'ns-gone' && e.inode === r.inode && e.time >= n.time);
    if (gi < 0) continue;
    used.add(gi);
    gones++;
    if (events[gi].lifetimeMs !== undefined) lifetimes.push(events[gi].lifetimeMs);
  }
  return { news, gones, lifetimes };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function benchMode(mode) {
  const mon = await startMonitor(mode);
  const user = mode === 'nobody';
  const before = cpuTicks(mon.pid);
  const t0 = Date.now();
  const fast = await churn('10ms', COUNT, 10, user);
  const slow = await churn('100ms', COUNT, 100, user);
  const churnMs = Date.now() - t0;
  // Let the last GONEs be confirmed (mode 'original': let its next walk see them).
  await sleep(mode === 'original' ? 1500 : 500);
  const after = cpuTicks(mon.pid);
  const wall = Date.now() - t0;
  await mon.stop();
  const cpuPct = (ticks) => (100 * ticks) / TICK / (wall / 1000);
  const ownTicks = after.own - before.own;
  const childTicks = after.children - before.children;
  return {
    mode,
    churnMs,
    fast: { n: fast.length, ...match(fast, mon.events) },
    slow: { n: slow.length, ...match(slow, mon.events) },
    cpu: cpuPct(ownTicks + childTicks),
    cpuOwn: cpuPct(ownTicks),
    overruns: mon.events.filter((e) => e.kind === 'overrun').length,
  };
}

async function idle(mode) {
  const mon = await startMonitorAll(mode);
  await sleep(1000);
  const before = cpuTicks(mon.pid);
  const t0 = Date.now();
  const load0 = loadavg()[0];
  const pid0 = lastPid();
  await sleep(IDLE_SECS * 1000);
  const after = cpuTicks(mon.pid);
  const wall = Date.now() - t0;
  const load1 = loadavg()[0];
  const forks = pidsBetween(pid0, lastPid()) / (wall / 1000);
  await mon.stop();
  const ticks = after.own + after.children - before.own - before.children;
  return { secs: wall / 1000, pct: (100 * ticks) / TICK / (wall / 1000), ticks, load: [load0, load1], forks, events: mon.events.filter((e) => e.kind.startsWith('ns-')).length };
}

const lastPid = () => Number(readFileSync('/proc/loadavg', 'utf8').trim().split(' ')[4]);

/** Processes and threads created between two looks at the last pid (once past pid_max the kernel wraps to 300, kernel/pid.c RESERVED_PIDS). */
function pidsBetween(a, b) {
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  return b >= a ? b - a : pidMax - a + b - 300;
}

/** Wait until fewer than `limit` pids are handed out in 10 s. */
async function waitQuiet(limit) {
  for (;;) {
    const a = lastPid();
    await sleep(10_000);
    const n = pidsBetween(a, lastPid());
    if (n < limit) return n;
    await sleep(30_000);
  }
}

async function startMonitorAll(mode) {
  let ready;
  const readyP = new Promise((r) => (ready = r));
  const events = [];
  const flags = ['monitor', '--json', '--baseline', ...(mode === 'poll250' ? ['--poll'] : [])];
  const [cmd, ...argv] = mode === 'nobody' ? [...NOBODY, process.execPath, nsm, ...flags] : [process.execPath, nsm, ...flags];
  const p = runProc(cmd, argv, {
    onLine: (l) => {
      const e = JSON.parse(l);
      events.push(e);
      if (e.kind === 'baseline') ready();
    },
  });
  await readyP;
  return { pid: p.child.pid, events, stop: async () => (p.child.kill('SIGINT'), p.done) };
}

const pct = (a, n) => (n === 0 ? 'n/a' : `${((100 * a) / n).toFixed(1)}%`);
const procs = () => readFileSync('/proc/loadavg', 'utf8').trim();

/** burst.c, compiled once into a temporary directory. */
let burstBin;
function burstPath() {
  if (burstBin) return burstBin;
  const dir = mkdtempSync(join(tmpdir(), 'nsm-burst-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  burstBin = join(dir, 'burst');
  const r = spawnSync('cc', ['-O2', '-o', burstBin, join(here, 'burst.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc burst.c: ${r.stderr}`);
  return burstBin;
}

/** nsone.c, compiled (static) once into burst's temporary directory. */
let nsoneBin;
function rateCommand() {
  if (RATE_CMD.join(' ') !== 'nsone') return RATE_CMD;
  if (!nsoneBin) {
    nsoneBin = join(dirname(burstPath()), 'nsone');
    const r = spawnSync('cc', ['-O2', '-static', '-o', nsoneBin, join(here, 'nsone.c')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cc nsone.c: ${r.stderr}`);
  }
  return [nsoneBin];
}

/** Run burst.c: the pids of the children that made their namespace, and the wall time. */
async function burst(rate, secs, onChild) {
  const pids = new Set();
  const t0 = Date.now();
  const p = runProc(burstPath(), [String(rate), String(secs), '64', '--', ...rateCommand()], {
    onLine: (l) => {
      const [pid, status] = l.split(' ').map(Number);
      if (status === 0) pids.add(pid);
    },
  });
  onChild?.(p.child);
  const r = await p.done;
  if (r.status !== 0 && r.signal === null) throw new Error(`burst failed: ${r.stderr}`);
  return { pids, wallMs: Date.now() - t0 };
}

/** One monitor (`-t RATE_TYPE`, JSON) during one burst: seen/created and the monitor's own counts. */
async function rateRun(mode, rate) {
  const mon = await startMonitor(mode, RATE_TYPE);
  const b = await burst(rate, RATE_SECS);
  await sleep(1000);
  await mon.stop();
  const seen = mon.events.filter((e) => e.kind === 'ns-new' && b.pids.has(e.pid)).length;
  const summary = mon.events.find((e) => e.kind === 'summary') ?? {};
  return { created: b.pids.size, seen, rate: b.pids.size / (b.wallMs / 1000), summary, lostRecords: mon.events.filter((e) => e.kind === 'lost').length };
}

/**
 * `nsm monitor -d SECS` (all types) during a burst: how long it really ran, as time(1) would
 * (from just before the spawn to its exit, as reaped), and from its mode record's time (since
 * this change: nsm's process start; before: after Node's start-up) to its exit. The burst
 * starts first (1 s ahead), so that nsm's own start-up happens under it.
 */
async function durationRun(rate, secs) {
  let modeAt;
  let child;
  const b = burst(rate, secs + 3, (c) => (child = c));
  await sleep(1000);
  const spawnedAt = Date.now();
  const p = runProc(process.execPath, [nsm, 'monitor', '--json', '-d', String(secs)], {
    onLine: (l) => {
      const e = JSON.parse(l);
      if (e.kind === 'mode') modeAt = Date.parse(e.time);
    },
  });
  const exitedAt = await new Promise((resolve) => p.child.on('exit', () => resolve(Date.now())));
  await p.done;
  // The burst's children are waited for by burst itself; SIGTERM ends it between forks.
  child.kill('SIGTERM');
  await b;
  return { ran: (exitedAt - spawnedAt) / 1000, fromMode: (exitedAt - modeAt) / 1000 };
}

if (RATES.length > 0) {
  console.log(`## monitor under load (bench/monitor/run.mjs --rates ${RATES.join(',')})\n`);
  console.log(`Host: ${(await import('node:os')).cpus().length} CPUs, kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}; /proc/loadavg at start: ${procs()}; churn: \`${RATE_CMD.join(' ')}\`, ${RATE_SECS} s\n`);
  console.log(`| run | mode | asked /s | made /s | created | seen (NEW) | seen/created | lost | unread | missedNew | missedGone | LOST records |`);
  console.log(`|---|---|---|---|---|---|---|---|---|---|---|---|`);
  for (let run = 1; run <= RUNS; run++) {
    for (const rate of RATES) {
      for (const mode of RATE_MODES) {
        const r = await rateRun(mode, rate);
        const s = r.summary;
        console.log(`| ${run} | ${mode} | ${rate} | ${r.rate.toFixed(0)} | ${r.created} | ${r.seen} | ${pct(r.seen, r.created)} | ${s.lost} | ${s.unread} | ${s.missedNew} | ${s.missedGone} | ${r.lostRecords} |`);
      }
    }
  }
  console.log(`\n\`nsm monitor -d 8\` (events, all types) during a burst at each rate:\n`);
  console.log(`| run | asked /s | ran (spawn to exit, as time(1)) | the mode record's time to exit |`);
  console.log(`|---|---|---|---|`);
  for (let run = 1; run <= RUNS; run++) {
    for (const rate of RATES) {
      const d = await durationRun(rate, 8);
      console.log(`| ${run} | ${rate} | ${d.ran.toFixed(2)} s | ${d.fromMode.toFixed(2)} s |`);
    }
  }
  console.log(`\n/proc/loadavg at end: ${procs()}\n`);
  process.exit(0);
}

console.log(`## monitor (bench/monitor/run.mjs)\n`);
console.log(`Host: ${process.arch}, ${(await import('node:os')).cpus().length} CPUs, kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}; /proc/loadavg at start: ${procs()}\n`);
console.log(`| run | mode | 10 ms NEW | 10 ms GONE | 100 ms NEW | 100 ms GONE | median lifetime 10/100 ms group | churn wall | CPU (nsm + helpers) | overruns |`);
console.log(`|---|---|---|---|---|---|---|---|---|---|`);
for (let run = 1; run <= RUNS; run++) {
  for (const mode of MODES) {
    const r = await benchMode(mode);
    const life = `${median(r.fast.lifetimes).toFixed(1)} / ${median(r.slow.lifetimes).toFixed(1)} ms`;
    console.log(
      `| ${run} | ${mode} | ${pct(r.fast.news, r.fast.n)} | ${pct(r.fast.gones, r.fast.n)} | ${pct(r.slow.news, r.slow.n)} | ${pct(r.slow.gones, r.slow.n)} | ${mode === 'original' ? '-' : life} | ${(r.churnMs / 1000).toFixed(1)} s | ${r.cpu.toFixed(1)}% (${r.cpuOwn.toFixed(1)}% node) | ${r.overruns} |`,
    );
  }
}
console.log(`\n/proc/loadavg at end of churn runs: ${procs()}\n`);
if (!args.includes('--no-idle')) {
  console.log(`Idle (all types, no churn of ours), ${IDLE_SECS} s per mode:\n`);
  console.log(`| time | mode | others' activity in the window | load avg | nsm monitor CPU |`);
  console.log(`|---|---|---|---|---|`);
  for (let run = 1; run <= IDLE_RUNS; run++) {
    if (WAIT_QUIET !== undefined) await waitQuiet(Number(WAIT_QUIET));
    for (const mode of IDLE_MODES) {
      const at = new Date().toISOString().slice(11, 19);
      const r = await idle(mode);
      console.log(`| ${at} | ${mode} | ${r.forks.toFixed(1)} processes+threads/s, ${r.events} namespace events | ${r.load[0].toFixed(2)} -> ${r.load[1].toFixed(2)} | ${r.pct.toFixed(2)}% (${r.ticks} ticks) |`);
    }
  }
}
