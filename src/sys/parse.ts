/**
 * Pure parsers for the /proc files nsm reads. They take text and return typed records,
 * so they are unit-tested on captured text (test/unit/parse.test.ts). Formats from proc(5).
 */
import { isNsType, type NsType } from './nstypes.js';

/** /proc/PID/stat, the fields nsm uses. */
export interface ProcStat {
  pid: number;
  /** The command name in parentheses (may itself contain spaces and ')'). */
  comm: string;
  state: string;
  ppid: number;
  /** Field 20. */
  numThreads: number;
  /** Field 22: start time in clock ticks after boot; with pid, identifies a process across PID reuse. */
  startTime: number;
  /**
   * Field 38: the signal sent to the parent at exit; -1 for a thread other than its
   * process's leader (copy_process() sets it so for CLONE_THREAD). Absent in short lines.
   */
  exitSignal?: number;
}

/**
 * pid, comm and field N (1-based, as proc(5) numbers them) of a /proc/PID/stat line. comm may
 * contain spaces and parentheses, so the fields resume after the *last* ')', as lsns reads them
 * (proc(5): "the filename of the executable, in parentheses").
 */
function statFields(text: string): { pid: number; comm: string; field(n: number): string } {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`malformed stat: ${text.slice(0, 60)}`);
  // After ") " come fields 3.. : state ppid pgrp session tty_nr tpgid flags minflt cminflt
  // majflt cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime.
  const rest = text.slice(close + 2).split(' ');
  return { pid: Number(text.slice(0, open).trim()), comm: text.slice(open + 1, close), field: (n) => rest[n - 3] ?? '' };
}

/** Fields 5 (pgrp) and 8 (tpgid: the terminal's foreground group, -1 without a terminal) of a stat line. */
export function parseStatTerminal(text: string): { pgrp: number; tpgid: number } {
  const { field } = statFields(text);
  return { pgrp: Number(field(5)), tpgid: Number(field(8)) };
}

/** Parse /proc/PID/stat (the fields of ProcStat). */
export function parseStat(text: string): ProcStat {
  const { pid, comm, field } = statFields(text);
  const result: ProcStat = {
    pid,
    comm,
    state: field(3),
    ppid: Number(field(4)),
    numThreads: Number(field(20)),
    startTime: Number(field(22)),
  };
  const exitSignal = field(38);
  if (exitSignal !== '') result.exitSignal = Number(exitSignal);
  if (!Number.isInteger(result.pid) || !Number.isInteger(result.ppid) || !Number.isFinite(result.startTime)) {
    throw new Error(`malformed stat: ${text.slice(0, 60)}`);
  }
  return result;
}

/**
 * /proc/loadavg: "0.20 0.18 0.12 1/80 11206". The fifth field is the last pid the kernel
 * handed out in the reader's PID namespace (proc(5)).
 */
export function parseLoadavgLastPid(text: string): number {
  const last = Number(text.trim().split(/\s+/)[4]);
  if (!Number.isInteger(last) || last < 0) throw new Error(`malformed loadavg: ${text.slice(0, 60)}`);
  return last;
}

/** /proc/PID/status, the fields nsm uses. */
export interface ProcStatus {
  name: string;
  pid: number;
  ppid: number;
  /** Real, effective, saved, filesystem uid. */
  uid: [number, number, number, number];
  gid: [number, number, number, number];
  /** This process's pid in each pid namespace it is in, outermost (the reader's view) first. */
  nspid: number[];
  threads: number;
}

export function parseStatus(text: string): ProcStatus {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const nums = (key: string): number[] => (fields.get(key) ?? '').split(/\s+/).filter(Boolean).map(Number);
  const four = (key: string): [number, number, number, number] => {
    const v = nums(key);
    return [v[0] ?? -1, v[1] ?? -1, v[2] ?? -1, v[3] ?? -1];
  };
  const pid = Number(fields.get('Pid'));
  const nspid = nums('NSpid');
  return {
    name: fields.get('Name') ?? '',
    pid,
    ppid: Number(fields.get('PPid') ?? 0),
    uid: four('Uid'),
    gid: four('Gid'),
    // NSpid exists since Linux 4.1; without it the only pid we know is our own view.
    nspid: nspid.length > 0 ? nspid : [pid],
    threads: Number(fields.get('Threads') ?? 1),
  };
}

/** /proc/PID/cmdline: NUL-separated arguments (empty for kernel threads and zombies). */
export function parseCmdline(text: string): string[] {
  if (text === '') return [];
  const args = text.split('\0');
  if (args[args.length - 1] === '') args.pop();
  return args;
}

/** One line of /proc/PID/cgroup: "hierarchy-ID:controller-list:cgroup-path". */
export interface CgroupEntry {
  /** 0 for the cgroup v2 unified hierarchy. */
  hierarchy: number;
  /** Controllers of a v1 hierarchy (e.g. ["cpu","cpuacct"] or ["name=systemd"]); empty for v2. */
  controllers: string[];
  path: string;
}

export function parseCgroup(text: string): CgroupEntry[] {
  const entries: CgroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const list = line.slice(first + 1, second);
    entries.push({
      hierarchy: Number(line.slice(0, first)),
      controllers: list === '' ? [] : list.split(','),
      // The path may itself contain ':' so take everything after the second one.
      path: line.slice(second + 1),
    });
  }
  return entries;
}

/** One line of uid_map/gid_map: ID inside, ID outside (in the reader's user namespace), count. */
export interface IdMapRange {
  inside: number;
  outside: number;
  count: number;
}

export function parseIdMap(text: string): IdMapRange[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isFinite))
    .map(([inside, outside, count]) => ({ inside: inside!, outside: outside!, count: count! }));
}

/** The identity map "0 0 4294967295" of the initial user namespace (user_namespaces(7)). */
export function isIdentityMap(ranges: readonly IdMapRange[]): boolean {
  return ranges.length === 1 && ranges[0]!.inside === 0 && ranges[0]!.outside === 0 && ranges[0]!.count === 4294967295;
}

/** A namespace as named by an nsfs link or mount root: "net:[4026531840]". */
export interface NsRef {
  type: NsType;
  inode: number;
}

/**
 * Parse "net:[4026531840]" (readlink of /proc/PID/ns/net or of an fd open on it).
 * Hand-rolled rather than a regex: the scanner calls it for every link on the host.
 */
export function parseNsLink(link: string): NsRef | undefined {
  const open = link.indexOf(':[');
  if (open <= 0 || link.charCodeAt(link.length - 1) !== 93 /* ] */) return undefined;
  const type = link.slice(0, open);
  if (!isNsType(type)) return undefined;
  const digits = link.slice(open + 2, -1);
  const inode = Number(digits);
  if (digits === '' || !Number.isSafeInteger(inode) || inode <= 0) return undefined;
  return { type, inode };
}

/** One line of /proc/PID/mountinfo (proc(5)), the fields nsm uses. */
export interface MountInfo {
  mountId: number;
  parentId: number;
  /** Root of the mount within its filesystem; for nsfs, "net:[4026532...]". */
  root: string;
  mountPoint: string;
  /** Optional fields such as "shared:1" or "master:2". */
  optional: string[];
  fsType: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040 ...). */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0) continue;
    mounts.push({
      mountId: Number(f[0]),
      parentId: Number(f[1]),
      root: unescapeMountPath(f[3]!),
      mountPoint: unescapeMountPath(f[4]!),
      optional: f.slice(6, sep),
      fsType: f[sep + 1]!,
      source: unescapeMountPath(f[sep + 2] ?? ''),
    });
  }
  return mounts;
}

/** A namespace file bind-mounted somewhere (ip netns add, nsm --pin, unshare --net=FILE). */
export interface NsfsMount extends NsRef {
  mountPoint: string;
}

export function nsfsMounts(mounts: readonly MountInfo[]): NsfsMount[] {
  const result: NsfsMount[] = [];
  for (const m of mounts) {
    if (m.fsType !== 'nsfs') continue;
    const ref = parseNsLink(m.root);
    if (ref) result.push({ ...ref, mountPoint: m.mountPoint });
  }
  return result;
}

/**
 * The nsfs mounts of a whole mountinfo text, parsing only the lines that name nsfs: most
 * mount namespaces have none, and a scan reads one mountinfo per mount namespace.
 */
export function nsfsMountsOf(mountinfo: string): NsfsMount[] {
  if (!mountinfo.includes(' - nsfs ')) return [];
  const lines = mountinfo.split('\n').filter((l) => l.includes(' - nsfs '));
  return nsfsMounts(parseMountinfo(lines.join('\n')));
}
