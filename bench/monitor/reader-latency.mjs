#!/usr/bin/env node
/**
 * Why the connector is read by a worker thread (src/sys/proc-connector.ts): compare the two
 * ways of reading a netlink socket through koffi without blocking Node's event loop.
 *
 *   worker  a worker_threads Worker blocks in recv(2) and reads /proc/PID/ns/net itself
 *   async   koffi's recv.async() on libuv's pool; the link is read in its callback (main thread)
 *
 * Each runs while churn.mjs makes COUNT network namespaces living ~10 ms, with the main
 * thread idle and then busy (a 30 ms stretch of work every 100 ms, as parsing a large
 * rescan or a GC pause would be). Reported: the share of the churn's namespaces whose link
 * was read while the namespace existed, and the delay from the kernel's exec timestamp to
 * the read (p50/p99). Needs root.
 *
 *   node bench/monitor/reader-latency.mjs [COUNT]
 */
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'package.json'));
const koffi = require('koffi');
const c = koffi.load('libc.so.6');
const socket = c.func('int socket(int, int, int)');
const bind = c.func('int bind(int, const void *, uint32_t)');
const send = c.func('intptr_t send(int, const void *, size_t, int)');
const recv = c.func('intptr_t recv(int, _Out_ void *, size_t, int)');
const setsockopt = c.func('int setsockopt(int, int, int, const int *, uint32_t)');

function subscribe() {
  const fd = socket(16, 3 | 0o2000000, 11); // AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_CONNECTOR
  setsockopt(fd, 1, 33, [8 << 20], 4); // SO_RCVBUFFORCE
  const addr = Buffer.alloc(12);
  addr.writeUInt16LE(16, 0);
  addr.writeUInt32LE(1, 8); // CN_IDX_PROC
  bind(fd, addr, 12);
  const msg = Buffer.alloc(44);
  msg.writeUInt32LE(44, 0);
  msg.writeUInt16LE(3, 4);
  msg.writeUInt32LE(1, 16);
  msg.writeUInt32LE(1, 20);
  msg.writeUInt16LE(8, 32);
  msg.writeUInt32LE(1, 36); // LISTEN
  msg.writeUInt32LE(0x2, 40); // exec events only (kernel 6.6+ filter)
  send(fd, msg, 44, 0);
  return fd;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** Parse exec events in buf[0,n) and read each process's net link now. */
function handle(buf, n, out) {
  for (let off = 0; off + 16 <= n; ) {
    const len = buf.readUInt32LE(off);
    if (len < 16) break;
    if (buf.readUInt32LE(off + 36) === 2) {
      const pid = buf.readInt32LE(off + 56);
      const ts = Number(buf.readBigUInt64LE(off + 44)) / 1e6;
      let net = 0;
      try {
        net = Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))[1]);
      } catch {
        // gone already
      }
      out.push([pid, net, nowMs() - ts]);
    }
    off += (len + 3) & ~3;
  }
}

if (!isMainThread) {
  // Mode "worker": block in recv() here; post what was read.
  const fd = subscribe();
  const buf = Buffer.alloc(65536);
  parentPort.postMessage('ready');
  for (;;) {
    const n = recv(fd, buf, buf.length, 0);
    if (n <= 0) continue;
    const out = [];
    handle(buf, n, out);
    if (out.length) parentPort.postMessage(out);
  }
}

function busyMainThread(on) {
  if (!on) return () => {};
  const t = setInterval(() => {
    const end = Date.now() + 30;
    while (Date.now() < end);
  }, 100);
  return () => clearInterval(t);
}

function churn(count) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(here, 'churn.mjs'), '10ms', String(count), '10', '4'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.on('close', () => resolve(out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))));
  });
}

async function runMode(mode, busy, count) {
  const reads = [];
  let stopReader;
  if (mode === 'worker') {
    const w = new Worker(fileURLToPath(import.meta.url));
    await new Promise((r) => w.once('message', r));
    w.on('message', (m) => reads.push(...m));
    stopReader = () => w.terminate();
  } else {
    const fd = subscribe();
    const buf = Buffer.alloc(65536);
    let stopped = false;
    const loop = () =>
      recv.async(fd, buf, buf.length, 0, (err, n) => {
        if (stopped) return;
        if (!err && n > 0) handle(buf, n, reads);
        loop();
      });
    loop();
    stopReader = () => (stopped = true);
  }
  const stopBusy = busyMainThread(busy);
  const records = await churn(count);
  await new Promise((r) => setTimeout(r, 300));
  stopBusy();
  await stopReader();
  const byPid = new Map(reads.map(([pid, net, lat]) => [pid, { net, lat }]));
  let caught = 0;
  const lats = [];
  for (const r of records) {
    // The exec that matters is sh's, in the new namespace; a later exec (sleep) replaces the entry.
    const read = reads.filter(([pid, net]) => pid === r.pid && net === r.inode);
    if (read.length > 0) {
      caught++;
      lats.push(read[0][2]);
    }
  }
  void byPid;
  lats.sort((a, b) => a - b);
  const q = (p) => (lats.length ? lats[Math.min(lats.length - 1, Math.floor(p * lats.length))].toFixed(2) : 'n/a');
  return { mode, busy, n: records.length, caught, p50: q(0.5), p99: q(0.99), max: lats.length ? lats[lats.length - 1].toFixed(1) : 'n/a' };
}

if (isMainThread) {
  const count = Number(process.argv[2] ?? 200);
  console.log(`| reader | main thread | namespaces read while alive | exec -> read p50 | p99 | max |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const busy of [false, true]) {
    for (const mode of ['worker', 'async']) {
      const r = await runMode(mode, busy, count);
      console.log(`| ${r.mode} | ${r.busy ? 'busy 30 ms every 100 ms' : 'idle'} | ${r.caught}/${r.n} (${((100 * r.caught) / r.n).toFixed(1)}%) | ${r.p50} ms | ${r.p99} ms | ${r.max} ms |`);
    }
  }
  // recv.async leaves a pool thread blocked in recv(2); nothing else can end it.
  process.exit(0);
}
