/**
 * For the monitor's poll-mode unit tests (test/unit/monitor-rescan.test.ts,
 * monitor-denied.test.ts): the scans handed to the monitor in place of the scanner's, and a
 * fake /proc for the monitor's own reads (pid cursor, stat, cmdline, ns links). Unit tests
 * only: integration tests run on the real kernel.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostScan, Namespace, ProcessInfo } from '../../src/core/model.js';

/** What the scanner would return for these processes (pid -> net namespace inode). */
export function scanOf(procs: Record<number, number>): HostScan {
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

/**
 * A fake /proc at `root`: our own pid as self, the last handed-out pid in loadavg, and these
 * processes (pid -> net namespace inode), each running `cmdline` (NUL-separated).
 */
export function fakeProc(root: string, lastPid: number, procs: Record<number, number>, cmdline: string): void {
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
    writeFileSync(join(dir, 'cmdline'), cmdline);
    symlinkSync(`net:[${inode}]`, join(dir, 'ns/net'));
  }
}
