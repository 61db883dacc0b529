/**
 * Reading /proc. Every path is built from an injectable root so the scanner can run on
 * a fixture tree (test/fixtures/proc) as util-linux's path_cxt prefix allows.
 *
 * All calls are synchronous on purpose: a scan is a burst of small reads of virtual
 * files, which sync calls do fastest, and after an in-process setns() only the main
 * thread is in the new namespaces (setns(2) moves the calling thread; libuv's workers stay).
 * Errors are Node's (err.code = errno name); callers decide which to tolerate.
 */
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs';
import {
  parseCgroup,
  parseCmdline,
  parseIdMap,
  parseLoadavgLastPid,
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

  /** /proc/PID/environ: the environment the process was started with (NUL-separated K=V). */
  readEnviron(pid: number): Record<string, string> {
    const env: Record<string, string> = {};
    for (const entry of readFileSync(this.path(pid, 'environ'), 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
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

/**
 * kernel/pid.c: once the allocation cursor has passed RESERVED_PIDS, pids wrap from pid_max
 * back to this, not to 1 (kernel threads and daemons keep the low pids).
 */
export const RESERVED_PIDS = 300;
/** include/linux/threads.h: the largest pid_max (64-bit). */
const PID_MAX_LIMIT = 4 * 1024 * 1024;

/**
 * The pids handed out after `prev` up to `last`, ascending in allocation order, at most `max`
 * (the newest). The kernel allocates them cyclically (idr_alloc_cyclic in alloc_pid()): up
 * to pid_max - 1, then from RESERVED_PIDS again, skipping pids in use; so `last < prev`
 * means the cursor wrapped. Pure, for unit tests.
 */
export function pidsAfter(prev: number, last: number, pidMax: number, max: number): { pids: number[]; truncated: boolean } {
  if (last === prev) return { pids: [], truncated: false };
  const ranges: Array<[number, number]> = last > prev ? [[prev + 1, last]] : [[prev + 1, pidMax - 1], [RESERVED_PIDS, last]];
  // Newest first, back to `max`, then put in allocation order.
  const pids: number[] = [];
  let truncated = false;
  for (const [a, b] of ranges.reverse()) {
    for (let pid = b; pid >= a; pid--) {
      if (pids.length === max) {
        truncated = true;
        break;
      }
      pids.push(pid);
    }
  }
  pids.reverse();
  return { pids, truncated };
}

/**
 * The kernel's pid allocation cursor: the cheap way to notice new processes without listing
 * /proc. /proc/loadavg's fifth field is the last pid handed out in the reader's PID namespace
 * (proc(5)); it is read with pread(2) on a kept fd, one syscall per look. Threads take pids
 * from the same counter, so a moved cursor means a new process or a new thread.
 */
export class PidCursor {
  private readonly buf = Buffer.alloc(128);
  private prev: number;
  private pidMax: number;

  private constructor(
    private readonly root: string,
    private readonly fd: number,
  ) {
    this.prev = this.read();
    this.pidMax = this.readPidMax();
  }

  /**
   * Undefined when `root` has no loadavg, or shows another PID namespace than ours
   * (a procfs mount shows the namespace of whoever mounted it, and loadavg counts in
   * the reader's: the pids would not match).
   */
  static open(root = '/proc'): PidCursor | undefined {
    try {
      if (readlinkSync(`${root}/self`) !== String(process.pid)) return undefined;
      return new PidCursor(root, openSync(`${root}/loadavg`, 'r'));
    } catch {
      return undefined;
    }
  }

  private read(): number {
    const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    return parseLoadavgLastPid(this.buf.toString('latin1', 0, n));
  }

  private readPidMax(): number {
    try {
      const v = Number(readFileSync(`${this.root}/sys/kernel/pid_max`, 'latin1'));
      return Number.isInteger(v) && v > RESERVED_PIDS ? v : PID_MAX_LIMIT;
    } catch {
      return PID_MAX_LIMIT;
    }
  }

  /** Pids handed out since the previous call (or since open), at most `max`: the newest. */
  newPids(max: number): { pids: number[]; truncated: boolean } {
    const last = this.read();
    // pid_max may have been changed (sysctl) since we read it: look again when the cursor wraps.
    if (last < this.prev) this.pidMax = this.readPidMax();
    const result = pidsAfter(this.prev, last, this.pidMax, max);
    this.prev = last;
    return result;
  }

  close(): void {
    closeSync(this.fd);
  }
}
