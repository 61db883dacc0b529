/**
 * 64-bit namespace IDs (NS_GET_ID, Linux 6.18) and the holders `nsm ls` finds, on the real
 * kernel. A small C program compiled here (test/fixtures/nsid-probe.c) reads NS_GET_ID on
 * the same files, so nsm's NSID is checked against the kernel directly:
 *
 *   proc     a net namespace with a process in it (unshare -n sleep)
 *   mount    a net namespace held by a bind mount only (ip netns add)
 *   fdHole   a net namespace held by an fd opened through /run/netns/X after `ip netns
 *            delete X` (the fd's link then reads "/": found by fstat, not by the link)
 *   socket   a net namespace held only by a socket of a process that went back to the
 *            host's net namespace (found through pidfd_getfd(2) and SIOCGSKNS)
 *
 * Then the monitor: namespaces made one after the other reuse inodes at once; each must be
 * its own NEW/GONE pair, told apart by id. Needs root (ip netns, pidfd_getfd) and cc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, NetnsNames, nsInode, nsm, nsmJson, NSM, Processes, ROOT, waitFor } from '../support/run.js';

const procs = new Processes();
const netns = new NetnsNames();
const tag = `nsmt-id-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
const hasCc = spawnSync('cc', ['--version']).status === 0;
let dir = '';
let probe = '';
const s = {} as { proc: number; procPid: number; mount: number; mountName: string; fdHole: number; fdPid: number; socket: number; socketId: string; socketPid: number };

/** NS_GET_ID of each path from C: "none" on kernels without it. */
function kernelIds(...paths: string[]): Map<string, { inode: number; id: string }> {
  const r = spawnSync(probe, ['id', ...paths], { encoding: 'utf8' });
  const out = new Map<string, { inode: number; id: string }>();
  for (const line of r.stdout.trim().split('\n')) {
    const [path, inode, id] = line.split(' ');
    out.set(path!, { inode: Number(inode), id: id! });
  }
  return out;
}

const expectedId = (id: string): number | null => (id === 'none' ? null : Number(id));

describe.skipIf(!isRoot || !hasCc)('namespace IDs and holders (root: ip netns, pidfd_getfd; cc for the probe)', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-nsid-'));
    probe = join(dir, 'nsid-probe');
    const cc = spawnSync('cc', ['-O2', '-pthread', '-o', probe, join(ROOT, 'test/fixtures/nsid-probe.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc: ${cc.stderr}`);

    const p = procs.start('unshare', ['-n', 'sleep', '1000']);
    s.procPid = p.pid!;
    s.proc = await waitFor('unshare -n', () => readlinkSync(`/proc/${s.procPid}/exe`).endsWith('sleep') && nsInode(s.procPid, 'net'));

    s.mountName = netns.add(`${tag}-m`);
    s.mount = statSync(`/run/netns/${s.mountName}`).ino;

    const holeName = netns.add(`${tag}-h`);
    s.fdHole = statSync(`/run/netns/${holeName}`).ino;
    const holder = procs.start('sh', ['-c', `exec 3</run/netns/${holeName}; exec sleep 1000`]);
    s.fdPid = holder.pid!;
    await waitFor('fd holder', () => readlinkSync(`/proc/${s.fdPid}/exe`).endsWith('sleep'));
    expect(spawnSync('ip', ['netns', 'delete', holeName]).status).toBe(0);
    expect(readlinkSync(`/proc/${s.fdPid}/fd/3`)).toBe('/'); // the hole: the link no longer names the namespace

    const sock = spawn(probe, ['sockhold'], { stdio: ['ignore', 'pipe', 'inherit'] });
    (procs as unknown as { children: ChildProcess[] }).children.push(sock);
    s.socketPid = sock.pid!;
    const ready = await new Promise<string>((resolve) => createInterface({ input: sock.stdout! }).once('line', resolve));
    const [, inode, id] = ready.split(' ');
    s.socket = Number(inode);
    s.socketId = id!;
    expect(nsInode(s.socketPid, 'net')).toBe(nsInode('self', 'net'));
  });

  afterAll(async () => {
    await procs.stop();
    netns.removeAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ls: NSID agrees with NS_GET_ID on the same files; HELD names each kind of holder', () => {
    const rows = nsmJson<{ namespaces: Array<{ ns: number; id: number | null; nsid?: unknown; held: string[]; nprocs: number }> }>(['ls', '-t', 'net', '--output-all', '--json']).namespaces;
    const row = (inode: number) => {
      const r = rows.find((x) => x.ns === inode);
      if (!r) throw new Error(`namespace ${inode} not listed`);
      return r;
    };
    const k = kernelIds(`/proc/${s.procPid}/ns/net`, `/run/netns/${s.mountName}`, `/proc/${s.fdPid}/fd/3`, '/proc/self/ns/net');
    expect(k.get(`/proc/${s.procPid}/ns/net`)!.inode).toBe(s.proc);
    expect(row(s.proc).id).toBe(expectedId(k.get(`/proc/${s.procPid}/ns/net`)!.id));
    expect(row(s.proc).held).toEqual(['procs']);
    expect(row(s.mount).id).toBe(expectedId(k.get(`/run/netns/${s.mountName}`)!.id));
    expect(row(s.mount).held).toEqual(['mount']);
    expect(k.get(`/proc/${s.fdPid}/fd/3`)!.inode).toBe(s.fdHole);
    expect(row(s.fdHole).id).toBe(expectedId(k.get(`/proc/${s.fdPid}/fd/3`)!.id));
    expect(row(s.fdHole).held).toEqual(['fd']);
    expect(row(s.socket).id).toBe(expectedId(s.socketId));
    expect(row(s.socket).held).toEqual(['socket']);
    expect(row(s.socket).nprocs).toBe(0);
    expect(row(nsInode('self', 'net')!).id).toBe(expectedId(k.get('/proc/self/ns/net')!.id));
    // the JSON key is "id", not the column name
    expect(rows.every((r) => !('nsid' in r))).toBe(true);
    // ids never repeat among living namespaces
    const ids = rows.map((r) => r.id).filter((id) => id !== null);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('monitor: namespaces that reuse one inode are distinct NEW/GONE pairs, by id', async () => {
    // Each namespace reports its own inode and NS_GET_ID (the probe, from inside): the truth
    // the monitor's events are checked against. The shell waits for a line on stdin, so the
    // monitor follows it (-p) from before its first namespace.
    const loop = `read go; for i in $(seq 20); do unshare -n sh -c '${probe} id /proc/self/ns/net; sleep 0.15'; done`;
    const sh = spawn('sh', ['-c', loop], { stdio: ['pipe', 'pipe', 'inherit'] });
    (procs as unknown as { children: ChildProcess[] }).children.push(sh);
    const truth: Array<{ inode: number; id: string }> = [];
    createInterface({ input: sh.stdout! }).on('line', (l) => {
      const [, inode, id] = l.split(' ');
      truth.push({ inode: Number(inode), id: id! });
    });
    const mon = spawn(process.execPath, [NSM, 'monitor', '--json', '--baseline', '-t', 'net', '-p', String(sh.pid), '-d', '9'], { stdio: ['ignore', 'pipe', 'inherit'] });
    (procs as unknown as { children: ChildProcess[] }).children.push(mon);
    const events: Array<{ kind: string; inode?: number; id?: number | null }> = [];
    createInterface({ input: mon.stdout! }).on('line', (l) => {
      const e = JSON.parse(l);
      events.push(e);
      if (e.kind === 'baseline') sh.stdin!.end('go\n'); // after the first scan: every namespace is NEW
    });
    await new Promise((r) => mon.once('exit', r));
    expect(truth).toHaveLength(20);
    expect(events.filter((e) => e.kind.startsWith('ns-')).every((e) => 'id' in e)).toBe(true);
    const count = new Map<number, number>();
    for (const t of truth) count.set(t.inode, (count.get(t.inode) ?? 0) + 1);
    const reused = truth.filter((t) => count.get(t.inode)! > 1);
    expect(reused.length, 'the kernel gave one inode to two of these namespaces').toBeGreaterThan(1);
    if (truth[0]!.id === 'none') return; // a kernel without NS_GET_ID: nothing more to tell them apart by
    // At each reused inode: as many NEW/GONE pairs as namespaces had it (none merged), and no
    // id other than those namespaces' own, each once. (A NEW may lack its id when the monitor
    // handled the event after that process had exited: then null, never a wrong one.)
    for (const inode of new Set(reused.map((t) => t.inode))) {
      const ids = new Set(truth.filter((t) => t.inode === inode).map((t) => Number(t.id)));
      for (const kind of ['ns-new', 'ns-gone']) {
        const at = events.filter((e) => e.kind === kind && e.inode === inode);
        expect(at, `${kind} at ${inode}`).toHaveLength(ids.size);
        const seen = at.map((e) => e.id).filter((id) => id !== null);
        for (const id of seen) expect(ids.has(id!), `${kind} at ${inode} with id ${id}`).toBe(true);
        expect(new Set(seen).size).toBe(seen.length);
      }
    }
    const news = events.filter((e) => e.kind === 'ns-new');
    expect(news.filter((e) => e.id !== null).length).toBeGreaterThanOrEqual(news.length / 2);
  });

  it('inspect and tree --json carry the id beside the inode', () => {
    const k = kernelIds(`/proc/${s.procPid}/ns/net`, `/proc/${s.procPid}/ns/user`);
    const ins = nsmJson<{ namespaces: Array<{ entry: string; ns: number; id: number | null }> }>(['inspect', String(s.procPid), '--json']);
    expect(ins.namespaces.find((n) => n.entry === 'net')).toMatchObject({ ns: s.proc, id: expectedId(k.get(`/proc/${s.procPid}/ns/net`)!.id) });
    const tree = nsmJson<{ roots: Array<{ ns: number; id: number | null }> }>(['tree', '--json']);
    const user = k.get(`/proc/${s.procPid}/ns/user`)!;
    expect(tree.roots.find((r) => r.ns === user.inode)?.id).toBe(expectedId(user.id));
  });

  it('environment records store the ids; a join whose id no longer matches is refused', () => {
    const state = mkdtempSync(join(tmpdir(), 'nsm-nsid-state-'));
    const env = { NSM_STATE_DIR: state };
    const name = `${tag}-env`.slice(0, 30);
    const file = join(state, 'envs', name, 'env.json');
    let original: string | undefined;
    try {
      expect(nsm(['create', name, '-t', 'net,uts'], { env }).status).toBe(0);
      original = readFileSync(file, 'utf8');
      const record = JSON.parse(original);
      const k = kernelIds(`/proc/${record.holder.pid}/ns/net`, `/proc/${record.holder.pid}/ns/uts`);
      if (k.get(`/proc/${record.holder.pid}/ns/net`)!.id === 'none') {
        expect(record.ids).toBeUndefined();
        return;
      }
      expect(record.ids).toEqual({ net: Number(k.get(`/proc/${record.holder.pid}/ns/net`)!.id), uts: Number(k.get(`/proc/${record.holder.pid}/ns/uts`)!.id) });
      expect(nsm(['exec', name, '--', 'true'], { env }).status).toBe(0);
      // Same inodes, another id: what a reused inode would look like. The join must refuse.
      writeFileSync(file, JSON.stringify({ ...record, ids: { ...record.ids, net: record.ids.net + 1 } }, null, 2));
      const refused = nsm(['exec', name, '--', 'true'], { env });
      expect(refused.status).toBe(125);
      writeFileSync(file, JSON.stringify(record, null, 2));
      expect(nsm(['exec', name, '--', 'true'], { env }).status).toBe(0);
    } finally {
      // The record as create wrote it: destroy refuses one whose ids no longer match (the point above).
      if (original !== undefined) writeFileSync(file, original);
      nsm(['destroy', name], { env });
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('ls NS lists the namespace\'s processes, exits 1 for a missing one; -P; PNS/ONS 0 as lsns', () => {
    const procsOf = nsmJson<{ namespaces: Array<{ pid: number; ppid: number; user: string; command: string }> }>(['ls', String(s.proc), '--json']).namespaces;
    expect(procsOf).toEqual([expect.objectContaining({ pid: s.procPid, user: 'root', command: 'sleep 1000' })]);
    const missing = nsm(['ls', '4026599999']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/not found/);
    const persistent = nsmJson<{ namespaces: Array<{ ns: number }> }>(['ls', '-P', '-t', 'net', '--json']).namespaces.map((r) => r.ns);
    expect(persistent).toContain(s.mount);
    expect(persistent).not.toContain(s.proc);
    const rel = nsmJson<{ namespaces: Array<{ ns: number; pns: number | null; ons: number | null }> }>(['ls', '-t', 'net', '-o', 'NS,PNS,ONS', '--json']).namespaces;
    expect(rel.find((r) => r.ns === s.proc)).toMatchObject({ pns: 0, ons: nsInode('self', 'user') });
  });
});
