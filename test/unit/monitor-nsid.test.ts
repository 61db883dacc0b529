/**
 * The monitor pairs NEW and GONE by namespace ID (NS_GET_ID) where the kernel has it: an
 * inode reused by a new namespace while the old one still seemed held (an fd, a mount the
 * last rescan saw) is two namespaces, not one. The real-kernel version of this is in
 * test/integration/nsid.test.ts; this one pins the tracker's rule.
 */
import { describe, expect, it } from 'vitest';
import type { HostScan, Namespace, ProcessInfo } from '../../src/core/model.js';
import type { MonitorEvent } from '../../src/core/monitor-events.js';
import { NamespaceTracker } from '../../src/core/monitor-tracker.js';

function hostScan(procs: ProcessInfo[], namespaces: Namespace[]): HostScan {
  return { processes: new Map(procs.map((p) => [p.pid, p])), namespaces, stats: { gone: 0, denied: 0 } };
}

const ns = (inode: number, extra: Partial<Namespace> = {}): Namespace => ({ type: 'net', inode, pids: [], threads: [], fds: [], mounts: [], owners: [], ...extra });

describe('monitor pairing by namespace id', () => {
  it('reports a new namespace at a reused inode as NEW after GONE of the old one, each with its id', () => {
    const events: MonitorEvent[] = [];
    const ids = new Map<number, number>([[20, 7001], [30, 7002]]);
    const t = new NamespaceTracker(
      { types: ['net'], verbose: false },
      { commandOf: () => 'x', ownersOf: () => [], mountedNow: () => false, idOf: (pid) => ids.get(pid), toEpoch: (m) => m },
      (e) => events.push(e),
    );
    t.start(hostScan([{ pid: 10, ppid: 1, uid: 0, comm: 'sh', startTime: 10, ns: { net: 100 } }], [ns(100, { pids: [10], id: 3 })]), 0);
    t.observe({ pid: 20, ppid: 10, ns: { net: 500 }, time: 1, via: 'event' });
    // A rescan sees inode 500 held by an fd of pid 10 too: the old heuristic (empty and
    // unheld) cannot tell the next namespace at 500 from this one.
    t.reconcile(hostScan([{ pid: 10, ppid: 1, uid: 0, comm: 'sh', startTime: 10, ns: { net: 100 } }, { pid: 20, ppid: 10, uid: 0, comm: 'x', startTime: 20, ns: { net: 500 } }], [ns(100, { pids: [10], id: 3 }), ns(500, { pids: [20], fds: [{ pid: 10, fd: 5 }], id: 7001 })]), 2);
    t.exited(20, 3);
    t.observe({ pid: 30, ppid: 10, ns: { net: 500 }, time: 4, via: 'event' });
    const nsEvents = events.filter((e) => e.kind === 'ns-new' || e.kind === 'ns-gone').map((e) => `${e.kind} ${'inode' in e ? e.inode : ''} ${'id' in e ? e.id : ''}`);
    expect(nsEvents).toEqual(['ns-new 500 7001', 'ns-gone 500 7001', 'ns-new 500 7002']);
  });
});
