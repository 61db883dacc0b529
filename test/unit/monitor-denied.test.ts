import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HostScan, Namespace, ProcessInfo } from '../../src/core/model.js';
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

const HOST_NET = 4026531833;
const MADE = 4026532910;

function scanOf(procs: Record<number, number>): HostScan {
  const processes = new Map<number, ProcessInfo>();
  const byInode = new Map<number, Namespace>();
  for (const [pidText, inode] of Object.entries(procs)) {
    const pid = Number(pidText);
    processes.set(pid, { pid, ppid: 1, comm: `comm${pid}`, uid: 0, startTime: pid, ns: { net: inode } });
    let n = byInode.get(inode);
    if (!n) byInode.set(inode, (n = { type: 'net', inode, pids: [], threads: [], fds: [], mounts: [], owners: [] }));
    n.pids.push(pid);
  }
  return { processes, namespaces: [...byInode.values()], stats: { gone: 0, denied: 0 } };
}

/** A fake /proc: our own pid as self, the last handed-out pid in loadavg, and these processes. */
function fakeProc(root: string, lastPid: number, procs: Record<number, number>): void {
  if (!existsSync(root)) {
    mkdirSync(join(root, 'sys/kernel'), { recursive: true });
    symlinkSync(String(process.pid), join(root, 'self'));
    writeFileSync(join(root, 'sys/kernel/pid_max'), '4194304\n');
  }
  for (const name of readdirSync(root)) if (/^\d+$/.test(name)) rmSync(join(root, name), { recursive: true });
  // Rewritten in place: the pid cursor keeps it open.
  writeFileSync(join(root, 'loadavg'), `0.00 0.00 0.00 1/100 ${lastPid}\n`);
  for (const [pidText, inode] of Object.entries(procs)) {
    const dir = join(root, pidText);
    mkdirSync(join(dir, 'ns'), { recursive: true });
    writeFileSync(join(dir, 'stat'), `${pidText} (sh) S 1 ${pidText} ${pidText} 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 ${pidText} 2990080 411\n`);
    writeFileSync(join(dir, 'cmdline'), 'sleep\x000.1\x00');
    symlinkSync(`net:[${inode}]`, join(dir, 'ns/net'));
  }
}

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
    fakeProc(root, 79, { 10: HOST_NET });
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
        fakeProc(root, 80, { 10: HOST_NET, 80: MADE });
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
    fakeProc(root, 79, { 10: HOST_NET });
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
        fakeProc(root, 80, { 10: HOST_NET, 80: HOST_NET });
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
