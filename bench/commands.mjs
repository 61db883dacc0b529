#!/usr/bin/env node
// Every command's start-up against Node's own (issue 11's budgets): each round runs
// `node -e 0` and then each nsm command once, as whole processes; reported per command are
// the median wall-clock time and the median of the per-round differences to `node -e 0`
// ("paired"), which load from elsewhere disturbs least. Root (create/destroy make real
// environments in a private state directory, removed at the end).
//
//   env -u NODE_EXTRA_CA_CERTS node bench/commands.mjs [--runs N]
import { spawnSync } from 'node:child_process';
import { benchSession, median, nsm, requireRoot, runsOption, timed } from './lib.mjs';

requireRoot('bench/commands.mjs', 'create and destroy make real environments');
const runs = runsOption(process.argv.slice(2), 21);
const s = benchSession('nsm-bench-cmd');
const run = (argv) => s.run(argv);
const quiet = (argv) => spawnSync(argv[0], argv.slice(1), { env: s.env, stdio: 'ignore' });

try {
  const home = s.fresh();
  run(nsm('create', home, '-t', 'uts,net'));
  const holder = JSON.parse(run(nsm('ls', '--json'))).environments.find((e) => e.name === home).pid;
  // destroy is timed on an environment made untimed just before it, in the same round.
  let doomed;
  const cases = {
    'node -e 0': () => timed(() => quiet([process.execPath, '-e', '0'])),
    'nsm --version': () => timed(() => run(nsm('--version'))),
    'nsm help': () => timed(() => run(nsm('help'))),
    'nsm ls': () => timed(() => run(nsm('ls'))),
    'nsm inspect PID': () => timed(() => run(nsm('inspect', String(holder)))),
    'nsm ps -t net': () => timed(() => run(nsm('ps', '-t', 'net'))),
    'nsm tree': () => timed(() => run(nsm('tree'))),
    'nsm gc -n': () => timed(() => run(nsm('gc', '-n'))),
    'nsm exec NAME true': () => timed(() => run(nsm('exec', home, 'true'))),
    'nsm create NAME': () => {
      doomed = s.fresh();
      return timed(() => run(nsm('create', doomed, '-t', 'uts,net')));
    },
    'nsm destroy NAME': () => timed(() => run(nsm('destroy', doomed))),
  };
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const fn of Object.values(cases)) fn(); // warm-up round
  for (let i = 0; i < runs; i++) for (const [k, fn] of Object.entries(cases)) times[k].push(fn());
  const base = times['node -e 0'];
  console.log(`## nsm commands against node -e 0: median of ${runs} rounds (load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  console.log('| command | median ms | − node -e 0 (paired) |');
  console.log('|---|---:|---:|');
  for (const [k, t] of Object.entries(times)) {
    const paired = median(t.map((x, i) => x - base[i]));
    console.log(`| ${k} | ${median(t).toFixed(1)} | ${k === 'node -e 0' ? '—' : paired.toFixed(1)} |`);
  }
} finally {
  s.cleanup();
}
