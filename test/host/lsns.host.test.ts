/**
 * The exactness bar of `nsm ls` (issue 2 §3): on the same host at the same moment, every
 * namespace lsns lists appears in `nsm ls` with the same NS, TYPE, NPROCS and PID.
 *
 * The host is shared with other tests creating and removing processes, so "the same
 * moment" is approximated: lsns, then nsm, then lsns again, one after the other (never
 * concurrently); see the test for how rows that changed in between are compared, and a
 * round spoilt by churn is retried. Each tool counts its own process once in the host's namespaces (lsns itself;
 * nsm's node process, its scanner left out), so counts compare as they are.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childrenOf, isRoot, NetnsNames, nsInode, nsmJson, Processes, waitFor } from '../support/run.js';

interface Row {
  ns: number;
  type: string;
  nprocs: number;
  pid: number | null;
  user: string | null;
}

const key = (r: Row): string => `${r.ns} ${r.type} ${r.nprocs} ${r.pid} ${r.user}`;

function lsns(): Row[] {
  const r = spawnSync('lsns', ['-J', '-o', 'NS,TYPE,NPROCS,PID,USER'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lsns: ${r.stderr}`);
  return JSON.parse(r.stdout).namespaces;
}

function nsmLs(): Row[] {
  return nsmJson(['ls', '--json', '-o', 'NS,TYPE,NPROCS,PID,USER']).namespaces;
}

const procs = new Processes();
const netns = new NetnsNames();
const created: number[] = [];
let mountOnly = 0;

describe.skipIf(!isRoot)('nsm ls against lsns (root: lsns sees every process only as root)', () => {
  beforeAll(async () => {
    // Extra namespaces of several types, one with two processes, one a nested pid namespace.
    const a = procs.start('unshare', ['--net', '--uts', '--ipc', 'sh', '-c', 'sleep 1000 & exec sleep 1000']);
    const b = procs.start('unshare', ['--user', '--map-root-user', '--mount', '--cgroup', 'sleep', '1000']);
    const c = procs.start('unshare', ['--pid', '--fork', '--mount-proc', 'sleep', '1000']);
    await waitFor('unshare a', () => nsInode(a.pid!, 'net') !== nsInode('self', 'net') && childrenOf(a.pid!).length === 1);
    procs.adopt(childrenOf(a.pid!)[0]!); // the background sleep, or it would outlive its parent
    await waitFor('unshare b', () => nsInode(b.pid!, 'user') !== nsInode('self', 'user'));
    const inner = await waitFor('unshare c', () => {
      const [child] = childrenOf(c.pid!);
      return child !== undefined && nsInode(child, 'pid') !== nsInode('self', 'pid') && child;
    });
    procs.adopt(inner);
    created.push(nsInode(a.pid!, 'net')!, nsInode(a.pid!, 'uts')!, nsInode(b.pid!, 'user')!, nsInode(b.pid!, 'mnt')!, nsInode(inner, 'pid')!);
    // lsns 2.38 does not list a namespace held only by a bind mount; nsm must.
    mountOnly = statSync(`/run/netns/${netns.add(`nsmt-lsns-${process.pid}`)}`).ino;
  });

  afterAll(async () => {
    await procs.stop();
    netns.removeAll();
  });

  it('lists every namespace lsns lists, with the same NS, TYPE, NPROCS, PID (and USER)', () => {
    // Per round: lsns, nsm, lsns. A row lsns printed identically both times must be in nsm's
    // output identically ("exact"). A row whose NPROCS moved between the two lsns runs (other
    // tests starting processes in the host's namespaces) must have nsm's NPROCS between the
    // two ("bracketed"), everything else equal. A row that failed in one round must pass in
    // a later one: only a difference that persists is a real one.
    const exact = new Set<number>();
    const passed = new Set<number>();
    const failed = new Map<number, { lsnsBefore: Row; lsnsAfter: Row; nsm?: Row }>();
    let sawMountOnly = false;
    for (let round = 0; round < 10; round++) {
      const before = lsns();
      const ours = nsmLs();
      const after = lsns();
      const afterByNs = new Map(after.map((r) => [r.ns, r]));
      const byNs = new Map(ours.map((r) => [r.ns, r]));
      for (const b of before) {
        const a = afterByNs.get(b.ns);
        if (!a || a.type !== b.type || a.pid !== b.pid || a.user !== b.user) continue; // came or went
        const n = byNs.get(b.ns);
        const lo = Math.min(a.nprocs, b.nprocs);
        const hi = Math.max(a.nprocs, b.nprocs);
        const ok = n !== undefined && n.type === b.type && n.pid === b.pid && n.user === b.user && n.nprocs >= lo && n.nprocs <= hi;
        if (ok) {
          passed.add(b.ns);
          if (lo === hi) exact.add(b.ns);
        } else {
          failed.set(b.ns, { lsnsBefore: b, lsnsAfter: a, nsm: n });
        }
      }
      sawMountOnly ||= before.some((r) => r.ns === mountOnly);
      expect(ours.find((r) => r.ns === mountOnly)).toMatchObject({ type: 'net', nprocs: 0, pid: null });
      const unresolved = [...failed.keys()].filter((ns) => !passed.has(ns));
      if (round >= 1 && unresolved.length === 0 && created.every((ns) => exact.has(ns))) break;
    }
    expect([...failed].filter(([ns]) => !passed.has(ns)).map(([, d]) => d)).toEqual([]);
    // The namespaces this test created are quiet: those must have matched exactly.
    for (const ns of created) expect(exact, `namespace ${ns} created by this test`).toContain(ns);
    // The host's initial namespaces (one of each type) were compared too.
    expect(passed.size).toBeGreaterThanOrEqual(created.length + 8);
    expect(sawMountOnly, 'lsns 2.38 lists a mount-only namespace: the test premise changed').toBe(false);
  });
});
