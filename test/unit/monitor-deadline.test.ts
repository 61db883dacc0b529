import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HostScan } from '../../src/core/model.js';
import type { ConnectorRecord } from '../../src/sys/proc-connector.js';
import { fakeProc, scanOf } from '../support/fake-proc.js';

// Event mode with a fake connector and fake scans: a burst's records arrive while a rescan
// runs, so that the rescan applies them all at once before its own view. On a loaded host
// that took longer than what was left of --duration, and held the run past it.
const scans: { next: () => HostScan } = { next: () => scanOf({}) };
vi.mock('../../src/core/scan.js', () => ({ scanHost: async () => scans.next() }));
const connector: { deliver?: (records: ConnectorRecord[]) => void } = {};
vi.mock('../../src/sys/proc-connector.js', () => ({
  ProcConnector: {
    open: async (_options: unknown, onRecords: (records: ConnectorRecord[]) => void) => {
      connector.deliver = onRecords;
      return { filtered: true, rcvbuf: 8 << 20, close: async () => true };
    },
  },
}));

const { monitorNamespaces } = await import('../../src/core/monitor.js');
const mono = (): number => Number(process.hrtime.bigint()) / 1e6;
const HOST_NET = 4026531833;
const RECORDS = 300;
/** What each NEW costs the caller (a slow terminal, a loaded host): RECORDS of them take far longer than the run. */
const PER_EVENT_MS = 10;

let dir: string | undefined;
afterEach(() => {
  vi.restoreAllMocks();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('monitor (events): --duration', () => {
  it('stops applying records at the deadline, even those a rescan applies at once, and counts the rest as lost', async () => {
    vi.spyOn(process, 'geteuid').mockReturnValue(0);
    dir = mkdtempSync(join(tmpdir(), 'nsm-monitor-deadline-'));
    const root = join(dir, 'proc');
    fakeProc(root, 10, { 10: HOST_NET }, 'sh\x00');
    let calls = 0;
    scans.next = () => {
      calls++;
      // The first rescan: a burst of execs into new uts namespaces arrives while it runs.
      if (calls === 2) {
        const ts = mono();
        connector.deliver!(Array.from({ length: RECORDS }, (_, i): ConnectorRecord => ({ kind: 'exec', pid: 1000 + i, ts, ns: { uts: 5_000_000 + i }, ids: { uts: 9_000_000 + i }, command: 'nsone x' })));
      }
      return scanOf({ 10: HOST_NET });
    };
    let news = 0;
    const summary = await monitorNamespaces({ procRoot: root, types: ['uts'], rescanMs: 100, durationMs: 1000 }, (e) => {
      if (e.kind !== 'ns-new') return;
      news++;
      const until = mono() + PER_EVENT_MS;
      while (mono() < until);
    });
    expect(summary.mode).toBe('events');
    expect(calls).toBeGreaterThanOrEqual(2);
    // Not all of them: the run ended at its deadline, with the rest counted as lost.
    expect(news).toBeGreaterThan(0);
    expect(news).toBeLessThan(RECORDS);
    expect(summary.lost).toBeGreaterThanOrEqual(1);
  });
});
