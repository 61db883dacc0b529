import { describe, expect, it } from 'vitest';
import { parseListen } from '../../src/commands/serve.js';
import { lostEventsIn } from '../../src/core/exporter.js';

describe('nsm serve: pure parts', () => {
  it('--listen: HOST:PORT, [IPv6]:PORT, :PORT (every address)', () => {
    expect(parseListen('127.0.0.1:9436')).toEqual({ host: '127.0.0.1', port: 9436 });
    expect(parseListen('[::1]:9436')).toEqual({ host: '::1', port: 9436 });
    expect(parseListen(':9436')).toEqual({ host: '0.0.0.0', port: 9436 });
    expect(parseListen('node1.example:1')).toEqual({ host: 'node1.example', port: 1 });
    for (const bad of ['', '9436', ':0', ':65536', '::1:9436', 'a b:1', `${'x'.repeat(200)}:`]) expect(() => parseListen(bad), bad).toThrow(/--listen needs HOST:PORT/);
    expect(() => parseListen('y'.repeat(500))).toThrow(/not: y{80}\.\.\.$/);
  });

  it('nsm_monitor_lost_events_total counts what the monitor reports lost', () => {
    const total = { lost: 3, unread: 5, missedNew: 1, missedGone: 0 };
    expect(lostEventsIn({ kind: 'lost', time: 0, since: { lost: 1, unread: 2, missedNew: 1, missedGone: 0 }, total })).toBe(3);
    // An overrun is in the next 'lost' record's counts already.
    expect(lostEventsIn({ kind: 'overrun', time: 0, count: 3 })).toBe(0);
    expect(lostEventsIn({ kind: 'ns-new', time: 0, type: 'net', inode: 1, owners: [], via: 'event' })).toBe(0);
  });
});
