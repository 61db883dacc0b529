import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HostScan, Namespace, ProcessInfo } from '../../src/core/model.js';

// The race is between the scanner's listing of /proc and a fork: made deterministic by
// handing the monitor the scans (what the scanner would have returned) and a fake /proc
// for its own reads (pid cursor, stat, ns links); no helper processes are started.
const scans: { next: () => HostScan } = { next: () => scanOf({}) };
vi.mock('../../src/core/scan.js', () => ({ scanHost: async () => scans.next() }));
vi.mock('../../src/sys/pid-ticker.js', () => ({
  PidTicker: { start: () => ({ pid: undefined, setPeriod: () => undefined, close: async () => undefined }) },
}));

const { monitorNamespaces } = await import('../../src/core/monitor.js');

const HOST_NET = 4026531833;
const MADE = 4026532900;

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
    writeFileSync(join(dir, 'cmdline'), 'sleep\x0030\x00');
    symlinkSync(`net:[${inode}]`, join(dir, 'ns/net'));
  }
}

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
    fakeProc(root, 70, { 10: HOST_NET, 70: MADE });
    const events: Array<{ kind: string; inode?: number }> = [];
    let calls = 0;
    scans.next = () => {
      calls++;
      if (calls === 1) return scanOf({ 10: HOST_NET, 70: MADE });
      if (calls === 2) {
        // The first rescan: it listed /proc, then sh forked 71 and exited before the scan
        // read it. It shows neither; /proc now shows the child (the cursor has handed out 71).
        fakeProc(root, 71, { 10: HOST_NET, 71: MADE });
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
