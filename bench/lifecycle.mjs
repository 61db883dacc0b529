#!/usr/bin/env node
// Named environments against the classic tools, side by side in one run (issue 3 §8).
//
//   node bench/lifecycle.mjs [--runs N]
//
// Needs root (ip netns, unshare and nsenter of every type). Every command is timed as a
// whole process (wall clock, Node start-up included), interleaved so that noise from the
// rest of the machine hits all alike, and reported as the median of --runs runs (default
// 21, at least 5) with ratios:
//
//   node -e 0                     Node's own start-up: the floor of any Node CLI
//   create + destroy              nsm create NAME; nsm destroy NAME (default types)
//     vs ip netns add/del         one net namespace, pinned in /run/netns
//     vs unshare + kill           unshare --fork (same types) --mount-proc sleep infinity &, kill
//   create -t net + destroy       the like-for-like with ip netns
//   nsm create                    alone (target: node -e 0 + 25 ms)
//   nsm exec NAME -- true         (target: node -e 0 + 15 ms)
//     vs nsenter -t PID -a true
//   nsm exec, user namespace      an environment with a user namespace: the native join
//   holder RSS vs sleep infinity  VmRSS of nsm:holder and of a sleep, in kB
//
// Everything it creates carries the prefix nsmbench-<pid>- and is destroyed at the end.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { benchSession, measure, nsm, printTable, requireRoot, runsOption, timed } from './lib.mjs';

const RUNS = runsOption(process.argv.slice(2), 21);
requireRoot('bench/lifecycle.mjs', 'ip netns, unshare, nsenter');
const { fresh, run, prefix, cleanup } = benchSession('nsmbench');

const UNSHARE_TYPES = ['--mount', '--uts', '--ipc', '--pid', '--net', '--cgroup'];
const ourNet = spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).stdout.trim();

/** unshare --fork ... sleep infinity &, wait until the sleep is inside, kill, wait until gone. */
function unshareCycle() {
  return timed(() => {
    const r = spawnSync(
      'sh',
      [
        '-c',
        // The classic shell idiom, plus what a script must do to know the namespaces exist
        // (wait until unshare's child runs in another net namespace than ours). The sleep is
        // PID 1 of the new pid namespace, which ignores SIGTERM without a handler
        // (pid_namespaces(7)), and unshare --fork ignores SIGTERM while it waits: SIGKILL it.
        `unshare --fork ${UNSHARE_TYPES.join(' ')} --mount-proc sleep infinity & u=$!
         while :; do
           set -- $(cat /proc/$u/task/$u/children 2>/dev/null); c=$1
           n=$( [ -n "$c" ] && readlink /proc/$c/ns/net 2>/dev/null)
           [ -n "$n" ] && [ "$n" != "${ourNet}" ] && break
         done
         kill -KILL $c; wait $u 2>/dev/null; true`,
      ],
      { stdio: 'ignore' },
    );
    if (r.status !== 0) throw new Error('unshare cycle failed');
  });
}

function vmRss(pid) {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

// Long-lived environments for the exec measurements.
const execEnv = fresh();
const holderPid = JSON.parse(run(nsm('create', '--json', execEnv))).pid;
const userEnv = fresh();
run(nsm('create', '--json', '--user', userEnv));

const cases = {
  'node -e 0': () => timed(() => run([process.execPath, '-e', '0'])),
  'nsm create + destroy': () => {
    const n = fresh();
    return timed(() => {
      run(nsm('create', n));
      run(nsm('destroy', n));
    });
  },
  'ip netns add + del': () => {
    const n = fresh();
    return timed(() => {
      run(['ip', 'netns', 'add', n]);
      run(['ip', 'netns', 'del', n]);
    });
  },
  'unshare --fork + kill': unshareCycle,
  'nsm create -t net + destroy': () => {
    const n = fresh();
    return timed(() => {
      run(nsm('create', '-t', 'net', n));
      run(nsm('destroy', n));
    });
  },
  'nsm create': () => {
    const n = fresh();
    const ms = timed(() => run(nsm('create', n)));
    run(nsm('destroy', n));
    return ms;
  },
  'nsm exec -- true': () => timed(() => run(nsm('exec', execEnv, '--', 'true'))),
  'nsenter -a true': () => timed(() => run(['nsenter', '-t', String(holderPid), '-a', 'true'])),
  'nsm exec (user ns) -- true': () => timed(() => run(nsm('exec', userEnv, '--', 'true'))),
};

try {
  const result = measure(cases, RUNS);
  const { med } = result;

  const sleep = spawn('sleep', ['infinity'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
  const rss = { holder: vmRss(holderPid), sleep: vmRss(sleep.pid) };
  sleep.kill('SIGKILL');

  printTable(`nsm environments vs ip netns, unshare, nsenter: median of ${RUNS} runs`, result);
  const node = med['node -e 0'];
  const ratio = (a, b) => (med[a] / med[b]).toFixed(2);
  console.log('');
  console.log(`create+destroy / ip netns add+del       = ${ratio('nsm create + destroy', 'ip netns add + del')}`);
  console.log(`create+destroy / unshare --fork + kill  = ${ratio('nsm create + destroy', 'unshare --fork + kill')}`);
  console.log(`create -t net+destroy / ip netns add+del = ${ratio('nsm create -t net + destroy', 'ip netns add + del')}`);
  console.log(`nsm exec / nsenter -a                   = ${ratio('nsm exec -- true', 'nsenter -a true')}`);
  console.log(`nsm create - node -e 0 = ${(med['nsm create'] - node).toFixed(1)} ms (target <= 25)`);
  console.log(`nsm exec   - node -e 0 = ${(med['nsm exec -- true'] - node).toFixed(1)} ms (target <= 15)`);
  console.log(`nsm exec (user ns) - node -e 0 = ${(med['nsm exec (user ns) -- true'] - node).toFixed(1)} ms`);
  console.log(`holder VmRSS ${rss.holder} kB, sleep infinity ${rss.sleep} kB (target: holder <= 1024 kB)`);
} finally {
  cleanup();
  for (const n of spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n')) {
    const name = n.split(' ')[0];
    if (name.startsWith(prefix)) spawnSync('ip', ['netns', 'del', name]);
  }
}
