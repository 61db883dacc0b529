/**
 * lsns parity of `nsm ls` on the real kernel: -Q/--filter through the CLI against namespaces
 * this test made, NETNSID of net namespaces with no process in them (held by a bind mount,
 * an fd, a socket), and the -t net default columns. Needs root (ip netns, pidfd_getfd) and
 * cc (test/fixtures/nsid-probe.c keeps a socket in a namespace).
 *
 *   mount   ip netns add + ip netns set ID: held by its /run/netns bind mount
 *   procs   ip netns add (no id) and a sleep in it
 *   fd      ip netns set ID, an fd opened on it, then ip netns delete: held by the fd alone
 *   socket  ip netns set ID, a socket made in it, then ip netns delete: held by the socket alone
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, NetnsNames, nsInode, nsm, nsmJson, Processes, ROOT, waitFor } from '../support/run.js';

const procs = new Processes();
const netns = new NetnsNames();
const tag = `nsmt-q${process.pid}${Math.random().toString(36).slice(2, 6)}`;
const hasCc = spawnSync('cc', ['--version']).status === 0;
let dir = '';
const ns = {} as Record<'mount' | 'procs' | 'fd' | 'socket', number>;
const nsid = {} as Record<'mount' | 'fd' | 'socket', number>;

/** `ip netns set NAME ID` with an id no one else holds (ids are per host: retry on a clash). */
function setId(name: string): number {
  for (let i = 0; i < 20; i++) {
    const id = 100_000 + Math.floor(Math.random() * 1_000_000);
    if (spawnSync('ip', ['netns', 'set', name, String(id)]).status === 0) return id;
  }
  throw new Error(`ip netns set ${name}: no free id`);
}

/** The NS column of `nsm ls ARGS -n -r -o NS` (one inode a line), only this test's. */
function listed(args: string[]): number[] {
  const r = nsm(['ls', ...args, '-n', '-r', '-o', 'NS']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const ours = new Set(Object.values(ns));
  return r.stdout.split('\n').filter(Boolean).map(Number).filter((n) => ours.has(n)).sort();
}

describe.skipIf(!isRoot || !hasCc)('nsm ls -Q, NETNSID without processes, -t net columns (root, cc)', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-lsq-'));
    const probe = join(dir, 'nsid-probe');
    const cc = spawnSync('cc', ['-O2', '-pthread', '-o', probe, join(ROOT, 'test/fixtures/nsid-probe.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc: ${cc.stderr}`);

    const m = netns.add(`${tag}-m`);
    nsid.mount = setId(m);
    ns.mount = statSync(`/run/netns/${m}`).ino;

    const p = netns.add(`${tag}-p`);
    ns.procs = statSync(`/run/netns/${p}`).ino;
    const sleeper = procs.start('ip', ['netns', 'exec', p, 'sleep', '1000']);
    await waitFor('sleep in the netns', () => readlinkSync(`/proc/${sleeper.pid}/exe`).endsWith('sleep') && nsInode(sleeper.pid!, 'net') === ns.procs);

    const f = netns.add(`${tag}-f`);
    nsid.fd = setId(f);
    ns.fd = statSync(`/run/netns/${f}`).ino;
    const holder = procs.start('sh', ['-c', `exec 3</run/netns/${f}; exec sleep 1000`]);
    await waitFor('fd holder', () => readlinkSync(`/proc/${holder.pid}/exe`).endsWith('sleep'));
    expect(spawnSync('ip', ['netns', 'delete', f]).status).toBe(0);

    const s = netns.add(`${tag}-s`);
    nsid.socket = setId(s);
    ns.socket = statSync(`/run/netns/${s}`).ino;
    const sock = spawn(probe, ['sockin', `/run/netns/${s}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    (procs as unknown as { children: ChildProcess[] }).children.push(sock);
    await new Promise<string>((resolve) => createInterface({ input: sock.stdout! }).once('line', resolve));
    expect(spawnSync('ip', ['netns', 'delete', s]).status).toBe(0);
    expect(nsInode(sock.pid!, 'net')).toBe(nsInode('self', 'net')); // the socket alone holds it
  }, 60_000);

  afterAll(async () => {
    await procs.stop();
    netns.removeAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('NETNSID of net namespaces no process is in: bind mount, fd, socket (RTM_GETNSID as lsns)', () => {
    const rows = nsmJson<{ namespaces: Array<{ ns: number; netnsid: string | null; held: string[] }> }>(['ls', '-t', 'net', '-J', '-o', 'NS,NETNSID,HELD']).namespaces;
    const row = (inode: number) => rows.find((r) => r.ns === inode);
    expect(row(ns.mount)).toMatchObject({ ns: ns.mount, netnsid: String(nsid.mount), held: ['mount'] });
    expect(row(ns.fd)).toMatchObject({ ns: ns.fd, netnsid: String(nsid.fd), held: ['fd'] });
    expect(row(ns.socket)).toMatchObject({ ns: ns.socket, netnsid: String(nsid.socket), held: ['socket'] });
    expect(row(ns.procs)?.netnsid).toBe('unassigned');
  });

  it('-t net: the default columns gain NETNSID and NSFS after USER, as lsns -t net', () => {
    const r = nsm(['ls', '-t', 'net']);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]!.trim().split(/\s+/)).toEqual(['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NETNSID', 'NSFS', 'NAME', 'COMMAND']);
    const mountLine = r.stdout.split('\n').find((l) => l.startsWith(String(ns.mount)))!;
    expect(mountLine).toContain(` ${nsid.mount} /run/netns/${tag}-m `);
    // Without net among the types the defaults stay lsns's.
    expect(nsm(['ls', '-t', 'uts']).stdout.split('\n')[0]!.trim().split(/\s+/)).toEqual(['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NAME', 'COMMAND']);
  });

  it('-Q keeps the rows the expression holds for, in every output form', () => {
    const all = [ns.mount, ns.procs, ns.fd, ns.socket].sort();
    expect(listed(['-Q', `NS == ${ns.mount} || NS == ${ns.fd}`])).toEqual([ns.mount, ns.fd].sort());
    // Numbers typed: NPROCS numerically, strings quoted either way, regex, spelled operators.
    expect(listed(['-Q', `TYPE == "net" && NPROCS == 0 && NS >= ${Math.min(...all)} && NS <= ${Math.max(...all)}`])).toEqual([ns.mount, ns.fd, ns.socket].sort());
    expect(listed(['--filter', `NAME =~ '^netns:${tag}-' and NPROCS gt 0`])).toEqual([ns.procs]);
    expect(listed(['-Q', `NAME =~ "^netns:${tag}-" && !(HELD == "mount")`])).toEqual([ns.procs]);
    expect(listed(['-Q', `HELD == "socket" && NETNSID == ${nsid.socket}`])).toEqual([ns.socket]);
    // A column not shown is still read for the filter (NETNSID needs rtnetlink, PNS ioctl_ns).
    expect(listed(['-Q', `NETNSID == ${nsid.fd} || NETNSID == ${nsid.mount}`])).toEqual([ns.mount, ns.fd].sort());

    const expr = `NS == ${ns.procs}`;
    const json = nsmJson<{ namespaces: Array<{ ns: number; nprocs: number }> }>(['ls', '-J', '-Q', expr]);
    expect(json.namespaces.map((r) => [r.ns, r.nprocs])).toEqual([[ns.procs, 1]]);
    const table = nsm(['ls', '-Q', expr]).stdout.trim().split('\n');
    expect(table[0]).toMatch(/^\s*NS TYPE/);
    expect(table.slice(1).filter((l) => /^\s*\d/.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual([ns.procs]);
    expect(nsm(['ls', '-n', '-Q', expr, '-o', 'NS,NPROCS']).stdout.trim().split(/\s+/)).toEqual([String(ns.procs), '1']);
    expect(nsm(['ls', '-r', '-Q', expr, '-o', 'NS,TYPE']).stdout).toBe(`NS TYPE\n${ns.procs} net\n`);
  });

  it('a bad expression or an unknown column: one line naming it, exit 2, nothing on stdout', () => {
    const bad = nsm(['ls', '-Q', 'NPROCS > 1 &&']);
    expect([bad.status, bad.stdout, bad.stderr]).toEqual([2, '', 'nsm: --filter: expected a column, number or string but found end of expression at position 14\n']);
    const eq = nsm(['ls', '-Q', 'TYPE = "net"']);
    expect([eq.status, eq.stderr]).toEqual([2, "nsm: --filter: unexpected '=' (use ==) at position 6\n"]);
    const unknown = nsm(['ls', '--filter', 'TYPE == "net" && COLOUR == 3']);
    expect(unknown.status).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^nsm: --filter: unknown column COLOUR at position 18 \(known: NS, TYPE, .*\)\n$/);
  });
});
