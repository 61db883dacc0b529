// What the whole-process benches share (bench/lifecycle.mjs, bench/netlimits.mjs): a private
// state directory, uniquely named environments, timing a command as a whole process, and
// interleaved runs reported as medians.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NSM = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin/nsm');

/** `--runs N` (at least 5) from the command line, else `dflt`. */
export function runsOption(args, dflt) {
  const i = args.indexOf('--runs');
  return Math.max(5, (i >= 0 ? Number(args[i + 1]) : dflt) || dflt);
}

/** Exit 2 with a one-line reason unless running as root. */
export function requireRoot(script, why) {
  if (process.geteuid() === 0) return;
  console.error(`${script} needs root (${why})`);
  process.exit(2);
}

/** argv of `nsm ARGS` run by this Node. */
export const nsm = (...a) => [process.execPath, NSM, ...a];

/**
 * A bench's private world: its own NSM_STATE_DIR, names `PREFIX-<pid>-N`, run() that throws on
 * a failed command, and cleanup() that destroys every environment and removes the directory.
 */
export function benchSession(prefixWord) {
  const stateDir = mkdtempSync(join(tmpdir(), `${prefixWord}-state-`));
  const env = { ...process.env, NSM_STATE_DIR: stateDir, NO_COLOR: '1' };
  const prefix = `${prefixWord}-${process.pid}`;
  let serial = 0;
  return {
    env,
    prefix,
    /** A new environment name. */
    fresh: () => `${prefix}-${serial++}`,
    /** How many names fresh() has handed out. */
    serial: () => serial,
    /** Run argv to completion; its stdout, or an Error with its stderr. */
    run(argv, options = {}) {
      const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
      if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
      return r.stdout;
    },
    cleanup() {
      spawnSync(process.execPath, [NSM, 'destroy', '--all'], { env, stdio: 'ignore' });
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Wall-clock milliseconds of fn(). */
export function timed(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Each case once to warm up, then `runs` rounds of every case in turn (interleaved, so that
 * load from elsewhere falls on all alike). Returns the times of each case, and their medians.
 */
export function measure(cases, runs) {
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const fn of Object.values(cases)) fn();
  for (let i = 0; i < runs; i++) for (const [k, fn] of Object.entries(cases)) times[k].push(fn());
  const med = Object.fromEntries(Object.entries(times).map(([k, t]) => [k, median(t)]));
  return { times, med };
}

/** The markdown table of `measure`'s result under `title`; `extra` adds one column (header, cell of case). */
export function printTable(title, { times, med }, extra) {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`\n## ${title} (load average ${load})`);
  console.log(`| command | median ms | min ms | max ms |${extra ? ` ${extra.header} |` : ''}`);
  console.log(`|---|---:|---:|---:|${extra ? '---:|' : ''}`);
  for (const [k, t] of Object.entries(times)) {
    console.log(`| ${k} | ${med[k].toFixed(1)} | ${Math.min(...t).toFixed(1)} | ${Math.max(...t).toFixed(1)} |${extra ? ` ${extra.cell(k)} |` : ''}`);
  }
}

/** The types bench load namespaces are made of (unshare(1)'s long flags), in turn. */
const LOAD_TYPES = ['net', 'uts', 'ipc', 'mount', 'cgroup', 'user'];

/**
 * A host with `count` more processes in `namespaces` new namespaces (bench/ls.mjs,
 * bench/serve.mjs): one shell per namespace forks the sleeps, and `wait` keeps it (the group
 * leader) alive. Returns the leaders once every one has its children; stopLoad() ends them.
 */
export async function startLoad(count, namespaces) {
  const perNs = Math.max(1, Math.round(count / namespaces));
  const leaders = [];
  for (let i = 0; i < namespaces; i++) {
    const script = `for i in $(seq ${perNs - 1}); do sleep 3600 & done; wait`;
    leaders.push(spawn('unshare', [`--${LOAD_TYPES[i % LOAD_TYPES.length]}`, 'sh', '-c', script], { stdio: 'ignore', detached: true }));
  }
  const deadline = Date.now() + 60_000;
  for (const c of leaders) {
    for (;;) {
      let n = 0;
      try {
        n = readFileSync(`/proc/${c.pid}/task/${c.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).length;
      } catch {}
      if (n >= perNs - 1) break;
      if (Date.now() > deadline) throw new Error('load did not start in 60 s');
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return leaders;
}

/** End what startLoad() started: each leader's process group (the shell and its sleeps). */
export async function stopLoad(leaders) {
  await Promise.all(
    leaders.map(
      (c) =>
        new Promise((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', resolve);
          try {
            process.kill(-c.pid, 'SIGKILL');
          } catch {
            resolve();
          }
        }),
    ),
  );
}
