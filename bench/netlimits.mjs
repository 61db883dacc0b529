#!/usr/bin/env node
// What networking and limits cost `nsm create` (issue 6, parts 2 and 3), side by side:
//
//   node bench/netlimits.mjs [--runs N] [--nat] [--baseline OTHER/bin/nsm]
//
// --baseline also times another build's plain `nsm create` (e.g. main's) in the same rounds.
// Needs root. Every command is timed as a whole process (wall clock, Node start-up
// included), interleaved so that load from elsewhere falls on all alike; medians of --runs
// runs (default 15, at least 5):
//
//   node -e 0                       Node's own start-up
//   nsm create                      default types, nothing else
//   nsm create --veth               + a veth pair, addresses picked (rtnetlink, in-process)
//   iproute2 veth steps             what --veth does, done with `ip` instead (6 processes:
//                                   link add ... netns, addr add, link set up, and the same
//                                   three inside with ip -n), against an environment made
//                                   without --veth; for the rtnetlink-or-iproute2 choice
//   nsm create --memory --cpus --pids   + cgroups in 4 hierarchies (this host: v1)
//   nsm create --veth + limits      both
//   nsm create --veth --nat         (with --nat) + 3 iptables rules or an nft table
//   nsm destroy                     of a plain one, and of one with --veth + limits
//   nsm exec NAME -- true           plain (in-process join) vs with limits (native join)
//
// Everything it creates is named nsmnl-<pid>-N and destroyed at the end; IPv4 forwarding is
// put back as it was.
import { readFileSync, writeFileSync } from 'node:fs';
import { benchSession, measure, nsm, printTable, requireRoot, runsOption, timed } from './lib.mjs';

const args = process.argv.slice(2);
const RUNS = runsOption(args, 15);
const NAT = args.includes('--nat');
const BASELINE = args.includes('--baseline') ? args[args.indexOf('--baseline') + 1] : undefined;

requireRoot('bench/netlimits.mjs', 'veth pairs, cgroups');

const { fresh, run, serial, cleanup } = benchSession('nsmnl');
const forwarding = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();

const LIMITS = ['--memory', '64M', '--cpus', '0.5', '--pids', '100'];

/** Time `nsm create NAME ARGS`, then destroy it untimed. */
const createCase = (...extra) => () => {
  const n = fresh();
  const ms = timed(() => run(nsm('create', n, ...extra)));
  run(nsm('destroy', n));
  return ms;
};

/** The --veth steps with iproute2, on an environment made without --veth (its /run/netns link). */
function iproute2Case() {
  const n = fresh();
  run(nsm('create', n));
  const host = `nsmnl${serial()}`;
  const a = `10.254.${serial() % 250}.1`;
  const b = `10.254.${serial() % 250}.2`;
  const ms = timed(() => {
    run(['ip', 'link', 'add', 'name', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n]);
    run(['ip', 'addr', 'add', `${a}/30`, 'dev', host]);
    run(['ip', 'link', 'set', host, 'up']);
    run(['ip', '-n', n, 'addr', 'add', `${b}/30`, 'dev', 'eth0']);
    run(['ip', '-n', n, 'link', 'set', 'eth0', 'up']);
    run(['ip', '-n', n, 'route', 'add', 'default', 'via', a]);
  });
  run(nsm('destroy', n));
  return ms;
}

/** Time `nsm destroy` of an environment made with `extra`. */
const destroyCase = (...extra) => () => {
  const n = fresh();
  run(nsm('create', n, ...extra));
  return timed(() => run(nsm('destroy', n)));
};

const plainEnv = fresh();
run(nsm('create', plainEnv));
const limitedEnv = fresh();
run(nsm('create', limitedEnv, ...LIMITS));

const cases = {
  'node -e 0': () => timed(() => run([process.execPath, '-e', '0'])),
  'nsm create': createCase(),
  ...(BASELINE
    ? {
        'baseline nsm create': () => {
          const n = fresh();
          const ms = timed(() => run([process.execPath, BASELINE, 'create', n]));
          run([process.execPath, BASELINE, 'destroy', n]);
          return ms;
        },
      }
    : {}),
  'nsm create --veth': createCase('--veth'),
  'iproute2: the same veth steps (6 x ip)': iproute2Case,
  'nsm create --memory --cpus --pids': createCase(...LIMITS),
  'nsm create --veth + limits': createCase('--veth', ...LIMITS),
  ...(NAT ? { 'nsm create --veth --nat': createCase('--veth', '--nat') } : {}),
  'nsm destroy': destroyCase(),
  'nsm destroy (--veth + limits)': destroyCase('--veth', ...LIMITS),
  'nsm exec -- true': () => timed(() => run(nsm('exec', plainEnv, '--', 'true'))),
  'nsm exec -- true (limits: native join)': () => timed(() => run(nsm('exec', limitedEnv, '--', 'true'))),
};

try {
  const result = measure(cases, RUNS);
  const { med } = result;
  printTable(`nsm create with --veth and limits: median of ${RUNS} runs`, result, {
    header: 'vs nsm create',
    cell: (k) => (k.startsWith('nsm create') ? `+${(med[k] - med['nsm create']).toFixed(1)}` : ''),
  });
  console.log('');
  console.log(`--veth adds ${(med['nsm create --veth'] - med['nsm create']).toFixed(1)} ms; the same steps with iproute2 take ${med['iproute2: the same veth steps (6 x ip)'].toFixed(1)} ms`);
  console.log(`limits add ${(med['nsm create --memory --cpus --pids'] - med['nsm create']).toFixed(1)} ms`);
  console.log(`nsm create - node -e 0 = ${(med['nsm create'] - med['node -e 0']).toFixed(1)} ms`);
} finally {
  cleanup();
  writeFileSync('/proc/sys/net/ipv4/ip_forward', forwarding);
}
