#!/usr/bin/env node
/**
 * Churn generator for bench/monitor: makes COUNT network namespaces that each live about
 * LIFETIME ms (`unshare -n sleep`), CONCURRENCY at a time, and prints one JSON record per
 * namespace so a monitor's report can be matched to them by inode and pid:
 *   {"group":"10ms","pid":1234,"inode":4026532177,"start":<epoch ms>,"end":<epoch ms>}
 * Each child prints its own pid and netns inode before exec'ing sleep:
 *   unshare -n sh -c 'echo $$ $(readlink /proc/$$/ns/net); exec sleep 0.01'
 * The extra ~2 ms (sh, readlink) lengthens each lifetime a little.
 *
 * Usage: node churn.mjs GROUP COUNT LIFETIME_MS [CONCURRENCY] [--user]
 *   --user: `unshare -U -n` (an unprivileged user's churn, for polling mode)
 */
import { spawn } from 'node:child_process';

const [group, countArg, lifeArg, concArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const user = process.argv.includes('--user');
const count = Number(countArg ?? 200);
const lifetime = Number(lifeArg ?? 10);
const concurrency = Number(concArg ?? 4);
const secs = (lifetime / 1000).toFixed(3);

function one() {
  return new Promise((resolve) => {
    const start = Date.now();
    const flags = user ? ['-U', '-n'] : ['-n'];
    const child = spawn('unshare', [...flags, 'sh', '-c', `echo $$ $(readlink /proc/$$/ns/net); exec sleep ${secs}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.on('close', (status) => {
      const m = /^(\d+) net:\[(\d+)\]/.exec(out);
      if (status !== 0 || !m) {
        process.stderr.write(`churn: child failed (${status}): ${out}\n`);
        return resolve();
      }
      process.stdout.write(`${JSON.stringify({ group, pid: Number(m[1]), inode: Number(m[2]), start, end: Date.now() })}\n`);
      resolve();
    });
  });
}

let next = 0;
async function lane() {
  while (next < count) {
    next++;
    await one();
  }
}
await Promise.all(Array.from({ length: concurrency }, lane));
