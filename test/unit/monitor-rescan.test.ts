import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HostScan } from '../../src/core/model.js';
import { fakeProc, scanOf } from '../support/fake-proc.js';

// The race is between the scanner's listing of /proc and a fork: made deterministic by
// handing the monitor the scans (what the scanner would have returned) and a fake /proc
// for its own reads (pid cursor, stat, ns links); no helper processes are started.
const scans: { next: () => HostScan } = { next: () => scanOf({}) };
vi.mock('../../src/core/scan.js', () => ({ scanHost: async () => scans.next() }));
vi.mock('../../src/sys/pid-ticker.js', () => ({
  PidTicker: { start: () => ({ pid: undefined, setPeriod: () => undefined, close: async () => undefined }) },
}));

const { monitorNamespaces } = await import('../../src/core/monitor.js');
const CMDLINE = 'sleep\x0030\x00';

const HOST_NET = 4026531833;
const MADE = 4026532900;

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('monitor (poll): rescans', () => {
  it('a rescan that listed /proc before a child was forked and looked for its parent after the parent exited does not report their namespace GONE', async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-monitor-rescan-'));
    const root = join(dir, 'proc');
    // At start: sh (70) in a namespace of its own.
    fakeProc(root, 70, { 10: HOST_NET, 70: MADE }, CMDLINE);
    const events: Array<{ kind: string; inode?: number }> = [];
    let calls = 0;
    scans.next = () => {
      calls++;
      if (calls === 1) return scanOf({ 10: HOST_NET, 70: MADE });
      if (calls === 2) {
        // The first rescan: it listed /proc, then sh forked 71 and exited before the scan
        // read it. It shows neither; /proc now shows the child (the cursor has handed out 71).
        fakeProc(root, 71, { 10: HOST_NET, 71: MADE }, CMDLINE);
        return scanOf({ 10: HOST_NET });
      }
      return scanOf({ 10: HOST_NET, 71: MADE });
    };
    const summary = await monitorNamespaces({ mode: 'poll', procRoot: root, types: ['net'], baseline: true, rescanMs: 100, durationMs: 600 }, (e) => events.push(e as never));
    expect(events.filter((e) => e.kind === 'ns-gone'), JSON.stringify(events)).toEqual([]);
    expect(calls).toBeGreaterThanOrEqual(2); // the first scan and the racing one (a periodic rescan, or on a loaded host the last one)
    expect(summary.types.net).toMatchObject({ destroyed: 0 });
  });
});
