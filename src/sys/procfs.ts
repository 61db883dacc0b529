/**
 * Reading /proc. Every path is built from an injectable root so the scanner can run on
 * a fixture tree (test/fixtures/proc) as util-linux's path_cxt prefix allows.
 *
 * All calls are synchronous on purpose: a scan is a burst of small reads of virtual
 * files, which sync calls do fastest, and after an in-process setns() only the main
 * thread is in the new namespaces (libuv's worker threads are not; see DESIGN.md).
 * Errors are Node's (err.code = errno name); callers decide which to tolerate.
 */
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs';
import {
  parseCgroup,
  parseCmdline,
  parseIdMap,
  parseMountinfo,
  parseNsLink,
  parseStat,
  parseStatus,
  nsfsMountsOf,
  type CgroupEntry,
  type IdMapRange,
  type MountInfo,
  type NsfsMount,
  type NsRef,
  type ProcStat,
  type ProcStatus,
} from './parse.js';

/** One buffer for small /proc reads; a stat line is well under 1 KiB. */
const smallReadBuffer = Buffer.alloc(4096);

export class ProcFs {
  constructor(readonly root: string = '/proc') {}

  /**
   * Read a small /proc file with open/read/close into a shared buffer: half the cost of
   * readFileSync, which also fstat()s and allocates, and this runs once per process.
   */
  private readSmall(path: string): string {
    const fd = openSync(path, 'r');
    try {
      let length = 0;
      for (;;) {
        const n = readSync(fd, smallReadBuffer, length, smallReadBuffer.length - length, null);
        if (n === 0) break;
        length += n;
        if (length === smallReadBuffer.length) return smallReadBuffer.toString('utf8', 0, length) + readFileSync(fd, 'utf8');
      }
      return smallReadBuffer.toString('utf8', 0, length);
    } finally {
      closeSync(fd);
    }
  }

  path(pid: number | 'self', ...rest: string[]): string {
    return [this.root, String(pid), ...rest].join('/');
  }

  /** Numeric entries of /proc, ascending: every process (thread-group leader) visible to us. */
  listPids(): number[] {
    const pids: number[] = [];
    for (const name of readdirSync(this.root)) {
      const c = name.charCodeAt(0);
      if (c >= 48 && c <= 57) pids.push(Number(name));
    }
    return pids.sort((a, b) => a - b);
  }

  /** Thread ids of a process (its own pid included). */
  listTasks(pid: number): number[] {
    return readdirSync(this.path(pid, 'task')).map(Number).sort((a, b) => a - b);
  }

  readStat(pid: number): ProcStat {
    return parseStat(this.readSmall(this.path(pid, 'stat')));
  }

  readStatus(pid: number | 'self'): ProcStatus {
    return parseStatus(readFileSync(this.path(pid, 'status'), 'utf8'));
  }

  readCmdline(pid: number): string[] {
    return parseCmdline(readFileSync(this.path(pid, 'cmdline'), 'utf8'));
  }

  /** /proc/PID/cgroup: one line per hierarchy (cgroups(7)); a few hundred bytes. */
  readCgroup(pid: number | 'self'): CgroupEntry[] {
    return parseCgroup(this.readSmall(this.path(pid, 'cgroup')));
  }

  /** uid_map or gid_map of the process's user namespace, as seen from ours. */
  readIdMap(pid: number | 'self', file: 'uid_map' | 'gid_map'): IdMapRange[] {
    return parseIdMap(readFileSync(this.path(pid, file), 'utf8'));
  }

  readText(pid: number | 'self', file: string): string {
    return readFileSync(this.path(pid, file), 'utf8');
  }

  /**
   * The namespace a /proc/PID/ns entry refers to (entry: "net", "pid_for_children", ...).
   * readlink gives "net:[4026531840]": the same inode stat() would, one syscall cheaper.
   */
  readNsEntry(pid: number | 'self', entry: string, tid?: number): NsRef | undefined {
    const p = tid === undefined ? this.path(pid, 'ns', entry) : this.path(pid, 'task', String(tid), 'ns', entry);
    return parseNsLink(readlinkSync(p));
  }

  /** Owner of /proc/PID: the process's effective uid (root for non-dumpable processes), as lsns reports it. */
  ownerUid(pid: number): number {
    return statSync(this.path(pid)).uid;
  }

  /** Namespaces this process holds open as file descriptors (links to nsfs: "net:[...]"). */
  nsFds(pid: number): Array<{ fd: number; ns: NsRef }> {
    const dir = this.path(pid, 'fd');
    const result: Array<{ fd: number; ns: NsRef }> = [];
    for (const name of readdirSync(dir)) {
      let link: string;
      try {
        link = readlinkSync(`${dir}/${name}`);
      } catch {
        continue; // the fd was closed between readdir and readlink
      }
      const ns = parseNsLink(link);
      if (ns) result.push({ fd: Number(name), ns });
    }
    return result;
  }

  /** nsfs bind mounts visible in the mount namespace of PID. */
  readNsfsMounts(pid: number | 'self' = 'self'): NsfsMount[] {
    return nsfsMountsOf(readFileSync(this.path(pid, 'mountinfo'), 'utf8'));
  }

  readMountinfo(pid: number | 'self' = 'self'): MountInfo[] {
    return parseMountinfo(readFileSync(this.path(pid, 'mountinfo'), 'utf8'));
  }
}
