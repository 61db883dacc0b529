import { describe, expect, it } from 'vitest';
import type { HostScan, Namespace, ProcessInfo } from '../../src/core/model.js';
import type { MonitorEvent } from '../../src/core/monitor-events.js';
import { NamespaceTracker, type TrackerOptions } from '../../src/core/monitor-tracker.js';
import type { NsType } from '../../src/sys/nstypes.js';

const HOST_NET = 100;
const HOST_MNT = 101;

/** A scan with these processes (pid -> namespaces) plus extra holders. */
function scan(procs: Record<number, { ppid?: number; ns: Partial<Record<NsType, number>> }>, extra: Partial<Record<number, Partial<Namespace>>> = {}): HostScan {
  const processes = new Map<number, ProcessInfo>();
  const byInode = new Map<number, Namespace>();
  const ns = (type: NsType, inode: number): Namespace => {
    let n = byInode.get(inode);
    if (!n) byInode.set(inode, (n = { type, inode, pids: [], threads: [], fds: [], mounts: [], owners: [] }));
    return n;
  };
  for (const [pidText, p] of Object.entries(procs)) {
    const pid = Number(pidText);
    processes.set(pid, { pid, ppid: p.ppid ?? 1, comm: `comm${pid}`, startTime: pid, ns: p.ns });
    for (const [type, inode] of Object.entries(p.ns)) ns(type as NsType, inode!).pids.push(pid);
  }
  for (const [inodeText, holders] of Object.entries(extra)) Object.assign(ns(holders!.type ?? 'net', Number(inodeText)), holders);
  return { processes, namespaces: [...byInode.values()].sort((a, b) => a.inode - b.inode), stats: { gone: 0, denied: 0 } };
}

function tracker(options: Partial<TrackerOptions> = {}, mounted = new Set<number>()) {
  const events: MonitorEvent[] = [];
  const t = new NamespaceTracker(
    { types: ['net', 'mnt'], verbose: false, ...options },
    {
      commandOf: (pid) => `cmd ${pid}`,
      ownersOf: () => [],
      mountedNow: (inode) => mounted.has(inode),
      toEpoch: (m) => m,
    },
    (e) => events.push(e),
  );
  const kinds = () => events.map((e) => ('inode' in e ? `${e.kind} ${e.inode}` : e.kind));
  return { t, events, kinds };
}

const host = { net: HOST_NET, mnt: HOST_MNT };

describe('NamespaceTracker', () => {
  it('reports NEW on exec into a new namespace and GONE (with lifetime) only once a later rescan misses it', () => {
    const { t, events, kinds } = tracker();
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 20, ppid: 10, ns: host, time: 1, fork: true, via: 'event' });
    t.observe({ pid: 20, ns: { net: 500, mnt: HOST_MNT }, command: 'sleep 0.01', time: 2, via: 'event' });
    expect(events).toEqual([{ kind: 'ns-new', time: 2, type: 'net', inode: 500, id: null, pid: 20, command: 'sleep 0.01', owners: [], via: 'event' }]);
    t.exited(20, 12);
    expect(t.awaitingConfirmation()).toBe(1);
    // A rescan that began before the exit proves nothing.
    t.reconcile(scan({ 10: { ns: host } }), 11);
    expect(kinds()).toEqual(['ns-new 500']);
    t.reconcile(scan({ 10: { ns: host } }), 20);
    expect(events[1]).toEqual({ kind: 'ns-gone', time: 12, type: 'net', inode: 500, id: null, lifetimeMs: 10, owners: [], via: 'rescan' });
    expect(t.awaitingConfirmation()).toBe(0);
  });

  it('sees a namespace made by clone(CLONE_NEWNET) at fork', () => {
    const { t, kinds } = tracker();
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 21, ppid: 10, ns: { net: 600, mnt: HOST_MNT }, time: 1, fork: true, via: 'event' });
    expect(kinds()).toEqual(['ns-new 600']);
  });

  it('a fork child in a known namespace its parent was not in: the parent\'s setns(2) when it is there now, else the child\'s join', () => {
    const events: MonitorEvent[] = [];
    const now: Record<number, number> = { 10: 700 };
    const t = new NamespaceTracker(
      { types: ['net', 'pid'], verbose: true },
      { commandOf: (pid) => `cmd ${pid}`, ownersOf: () => [], mountedNow: () => false, toEpoch: (m) => m, nsNow: (pid) => now[pid] },
      (e) => events.push(e),
    );
    t.start(scan({ 10: { ns: { net: HOST_NET, pid: 200 } }, 11: { ns: { net: HOST_NET, pid: 200 } }, 30: { ns: { net: 700, pid: 201 } } }), 0);
    const brief = () => events.map((e) => ('inode' in e ? `${e.kind} ${e.pid} ${e.type} ${e.inode}${'from' in e ? ` from ${e.from}` : ''}` : e.kind));
    // nsm exec: 10 joined net 700 and pid 201 (pid_for_children) without an exec, then forked 20.
    t.observe({ pid: 20, ppid: 10, ns: { net: 700, pid: 201 }, time: 1, fork: true, via: 'event' });
    expect(brief()).toEqual(['ns-leave 10 net 100', 'ns-join 10 net 700 from 100', 'ns-join 20 pid 201 from 200']);
    // Its next child inherits the net namespace; it too enters pid_for_children from the parent's.
    t.observe({ pid: 21, ppid: 10, ns: { net: 700, pid: 201 }, time: 2, fork: true, via: 'event' });
    expect(brief().slice(3)).toEqual(['ns-join 21 pid 201 from 200']);
    // 11 is not in 700 now (its child switched before its links were read): the child joined.
    t.observe({ pid: 22, ppid: 11, ns: { net: 700, pid: 200 }, time: 3, fork: true, via: 'event' });
    expect(brief().slice(4)).toEqual(['ns-join 22 net 700 from 100']);
  });

  it('a parent\'s LEAVE and JOIN name the same command even when it exits between two reads of its command line', () => {
    const events: MonitorEvent[] = [];
    // After the start, the helper's command line can be read once; then it has exited (proc(5): nothing to read).
    let reads = Infinity;
    const t = new NamespaceTracker(
      { types: ['net'], verbose: true },
      { commandOf: (pid) => (reads-- > 0 ? `nsm-helper join ${pid}` : undefined), ownersOf: () => [], mountedNow: () => false, toEpoch: (m) => m, nsNow: () => 700 },
      (e) => events.push(e),
    );
    t.start(scan({ 10: { ns: { net: HOST_NET } }, 30: { ns: { net: 700 } } }), 0);
    reads = 1;
    // 10 execs nsm-helper (no namespace changed: the record carries no command), joins 700, forks 20.
    t.observe({ pid: 10, ns: { net: HOST_NET }, time: 0.5, exec: true, via: 'event' });
    t.observe({ pid: 20, ppid: 10, ns: { net: 700 }, time: 1, fork: true, via: 'event' });
    expect(events.map((e) => [e.kind, 'command' in e ? e.command : undefined])).toEqual([
      ['ns-leave', 'nsm-helper join 10'],
      ['ns-join', 'nsm-helper join 10'],
    ]);
  });

  it('does not report GONE while a bind mount holds the namespace, and does once it is unmounted', () => {
    const { t, kinds } = tracker();
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 30, ns: { net: 700, mnt: HOST_MNT }, time: 1, via: 'event' });
    t.exited(30, 2);
    const mount = { type: 'net' as NsType, mounts: [{ path: '/run/netns/blue', visible: true }] };
    t.reconcile(scan({ 10: { ns: host } }, { 700: mount }), 3);
    expect(kinds()).toEqual(['ns-new 700']);
    expect(t.awaitingConfirmation()).toBe(0); // held: no more confirmation rescans needed
    t.reconcile(scan({ 10: { ns: host } }, { 700: mount }), 10);
    expect(kinds()).toEqual(['ns-new 700']);
    t.reconcile(scan({ 10: { ns: host } }), 20);
    expect(kinds()).toEqual(['ns-new 700', 'ns-gone 700']);
  });

  it('keeps a namespace held by an fd alive, and finds one held only by an fd as NEW (rescan)', () => {
    const { t, events, kinds } = tracker();
    t.start(scan({ 10: { ns: host } }), 0);
    t.reconcile(scan({ 10: { ns: host } }, { 800: { type: 'net', fds: [{ pid: 10, fd: 5 }] } }), 5);
    expect(events[0]).toMatchObject({ kind: 'ns-new', inode: 800, via: 'rescan', pid: undefined });
    t.reconcile(scan({ 10: { ns: host } }), 9);
    expect(kinds()).toEqual(['ns-new 800', 'ns-gone 800']);
    expect(events[1]).toMatchObject({ time: 9, lifetimeMs: 4 });
  });

  it('ignores a rescan view of a process that exited after the rescan read it', () => {
    const { t, kinds } = tracker();
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 40, ns: { net: 900, mnt: HOST_MNT }, time: 1, via: 'event' });
    t.exited(40, 6); // exit seen by event...
    t.reconcile(scan({ 10: { ns: host }, 40: { ns: { net: 900, mnt: HOST_MNT } } }), 5); // ...scan read it at 5
    expect(kinds()).toEqual(['ns-new 900']); // neither resurrected nor GONE yet (emptied after the scan began)
    t.reconcile(scan({ 10: { ns: host } }), 7);
    expect(kinds()).toEqual(['ns-new 900', 'ns-gone 900']);
  });

  it('treats a process entering an emptied, unheld namespace as inode reuse: GONE then NEW', () => {
    const { t, events, kinds } = tracker();
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 50, ns: { net: 1000, mnt: HOST_MNT }, time: 1, via: 'event' });
    t.exited(50, 3);
    t.observe({ pid: 51, ns: { net: 1000, mnt: HOST_MNT }, time: 4, via: 'event' });
    expect(kinds()).toEqual(['ns-new 1000', 'ns-gone 1000', 'ns-new 1000']);
    expect(events[1]).toMatchObject({ time: 3, lifetimeMs: 2 });
  });

  it('treats it as a JOIN, not reuse, when the emptied namespace is bind-mounted now (ip netns add)', () => {
    const { t, kinds } = tracker({}, new Set([1050]));
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 52, ppid: 10, ns: { net: 1050, mnt: HOST_MNT }, time: 1, fork: true, via: 'event' }); // ip's child after unshare
    t.exited(52, 2);
    t.observe({ pid: 53, ns: { net: 1050, mnt: HOST_MNT }, time: 3, via: 'event' }); // ip netns exec
    expect(kinds()).toEqual(['ns-new 1050']);
    t.exited(53, 4);
    t.reconcile(scan({ 10: { ns: host } }, { 1050: { type: 'net', mounts: [{ path: '/run/netns/x', visible: true }] } }), 5);
    expect(kinds()).toEqual(['ns-new 1050']);
  });

  it('polling: a process first seen in a namespace whose first process exited unseen joins it (create, fork, exit: nsm create, runc)', () => {
    const { t, kinds } = tracker({ verbose: true });
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 54, ppid: 10, ns: { net: 1060, mnt: HOST_MNT }, time: 1, via: 'poll' });
    expect(t.inCreatedNamespace(54)).toBe(true);
    expect(t.inCreatedNamespace(10)).toBe(false);
    // 54 forked 55 and exited before the next poll; 55 was reparented (ppid 1).
    t.observe({ pid: 55, ppid: 1, ns: { net: 1060, mnt: HOST_MNT }, time: 9, via: 'poll' });
    t.exited(54, 10);
    expect(kinds()).toEqual(['ns-new 1060']);
    expect(t.awaitingConfirmation()).toBe(0); // 55 holds it
  });

  it('polling: a child read only after its parent\'s exit was seen, in the same namespace (same NS_GET_ID), keeps it one namespace: no GONE then NEW', () => {
    // Captured under load (monitor.host.test.ts, --poll): unshare -n sh -c 'sleep 30 & ...':
    // the poll read sh, the child was not in /proc yet when the cursor passed it, a look saw
    // sh gone, and the next tick read the child: NEW, GONE 22 ms later, NEW, same id.
    const events: MonitorEvent[] = [];
    const ids: Record<number, number> = { 70: 7001, 71: 7001, 72: 7002 };
    const t = new NamespaceTracker(
      { types: ['net', 'mnt'], verbose: true },
      { commandOf: (pid) => `cmd ${pid}`, ownersOf: () => [], mountedNow: () => false, toEpoch: (m) => m, idOf: (pid, type) => (type === 'net' ? ids[pid] : undefined) },
      (e) => events.push(e),
    );
    const kinds = () => events.map((e) => ('inode' in e ? `${e.kind} ${e.inode}${'id' in e && e.id !== null ? ` id ${e.id}` : ''}` : e.kind));
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 70, ppid: 10, startTime: 70, ns: { net: 1100, mnt: HOST_MNT }, time: 1, via: 'poll' });
    t.exited(70, 23); // a look: sh has exited
    t.observe({ pid: 71, ppid: 1, startTime: 71, ns: { net: 1100, mnt: HOST_MNT }, time: 33, via: 'poll' }); // its child, reparented
    expect(kinds()).toEqual(['ns-new 1100 id 7001']);
    expect(t.awaitingConfirmation()).toBe(0); // 71 holds it
    t.reconcile(scan({ 10: { ns: host }, 71: { ns: { net: 1100, mnt: HOST_MNT } } }, { 1100: { type: 'net', id: 7001 } }), 40);
    expect(kinds()).toEqual(['ns-new 1100 id 7001']);
    // Another id at that inode later is another namespace: the old one is gone.
    t.exited(71, 50);
    t.observe({ pid: 72, ppid: 10, startTime: 72, ns: { net: 1100, mnt: HOST_MNT }, time: 60, via: 'poll' });
    expect(kinds()).toEqual(['ns-new 1100 id 7001', 'ns-gone 1100 id 7001', 'ns-new 1100 id 7002']);
  });

  it('a rescan that runs ahead of events on their way does not take a child for a new namespace (event mode)', () => {
    const { t, kinds } = tracker();
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 59, ns: { net: 1080, mnt: HOST_MNT }, time: 1, via: 'event' });
    // 59 forked 60 and exited; both events are still in the worker's batch when a rescan sees 60.
    t.reconcile(scan({ 10: { ns: host }, 60: { ns: { net: 1080, mnt: HOST_MNT } } }), 2);
    t.exited(59, 1.5);
    expect(kinds()).toEqual(['ns-new 1080']);
  });

  it('reports JOIN and LEAVE with --verbose when a process moves into a known namespace', () => {
    const { t, kinds } = tracker({ verbose: true });
    t.start(scan({ 10: { ns: host }, 11: { ns: { net: 1100, mnt: HOST_MNT } } }), 0);
    t.observe({ pid: 60, ppid: 10, ns: host, time: 1, fork: true, via: 'event' });
    t.observe({ pid: 60, ns: { net: 1100, mnt: HOST_MNT }, time: 2, via: 'event' }); // setns + exec
    expect(kinds()).toEqual([`ns-leave ${HOST_NET}`, 'ns-join 1100']);
  });

  it('picks up a move made without exec (setns) from a rescan, not from stale polls', () => {
    const { t, kinds } = tracker({ verbose: true });
    t.start(scan({ 1: { ns: host }, 10: { ns: host }, 11: { ns: { net: 1200, mnt: HOST_MNT } } }), 0);
    t.reconcile(scan({ 1: { ns: host }, 10: { ns: { net: 1200, mnt: HOST_MNT } }, 11: { ns: { net: 1200, mnt: HOST_MNT } } }), 5);
    expect(kinds()).toEqual([`ns-leave ${HOST_NET}`, 'ns-join 1200']);
    t.observe({ pid: 10, ns: host, time: 4, via: 'poll' }); // older than the rescan: stale
    expect(kinds()).toHaveLength(2);
  });

  // What a rescan alone shows happened somewhere between its start and its end: a process it
  // finds moved (setns(2) or unshare(2) without exec) may have left after the scan began.
  it('a namespace a rescan finds its last process moved out of is GONE when the scan ended, not when it began', () => {
    const { t, events } = tracker({ verbose: true });
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 60, ppid: 10, ns: host, time: 1, fork: true, via: 'event' });
    t.observe({ pid: 60, ns: { net: 1250, mnt: HOST_MNT }, time: 2, via: 'event' }); // unshare -n + exec
    // Began at 100; the process went back to the host's namespace (setns, no exec) before the scan read it at 140; ended at 150.
    t.reconcile(scan({ 10: { ns: host }, 60: { ns: host } }), 100, { finished: 150 });
    expect(events.find((e) => e.kind === 'ns-gone')).toMatchObject({ inode: 1250, time: 150, lifetimeMs: 148, via: 'rescan' });
    // Its LEAVE and JOIN say the same moment.
    expect(events.filter((e) => (e.kind === 'ns-leave' || e.kind === 'ns-join') && e.via === 'rescan').map((e) => [e.kind, e.time])).toEqual([
      ['ns-leave', 150],
      ['ns-join', 150],
    ]);
  });

  it('with -p follows only the tree: its NEW and GONE, not a stranger\'s', () => {
    const { t, kinds } = tracker({ followPid: 10 });
    const baseline = t.start(scan({ 10: { ns: host }, 11: { ppid: 10, ns: host }, 99: { ns: { net: 1300, mnt: HOST_MNT } } }), 0);
    expect(baseline.map((b) => b.inode)).toEqual([HOST_NET, HOST_MNT]);
    t.observe({ pid: 12, ppid: 11, ns: host, time: 1, fork: true, via: 'event' }); // grandchild
    t.observe({ pid: 12, ns: { net: 1400, mnt: HOST_MNT }, time: 2, via: 'event' });
    t.observe({ pid: 98, ppid: 1, ns: host, time: 3, fork: true, via: 'event' }); // stranger
    t.observe({ pid: 98, ns: { net: 1500, mnt: HOST_MNT }, time: 4, via: 'event' });
    t.exited(12, 5);
    t.exited(98, 6);
    t.reconcile(scan({ 10: { ns: host }, 11: { ppid: 10, ns: host }, 99: { ns: { net: 1300, mnt: HOST_MNT } } }), 10);
    expect(kinds()).toEqual(['ns-new 1400', 'ns-gone 1400']);
  });

  it('with -p follows children first seen by a poll', () => {
    const { t, kinds } = tracker({ followPid: 10 });
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 13, ppid: 10, startTime: 5, ns: { net: 1450, mnt: HOST_MNT }, time: 1, via: 'poll' });
    t.observe({ pid: 97, ppid: 1, startTime: 6, ns: { net: 1550, mnt: HOST_MNT }, time: 1, via: 'poll' });
    expect(kinds()).toEqual(['ns-new 1450']);
  });

  it('summarises created, destroyed and alive per type, and what was created and is still alive', () => {
    const { t } = tracker();
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 70, ns: { net: 1600, mnt: 1601 }, time: 1, via: 'event', command: 'unshare -nm sleep 1' });
    t.observe({ pid: 71, ns: { net: 1700, mnt: HOST_MNT }, time: 1, via: 'event' });
    t.exited(71, 2);
    t.reconcile(scan({ 10: { ns: host }, 70: { ns: { net: 1600, mnt: 1601 } } }), 3);
    const s = t.summary();
    expect(s.types).toEqual({ net: { created: 2, destroyed: 1, alive: 2 }, mnt: { created: 1, destroyed: 0, alive: 2 } });
    expect(s.stillAlive.map((n) => [n.type, n.inode, n.pid, n.command, n.held])).toEqual([
      ['net', 1600, 70, 'unshare -nm sleep 1', ['procs']],
      ['mnt', 1601, 70, 'unshare -nm sleep 1', ['procs']],
    ]);
  });

  // A rescan reads the mount table, fds and processes somewhere between its start and its end;
  // what it alone shows may have happened after it began (ip netns del during the scan).
  it('dates what only a rescan shows at its end: a GONE never before the unmount, a NEW never before it was made', () => {
    const { t, events } = tracker();
    const mount = { type: 'net' as NsType, mounts: [{ path: '/run/netns/blue', visible: true }] };
    t.start(scan({ 10: { ns: host } }, { 700: mount }), 0);
    t.reconcile(scan({ 10: { ns: host } }, { 700: mount }), 10, { finished: 20 }); // seen held until 20 at least
    // Began at 100, before the unmount; read the mount table at 140, after it; ended at 150.
    t.reconcile(scan({ 10: { ns: host } }, { 800: { type: 'net', fds: [{ pid: 10, fd: 5 }] } }), 100, { finished: 150 });
    expect(events.find((e) => e.kind === 'ns-gone')).toMatchObject({ inode: 700, time: 150, via: 'rescan' });
    expect(events.find((e) => e.kind === 'ns-new')).toMatchObject({ inode: 800, time: 150, via: 'rescan' });
    // A process only the rescan shows in a new namespace (unshare(2) without exec).
    t.reconcile(scan({ 10: { ns: host }, 60: { ns: { net: 900, mnt: HOST_MNT } } }, { 800: { type: 'net', fds: [{ pid: 10, fd: 5 }] } }), 200, { finished: 260 });
    expect(events.find((e) => e.kind === 'ns-new' && e.inode === 900)).toMatchObject({ time: 260, pid: 60 });
    // Its exit inferred by the next rescan (it was no longer listed when that one looked): GONE then, never before.
    t.reconcile(scan({ 10: { ns: host } }, { 800: { type: 'net', fds: [{ pid: 10, fd: 5 }] } }), 300, { finished: 340 });
    expect(events.find((e) => e.kind === 'ns-gone' && e.inode === 900)).toMatchObject({ time: 340, lifetimeMs: 80 });
    // An exit seen by an event keeps its own time.
    t.observe({ pid: 61, ns: { net: 950, mnt: HOST_MNT }, time: 350, via: 'event' });
    t.exited(61, 360);
    t.reconcile(scan({ 10: { ns: host } }, { 800: { type: 'net', fds: [{ pid: 10, fd: 5 }] } }), 400, { finished: 450 });
    expect(events.find((e) => e.kind === 'ns-gone' && e.inode === 950)).toMatchObject({ time: 360, lifetimeMs: 10 });
  });

  it('a pinned namespace (no process since the start) whose inode another one takes after its unmount is GONE when that is seen, not at the start', () => {
    const { t, events } = tracker();
    const mount = { type: 'net' as NsType, mounts: [{ path: '/run/netns/blue', visible: true }] };
    t.start(scan({ 10: { ns: host } }, { 700: { ...mount, id: 50 } }), 0); // no member: empty since 0
    // ip netns del at 90; at 100 a process is seen in a new namespace that got the same inode.
    t.observe({ pid: 20, ns: { net: 700, mnt: HOST_MNT }, ids: { net: 51 }, time: 100, via: 'event' });
    expect(events.map((e) => [e.kind, 'id' in e ? e.id : undefined, e.time])).toEqual([
      ['ns-gone', 50, 100],
      ['ns-new', 51, 100],
    ]);
    // The same through a rescan that shows the new id at that inode.
    const r = tracker();
    r.t.start(scan({ 10: { ns: host } }, { 700: { ...mount, id: 50 } }), 0);
    r.t.reconcile(scan({ 10: { ns: host } }, { 700: { type: 'net', id: 52, fds: [{ pid: 10, fd: 5 }] } }), 100, { finished: 150 });
    expect(r.events.find((e) => e.kind === 'ns-gone')).toMatchObject({ id: 50, time: 150 });
  });

  it('ignores a stale exit for a pid already reused by a newer process', () => {
    const { t, kinds } = tracker();
    t.start(scan({ 10: { ns: host } }), 0);
    t.observe({ pid: 80, ns: { net: 1800, mnt: HOST_MNT }, time: 5, via: 'event' });
    t.exited(80, 4); // the previous holder of pid 80, reported late
    t.reconcile(scan({ 10: { ns: host }, 80: { ns: { net: 1800, mnt: HOST_MNT } } }), 6);
    expect(kinds()).toEqual(['ns-new 1800']);
  });
  describe('knows what it missed (issue 10 §5)', () => {
    it('counts nothing when events showed every NEW and every exit', () => {
      const { t } = tracker();
      t.start(scan({ 10: { ns: host } }), 0);
      t.observe({ pid: 20, ppid: 10, ns: host, time: 1, fork: true, via: 'event' });
      t.observe({ pid: 20, ns: { net: 500, mnt: HOST_MNT }, time: 2, via: 'event' });
      t.exited(20, 3);
      t.reconcile(scan({ 10: { ns: host } }), 10);
      expect(t.summary()).toMatchObject({ lost: 0, unread: 0, missedNew: 0, missedGone: 0 });
      expect(t.hasUnreportedLoss()).toBe(false);
    });

    it('counts a namespace only a rescan found as missedNew, and one whose exit a rescan inferred as missedGone', () => {
      const { t, events } = tracker();
      t.start(scan({ 10: { ns: host } }), 0);
      // Captured sequence under ENOBUFS: the fork and exec of 30 were dropped; 40 was seen
      // entering its namespace but its exit was dropped.
      t.noteLost();
      t.observe({ pid: 40, ppid: 10, ns: host, time: 1, fork: true, via: 'event' });
      t.observe({ pid: 40, ns: { net: 800, mnt: HOST_MNT }, time: 2, via: 'event' });
      t.reconcile(scan({ 10: { ns: host }, 30: { ns: { net: 700, mnt: HOST_MNT } } }), 10);
      expect(t.summary()).toMatchObject({ lost: 1, missedNew: 1, missedGone: 1 });
      const gone = events.find((e) => e.kind === 'ns-gone');
      expect(gone).toMatchObject({ inode: 800, via: 'rescan' });
      // One 'lost' record with the counts since the last one, and the totals.
      t.reportLoss(11);
      t.reportLoss(12); // nothing new: no second record
      const lost = events.filter((e) => e.kind === 'lost');
      expect(lost).toEqual([{ kind: 'lost', time: 11, since: { lost: 1, unread: 0, missedNew: 1, missedGone: 1 }, total: { lost: 1, unread: 0, missedNew: 1, missedGone: 1 } }]);
      t.noteUnread(3);
      t.reportLoss(13);
      expect(events.at(-1)).toEqual({ kind: 'lost', time: 13, since: { lost: 0, unread: 3, missedNew: 0, missedGone: 0 }, total: { lost: 1, unread: 3, missedNew: 1, missedGone: 1 } });
    });

    it('counts a GONE as missed when the pid was reused before its exit was seen', () => {
      const { t } = tracker();
      t.start(scan({ 10: { ns: host } }), 0);
      t.observe({ pid: 50, ppid: 10, ns: { net: 900, mnt: HOST_MNT }, time: 1, fork: true, via: 'event' });
      // The exit of 50 was dropped; a new process got pid 50 in the host's namespaces.
      t.observe({ pid: 50, ppid: 10, ns: host, time: 5, fork: true, via: 'event' });
      t.reconcile(scan({ 10: { ns: host }, 50: { ns: host } }), 10);
      expect(t.summary()).toMatchObject({ missedNew: 0, missedGone: 1 });
    });

    it('does not count exits the last rescan finds after events stopped', () => {
      const { t } = tracker();
      t.start(scan({ 10: { ns: host } }), 0);
      t.observe({ pid: 60, ppid: 10, ns: { net: 950, mnt: HOST_MNT }, time: 1, fork: true, via: 'event' });
      t.reconcile(scan({ 10: { ns: host } }), 10, { final: true });
      expect(t.summary()).toMatchObject({ missedGone: 0, types: { net: { destroyed: 1 } } });
    });
  });
});
