#!/usr/bin/env node
// `nsm create NAME`, `nsm exec NAME -- true` or `nsm destroy NAME` of two or more builds of
// nsm, paired: A/B for work on their speed.
//
//   node bench/ab.mjs [--command create|exec|destroy|ls|version|help|inspect|ps|tree] [--runs N] [--user UID] [--userns] [--] DIR...
//
// Each DIR is a built nsm (bin/, dist/, native/build/, node_modules/): this checkout, or a
// copy of another commit (git worktree add, npm install); without any, this checkout. One round runs `node -e 0` and the
// command of every DIR, in turns (reversed every other round, so that neither side always
// goes first), each as a whole process, wall clock. create (the default) creates a fresh
// name and destroys it untimed right after; exec runs `true` in one environment per DIR,
// created untimed before the first round (default types; --userns adds a user namespace, so
// the native helper joins it); destroy destroys a name created untimed right before (and, as
// root, times `ip netns del` of a name `ip netns add` made untimed, the tool it replaces for a
// net namespace). Reported per DIR: the median, and the median of the per-round
// differences to `node -e 0` of the same round ("paired"), which noise from the rest of the
// machine disturbs least. --user UID runs everything as that user (setpriv; needs root):
// rootless, through a user namespace. Default 21 rounds after one warm-up round.
// The read-only commands run as `nsm ls`, `nsm --version`, `nsm help`, `nsm inspect PID` (the
// holder of an environment the first DIR creates untimed), `nsm ps -t net`, `nsm tree`.
//
// bench/lifecycle.mjs is the reference (issue 3 §8, against ip netns, unshare and nsenter);
// this one answers "did that change make create (exec) faster" with less noise.
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
let runs = 21;
let user;
let command = 'create';
let userns = false;
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') runs = Math.max(5, Number(args[++i]));
  else if (args[i] === '--user') user = Number(args[++i]);
  else if (args[i] === '--command') command = args[++i];
  else if (args[i] === '--userns') userns = true;
  else if (args[i] !== '--') dirs.push(resolve(args[i]));
}
// Without a DIR, this checkout alone (`npm run bench` runs every bench with no arguments).
if (dirs.length === 0) dirs.push(resolve(fileURLToPath(new URL('..', import.meta.url))));
const READ_ONLY = { ls: ['ls'], version: ['--version'], help: ['help'], inspect: ['inspect'], ps: ['ps', '-t', 'net'], tree: ['tree'] };
if (!['create', 'exec', 'destroy', ...Object.keys(READ_ONLY)].includes(command)) {
  console.error('usage: node bench/ab.mjs [--command create|exec|destroy|ls|version|help|inspect|ps|tree] [--runs N] [--user UID] [--userns] DIR...');
  process.exit(2);
}

const stateDir = mkdtempSync(join(tmpdir(), 'nsm-ab-'));
if (user !== undefined) chownSync(stateDir, user, user);
const env = { ...process.env, NSM_STATE_DIR: stateDir, NO_COLOR: '1' };
const as = (argv) => (user === undefined ? argv : ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--clear-groups', ...argv]);

function timed(argv) {
  const [cmd, ...rest] = as(argv);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, rest, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const NODE = 'node -e 0';
const IP = 'ip netns del';
const withIp = command === 'destroy' && user === undefined && process.geteuid?.() === 0;
const times = Object.fromEntries([NODE, ...(withIp ? [IP] : []), ...dirs].map((k) => [k, []]));
let serial = 0;
const nsm = (dir, ...argv) => [process.execPath, join(dir, 'bin/nsm'), ...argv];
/** exec's environment of each DIR. */
const execEnvs = new Map();
try {
  if (command === 'exec') {
    for (const dir of dirs) {
      const name = `ab${process.pid}-${serial++}`;
      timed(nsm(dir, 'create', ...(userns ? ['--user'] : []), name));
      execEnvs.set(dir, name);
    }
  }
  let readArgs = READ_ONLY[command];
  if (command === 'inspect') {
    const name = `ab${process.pid}-${serial++}`;
    timed(nsm(dirs[0], 'create', name));
    const [cmd, ...rest] = as(nsm(dirs[0], 'ls', '--json'));
    const listed = JSON.parse(spawnSync(cmd, rest, { env, encoding: 'utf8' }).stdout);
    readArgs = ['inspect', String(listed.environments.find((e) => e.name === name).pid)];
  }
  for (let round = 0; round <= runs; round++) {
    const order = round % 2 ? [...Object.keys(times)].reverse() : Object.keys(times);
    for (const k of order) {
      let ms;
      if (k === NODE) ms = timed([process.execPath, '-e', '0']);
      else if (k === IP) {
        const name = `ab${process.pid}-${serial++}`;
        timed(['ip', 'netns', 'add', name]);
        ms = timed(['ip', 'netns', 'del', name]);
      } else if (command === 'destroy') {
        const name = `ab${process.pid}-${serial++}`;
        timed(nsm(k, 'create', name));
        ms = timed(nsm(k, 'destroy', name));
      } else if (command === 'exec') ms = timed(nsm(k, 'exec', execEnvs.get(k), '--', 'true'));
      else if (readArgs) ms = timed(nsm(k, ...readArgs));
      else {
        const name = `ab${process.pid}-${serial++}`;
        ms = timed(nsm(k, 'create', name));
        timed(nsm(k, 'destroy', name));
      }
      if (round > 0) times[k].push(ms); // round 0 warms the page cache
    }
  }
} finally {
  const [cmd, ...rest] = as([process.execPath, join(dirs[0], 'bin/nsm'), 'destroy', '--all']);
  spawnSync(cmd, rest, { env, stdio: 'ignore' });
  rmSync(stateDir, { recursive: true, force: true });
}

const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const what = command === 'exec' ? `nsm exec NAME -- true${userns ? ' (environment with a user namespace)' : ''}` : command === 'create' || command === 'destroy' ? `nsm ${command}` : `nsm ${READ_ONLY[command].join(' ')}${command === 'inspect' ? ' PID' : ''}`;
console.log(`## ${what}, paired: median of ${runs} rounds${user === undefined ? '' : `, as uid ${user}`} (load average ${load})`);
console.log('| build | median ms | − node -e 0 (medians) | − node -e 0 (paired) | ÷ node -e 0 (paired) |');
console.log('|---|---:|---:|---:|---:|');
for (const [k, t] of Object.entries(times)) {
  const paired = t.map((ms, i) => ms - times[NODE][i]);
  const ratio = t.map((ms, i) => ms / times[NODE][i]);
  console.log(`| ${k} | ${median(t).toFixed(1)} | ${(median(t) - median(times[NODE])).toFixed(1)} | ${median(paired).toFixed(1)} | ${median(ratio).toFixed(2)} |`);
}
