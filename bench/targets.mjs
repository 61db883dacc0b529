// nsm exec into foreign targets against the tools it replaces (issue 12 §6), paired in one
// run: `nsm exec PID true` vs `nsenter -t PID -a true`, and `nsm exec netns:X true` vs
// `ip netns exec X true`, with `node -e 0` as the floor (the bar: both ≤ node + 12 ms).
// The target is an `unshare -n -u -i sleep` and an `ip netns add` name made here, killed and
// deleted at the end. Root only. Usage: node bench/targets.mjs [--runs N]
import { spawn, spawnSync } from 'node:child_process';
import { NSM, measure, requireRoot, runsOption } from './lib.mjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

requireRoot('bench/targets.mjs', 'unshare -n and ip netns add need it');
const runs = runsOption(process.argv.slice(2), 31);
const stateDir = mkdtempSync(join(tmpdir(), 'nsm-bench-targets-'));
const env = { ...process.env, NSM_STATE_DIR: stateDir, NO_COLOR: '1' };
const netns = `nsmbench${process.pid}`;
const target = spawn('unshare', ['-n', '-u', '-i', 'sleep', '600'], { stdio: 'ignore' });

/** Wall-clock ms of argv run to completion; throws if it fails. */
function time(argv) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}`);
  return ms;
}

try {
  if (spawnSync('ip', ['netns', 'add', netns]).status !== 0) throw new Error(`ip netns add ${netns} failed`);
  // Wait until the target has unshared (its comm becomes sleep).
  for (let i = 0; i < 200 && spawnSync('cat', [`/proc/${target.pid}/comm`], { encoding: 'utf8' }).stdout.trim() !== 'sleep'; i++) spawnSync('sleep', ['0.01']);
  const pid = String(target.pid);
  const node = process.execPath;
  const { med } = measure(
    {
      'node -e 0': () => time([node, '-e', '0']),
      [`nsm exec PID true`]: () => time([node, NSM, 'exec', pid, 'true']),
      [`nsenter -t PID -a true`]: () => time(['nsenter', '-t', pid, '-a', 'true']),
      [`nsm exec netns:X true`]: () => time([node, NSM, 'exec', `netns:${netns}`, 'true']),
      [`ip netns exec X true`]: () => time(['ip', 'netns', 'exec', netns, 'true']),
    },
    runs,
  );
  const floor = med['node -e 0'];
  console.log(`runs: ${runs} (medians, ms)`);
  for (const [k, v] of Object.entries(med)) console.log(`${k.padEnd(26)} ${v.toFixed(1).padStart(7)}${k === 'node -e 0' ? '' : `   node +${(v - floor).toFixed(1)}`}`);
  const ratio = (a, b) => (med[a] / med[b]).toFixed(2);
  console.log(`nsm exec PID / nsenter -a:      ${ratio('nsm exec PID true', 'nsenter -t PID -a true')}`);
  console.log(`nsm exec netns: / ip netns exec: ${ratio('nsm exec netns:X true', 'ip netns exec X true')}`);
  for (const k of ['nsm exec PID true', 'nsm exec netns:X true']) console.log(`bar (≤ node + 12 ms) ${k}: ${med[k] - floor <= 12 ? 'met' : 'NOT met'} (node +${(med[k] - floor).toFixed(1)})`);
} finally {
  target.kill('SIGKILL');
  spawnSync('ip', ['netns', 'delete', netns]);
  rmSync(stateDir, { recursive: true, force: true });
}
