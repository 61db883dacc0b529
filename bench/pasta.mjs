// `nsm create --pasta` against `nsm create`, and the network through pasta against a root
// --veth pair: 100 MB over TCP in each direction and 1,000 request/response round trips.
// Loopback peers only (the host's 127.0.0.1 or the veth's own /30). Root: --veth needs it.
// A transfer that stalls (Debian 12's pasta can lose a wake-up on its splice path) is stopped
// after a timeout, reported as stalled and left out of the median.
//
//   node bench/pasta.mjs [--runs N] [--mb 100] [--rounds 1000]
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { benchSession, median, nsm, requireRoot, runsOption, timed } from './lib.mjs';

requireRoot('bench/pasta.mjs', '--veth, the comparison, is root only');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const RUNS = runsOption(args, 11);
const MB = opt('--mb', 100);
const ROUNDS = opt('--rounds', 1000);
const session = benchSession('nsm-pasta-bench');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A TCP server: the first byte says S (sink: a decimal byte count and a newline, then that many
 * bytes, answered with the count) or E (echo). No half-close: this pasta build did not pass a
 * FIN from the namespace on (bench/RESULTS.md).
 */
const SERVER = `const net=require('net');net.createServer(s=>{let n=0,m,want=-1,hdr='';s.on('data',d=>{if(m===undefined){m=d[0];d=d.subarray(1)}if(m===69)return void s.write(d);if(want<0){const i=d.indexOf(10);if(i<0){hdr+=d;return}want=+(hdr+d.subarray(0,i));d=d.subarray(i+1)}n+=d.length;if(n>=want)s.end(String(n))});s.on('error',()=>{})}).listen(+process.argv[1],process.argv[2],()=>console.log('ready'))`;

/** Client: send MB megabytes (sink) and resolve with MB/s; or ROUNDS one-byte round trips, resolve with µs per round trip. */
const CLIENT = `const net=require('net');const [port,host,what,count]=process.argv.slice(1);const c=net.connect(+port,host,()=>{const t0=process.hrtime.bigint();const ms=()=>Number(process.hrtime.bigint()-t0)/1e6;if(what==='sink'){const chunk=Buffer.alloc(1<<20,120);let left=+count;c.write('S'+(+count)*(1<<20)+'\\n');const pump=()=>{while(left>0){left--;if(!c.write(chunk))return c.once('drain',pump)}};pump();let got='';c.on('data',d=>got+=d);c.on('end',()=>{if(+got!==(+count)*(1<<20))throw new Error('short: '+got);console.log((+count/(ms()/1000)).toFixed(0))})}else{let n=0;c.write('Ex');c.on('data',()=>{if(++n<+count)c.write('x');else{console.log((ms()*1000/+count).toFixed(1));c.end()}})}});`;

/** A transfer that made no progress to its end: this pasta build can lose a wake-up (bench/RESULTS.md). */
class Stalled extends Error {}

/**
 * How long one measurement may take: far more than either path needs (it runs at 1 MB/s and
 * more even on a loaded machine), so only a stalled connection reaches it.
 */
const STALL_MS = Math.max(30_000, MB * 300);

function runNode(argv, env) {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0], argv.slice(1), { env: env ?? session.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Stalled(`${argv.slice(-4).join(' ')}: no end after ${STALL_MS / 1000} s`));
    }, STALL_MS);
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`${argv.join(' ')}: ${code} ${err}`));
    });
  });
}

/** Start SERVER inside env `name` on `port` bound to `addr`; resolves when it listens; returns its nsm exec process. */
async function serveInside(name, port, addr) {
  const p = spawn(...(([c, ...a]) => [c, a])(nsm('exec', name, '--', process.execPath, '-e', SERVER, String(port), addr)), { env: session.env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => p.stdout.once('data', resolve));
  return p;
}

/** Connections to the host servers: a stalled one is closed at the end, so that the bench exits. */
const hostConnections = new Set();

/** The same server on the host, bound to `addr`; resolves with it once listening. */
async function serveOnHost(addr) {
  const s = createServer((c) => {
    hostConnections.add(c);
    c.on('close', () => hostConnections.delete(c));
    let n = 0;
    let m;
    let want = -1;
    let hdr = '';
    c.on('error', () => {});
    c.on('data', (d) => {
      if (m === undefined) {
        m = d[0];
        d = d.subarray(1);
      }
      if (m === 69) return void c.write(d);
      if (want < 0) {
        const i = d.indexOf(10);
        if (i < 0) return void (hdr += d);
        want = Number(hdr + d.subarray(0, i));
        d = d.subarray(i + 1);
      }
      n += d.length;
      if (n >= want) c.end(String(n));
    });
  });
  await new Promise((r) => s.listen(0, addr, r));
  return s;
}

const hostClient = (port, host, what, count) => runNode([process.execPath, '-e', CLIENT, String(port), host, what, String(count)], process.env);
const insideClient = (name, port, host, what, count) => runNode(nsm('exec', name, '--', process.execPath, '-e', CLIENT, String(port), host, what, String(count)));

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

try {
  // 1. create --pasta vs create, interleaved; each environment destroyed untimed.
  const plain = [];
  const pasta = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [list, extra] of [[plain, []], [pasta, ['--pasta']]]) {
      const name = session.fresh();
      list.push(timed(() => session.run(nsm('create', name, ...extra))));
      session.run(nsm('destroy', name));
    }
  }
  console.log(`create            median ${median(plain).toFixed(0)} ms`);
  console.log(`create --pasta    median ${median(pasta).toFixed(0)} ms  (+${(median(pasta) - median(plain)).toFixed(0)} ms)`);

  // 2. Throughput and round trips: pasta (published port; the host via the gateway address) vs veth.
  const port = await freePort();
  const pe = session.fresh();
  const created = JSON.parse(session.run(nsm('create', '--json', pe, '--pasta', '--publish', `127.0.0.1:${port}:9000`)));
  const hostAddress = created.userNet.hostAddress;
  const ve = session.fresh();
  const veth = JSON.parse(session.run(nsm('create', '--json', ve, '--veth'))).veth;
  const envAddr = veth.envAddress.split('/')[0];
  const vethHost = veth.hostAddress.split('/')[0];
  const servers = [await serveInside(pe, 9000, '0.0.0.0'), await serveInside(ve, 9000, envAddr)];
  const hostSrvLo = await serveOnHost('127.0.0.1');
  const hostSrvVeth = await serveOnHost(vethHost);
  await sleep(200);
  const rows = [];
  // Median of 3; a stalled try is counted, reported, and left out of the median.
  let stalls = 0;
  const three = async (f) => {
    const got = [];
    let stalled = 0;
    for (let i = 0; i < 3; i++) {
      try {
        got.push(Number(await f()));
      } catch (err) {
        if (!(err instanceof Stalled)) throw err;
        stalled++;
        console.error(`stalled: ${err.message}`);
      }
    }
    stalls += stalled;
    got.sort((a, b) => a - b);
    const mid = got.length ? String(got[Math.floor((got.length - 1) / 2)]) : '-';
    return stalled ? `${mid} (${stalled} of 3 stalled)` : mid;
  };
  rows.push(['host -> env, MB/s', await three(() => hostClient(port, '127.0.0.1', 'sink', MB)), await three(() => hostClient(9000, envAddr, 'sink', MB))]);
  rows.push(['env -> host, MB/s', await three(() => insideClient(pe, hostSrvLo.address().port, hostAddress, 'sink', MB)), await three(() => insideClient(ve, hostSrvVeth.address().port, vethHost, 'sink', MB))]);
  rows.push([`host -> env round trip, µs (${ROUNDS})`, await three(() => hostClient(port, '127.0.0.1', 'echo', ROUNDS)), await three(() => hostClient(9000, envAddr, 'echo', ROUNDS))]);
  rows.push([`env -> host round trip, µs (${ROUNDS})`, await three(() => insideClient(pe, hostSrvLo.address().port, hostAddress, 'echo', ROUNDS)), await three(() => insideClient(ve, hostSrvVeth.address().port, vethHost, 'echo', ROUNDS))]);
  console.log(`\n| ${MB} MB / ${ROUNDS} round trips (median of 3) | pasta | veth |\n|---|---|---|`);
  for (const [what, a, b] of rows) console.log(`| ${what} | ${a} | ${b} |`);
  if (stalls) {
    console.log(`\n${stalls} transfer(s) stalled: the sender had sent everything, every socket queue was empty and`);
    console.log(`the rest sat in pasta's splice pipe with no EPOLLOUT armed (a lost wake-up of this pasta build;`);
    console.log(`see bench/RESULTS.md). Stopped after ${STALL_MS / 1000} s and left out of the medians.`);
  }
  for (const s of servers) s.kill('SIGKILL');
  hostSrvLo.close();
  hostSrvVeth.close();
  for (const c of hostConnections) c.destroy();
} finally {
  session.cleanup();
}
