import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HostScan } from '../../src/core/model.js';
import { fakeProc, scanOf } from '../support/fake-proc.js';
import { ProcFs } from '../../src/sys/procfs.js';

// Poll mode as an unprivileged user: a new process is another user's at first (setpriv runs
// as root until it switches uid and execs), and becomes readable later than its young reads
// on a loaded host. Made deterministic with the scans handed to the monitor, a fake /proc
// for its own reads, and the refusal (EACCES, proc(5): ptrace access) for the first while.
const scans: { next: () => HostScan } = { next: () => scanOf({}) };
vi.mock('../../src/core/scan.js', () => ({ scanHost: async () => scans.next() }));
vi.mock('../../src/sys/pid-ticker.js', () => ({
  PidTicker: { start: () => ({ pid: undefined, setPeriod: () => undefined, close: async () => undefined }) },
}));

const { monitorNamespaces } = await import('../../src/core/monitor.js');
const CMDLINE = 'sleep\x000.1\x00';

const HOST_NET = 4026531833;
const MADE = 4026532910;

let dir: string | undefined;
afterEach(() => {
  vi.restoreAllMocks();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('monitor (poll): another user\'s new process', () => {
  it('is read again until it becomes ours, even when that comes after its young reads: its new namespace is NEW by poll', async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-monitor-denied-'));
    const root = join(dir, 'proc');
    fakeProc(root, 79, { 10: HOST_NET }, CMDLINE);
    // Pid 80 is refused until 250 ms after it is handed out, then shows a namespace of its
    // own: longer than the young reads (about 10 and 50 ms after the first), shorter than
    // the rescan period, which never shows it (it "exits" before any rescan).
    let readableAt = Infinity;
    const real = ProcFs.prototype.readNsEntry;
    vi.spyOn(ProcFs.prototype, 'readNsEntry').mockImplementation(function (this: ProcFs, pid, entry, tid) {
      if (pid === 80 && Date.now() < readableAt) throw Object.assign(new Error('refused'), { code: 'EACCES' });
      return real.call(this, pid, entry, tid);
    });
    let calls = 0;
    scans.next = () => {
      if (++calls === 1) {
        fakeProc(root, 80, { 10: HOST_NET, 80: MADE }, CMDLINE);
        readableAt = Date.now() + 250;
      }
      return scanOf({ 10: HOST_NET });
    };
    const events: Array<{ kind: string; inode?: number; pid?: number; via?: string }> = [];
    await monitorNamespaces({ mode: 'poll', procRoot: root, types: ['net'], rescanMs: 60_000, durationMs: 700 }, (e) => events.push(e as never));
    const created = events.filter((e) => e.kind === 'ns-new' && e.inode === MADE);
    expect(created, JSON.stringify(events)).toHaveLength(1);
    expect(created[0]).toMatchObject({ pid: 80, via: 'poll' });
  });

  it('once ours, is read as young again: a namespace switch a few ms after that read is NEW by poll (setpriv execs unshare, which then unshares)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-monitor-denied-'));
    const root = join(dir, 'proc');
    fakeProc(root, 79, { 10: HOST_NET }, CMDLINE);
    // Ours from 200 ms on, still in the host's namespace; its unshare comes 5 ms after the
    // first read that finds it readable.
    let readableAt = Infinity;
    let switching: NodeJS.Timeout | undefined;
    const real = ProcFs.prototype.readNsEntry;
    vi.spyOn(ProcFs.prototype, 'readNsEntry').mockImplementation(function (this: ProcFs, pid, entry, tid) {
      if (pid === 80 && Date.now() < readableAt) throw Object.assign(new Error('refused'), { code: 'EACCES' });
      if (pid === 80 && !switching) {
        switching = setTimeout(() => {
          rmSync(join(root, '80/ns/net'));
          symlinkSync(`net:[${MADE}]`, join(root, '80/ns/net'));
        }, 5);
      }
      return real.call(this, pid, entry, tid);
    });
    let calls = 0;
    scans.next = () => {
      if (++calls === 1) {
        fakeProc(root, 80, { 10: HOST_NET, 80: HOST_NET }, CMDLINE);
        readableAt = Date.now() + 200;
      }
      return scanOf({ 10: HOST_NET });
    };
    try {
      const events: Array<{ kind: string; inode?: number; pid?: number; via?: string }> = [];
      await monitorNamespaces({ mode: 'poll', procRoot: root, types: ['net'], rescanMs: 60_000, durationMs: 700 }, (e) => events.push(e as never));
      const created = events.filter((e) => e.kind === 'ns-new' && e.inode === MADE);
      expect(created, JSON.stringify(events)).toHaveLength(1);
      expect(created[0]).toMatchObject({ pid: 80, via: 'poll' });
    } finally {
      clearTimeout(switching);
    }
  });
});
