import { describe, expect, it } from 'vitest';
import type { MonitorEvent } from '../../src/core/monitor-events.js';
import { stripAnsi } from '../../src/ui/colour.js';
import { clock, duration, formatMonitorEvent, monitorEventJson, monitorPrinter } from '../../src/ui/monitor.js';

const T = Date.UTC(2026, 10, 22, 5, 30, 1, 234);
const out = (e: MonitorEvent) => stripAnsi(formatMonitorEvent(e).out ?? '');
const owners = [{ kind: 'netns', id: 'blue', name: 'blue' }];

describe('monitor output', () => {
  it('stamps each line with a millisecond clock', () => {
    expect(clock(T)).toMatch(/^\d\d:\d\d:01\.234$/);
  });

  it('formats durations from sub-millisecond to hours', () => {
    expect([0.84, 10.94, 250, 2345, 185_000, 3_725_000].map(duration)).toEqual(['0.8ms', '10.9ms', '250ms', '2.35s', '3m05s', '1h02m']);
  });

  it('prints NEW with pid, command and name, GONE with the lifetime', () => {
    expect(out({ kind: 'ns-new', time: T, type: 'net', inode: 4026532177, pid: 42, command: 'sleep 1', owners, via: 'event' })).toMatch(
      /^\d\d:\d\d:01\.234 NEW   net    4026532177  pid 42  sleep 1  netns:blue\n$/,
    );
    expect(out({ kind: 'ns-new', time: T, type: 'net', inode: 9, owners: [], via: 'rescan' })).toMatch(/NEW   net             9  no process  \(rescan\)\n$/);
    expect(out({ kind: 'ns-gone', time: T, type: 'mnt', inode: 7, lifetimeMs: 10.94, owners: [], via: 'rescan' })).toMatch(/GONE  mnt             7  lived 10\.9ms\n$/);
    expect(out({ kind: 'ns-gone', time: T, type: 'mnt', inode: 7, owners: [], via: 'rescan' })).toMatch(/existed at start\n$/);
  });

  it('prints JOIN and LEAVE with where the process came from or went', () => {
    expect(out({ kind: 'ns-join', time: T, type: 'net', inode: 5, pid: 3, command: 'ip', from: 4, owners: [], via: 'event' })).toMatch(/JOIN  net             5  pid 3  ip  \(from 4\)\n$/);
    expect(out({ kind: 'ns-leave', time: T, type: 'net', inode: 4, pid: 3, to: 5, owners: [], via: 'event' })).toMatch(/LEAVE net             4  pid 3  \(to 5\)\n$/);
    const owners = [{ kind: 'nsm', id: 'web', name: 'web' }];
    expect(out({ kind: 'ns-join', time: T, type: 'net', inode: 5, pid: 3, command: 'sh', from: 4, owners, via: 'event' })).toMatch(/JOIN  net             5  pid 3  sh  nsm:web  \(from 4\)\n$/);
  });

  it('says on stderr, once, that it polls or lost events', () => {
    const poll = formatMonitorEvent({ kind: 'mode', time: T, mode: 'poll', intervalMs: 250, rescanMs: 5000, reason: 'not root', types: ['net'] });
    expect(poll).toEqual({ err: 'nsm: monitor: not root: polling /proc every 250 ms; namespaces that live less than that may be missed\n' });
    const ticking = formatMonitorEvent({ kind: 'mode', time: T, mode: 'poll', intervalMs: 250, tickMs: 10, quietTickMs: 50, rescanMs: 5000, reason: 'not root', types: ['net'] });
    expect(ticking).toEqual({
      err: 'nsm: monitor: not root: polling /proc: new processes every 10 ms (50 ms when quiet), all every 250 ms; namespaces that live less than 50 ms may be missed\n',
    });
    expect(formatMonitorEvent({ kind: 'mode', time: T, mode: 'events', rescanMs: 5000, types: ['net'] })).toEqual({});
    expect(formatMonitorEvent({ kind: 'overrun', time: T, count: 1 }).err).toMatch(/ENOBUFS/);
    expect(formatMonitorEvent({ kind: 'overrun', time: T, count: 2 })).toEqual({});
  });

  it('prints the summary per type and what is still alive', () => {
    const text = out({
      kind: 'summary', time: T, mode: 'events', durationMs: 2500, overruns: 0, lost: 0, unread: 0, missedNew: 0, missedGone: 0,
      types: { net: { created: 3, destroyed: 2, alive: 4 } },
      stillAlive: [{ type: 'net', inode: 11, nprocs: 1, pid: 5, command: 'sleep 9', held: ['procs'], owners: [] }],
    });
    expect(text).toContain('SUMMARY 2.50s (process events)');
    expect(text).toMatch(/TYPE CREATED DESTROYED ALIVE\nnet +3 +2 +4\n/);
    expect(text).toMatch(/still alive \(1\):\nNS TYPE NPROCS PID HELD +NAME COMMAND\n11 net +1 +5 procs +sleep 9\n/);
  });

  it('says what was missed: a LOST line on stderr, and in the summary', () => {
    const since = { lost: 1, unread: 12, missedNew: 0, missedGone: 2 };
    expect(formatMonitorEvent({ kind: 'lost', time: T, since, total: since })).toEqual({
      err: 'nsm: monitor: LOST: events dropped 1 time (kernel queue full, or more new pids than one poll reads), 12 processes gone before their namespaces were read, 2 namespaces found gone by a rescan, the exit unseen; short-lived namespaces may be missing\n',
    });
    const text = out({ kind: 'summary', time: T, mode: 'events', durationMs: 2500, overruns: 1, ...since, types: { net: { created: 3, destroyed: 2, alive: 4 } }, stillAlive: [] });
    expect(text).toContain('SUMMARY 2.50s (process events); missed: events dropped 1 time');
  });

  it('writes JSON Lines with schemaVersion and an ISO time', () => {
    const lines: string[] = [];
    const sink = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
    const print = monitorPrinter({ json: true, out: sink, err: sink });
    print({ kind: 'ns-gone', time: T, type: 'net', inode: 7, lifetimeMs: 12.5, owners, via: 'event' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ schemaVersion: 1, kind: 'ns-gone', time: '2026-11-22T05:30:01.234Z', type: 'net', inode: 7, lifetimeMs: 12.5, owners, via: 'event' });
    expect(monitorEventJson({ kind: 'overrun', time: T, count: 1 })).toEqual({ kind: 'overrun', time: '2026-11-22T05:30:01.234Z', count: 1 });
  });
});
