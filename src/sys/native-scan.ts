/**
 * Run `nsm-helper scan` (native/scan.c) and parse its records. The C side only reads
 * /proc and prints; every decision about what the records mean is made in src/core.
 * Record format: native/PROTOCOL.md, "scan output".
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { NsmError, SysError } from './errors.js';
import { helperBinary } from './native.js';
import { NS_TYPE_NAMES, isNsType, type NsType } from './nstypes.js';

/** One process: its stat fields and the inode of each namespace (absent: unreadable). */
export interface ScannedProcess {
  pid: number;
  ppid: number;
  startTime: number;
  numThreads: number;
  /** Owner of /proc/PID: the effective uid (root for a non-dumpable process), lsns's UID. */
  uid: number;
  comm: string;
  ns: Partial<Record<NsType, number>>;
}

export interface RawScan {
  processes: ScannedProcess[];
  /** A thread (tid) of `pid` in a namespace its leader is not in. */
  threads: Array<{ type: NsType; inode: number; pid: number; tid: number }>;
  /** An open fd of `pid` on a namespace file. */
  fds: Array<{ type: NsType; inode: number; pid: number; fd: number }>;
  /** Vanished (ENOENT/ESRCH) and not-permitted (EACCES/EPERM) processes, summed over workers. */
  gone: number;
  denied: number;
}

export interface RawScanOptions {
  procRoot?: string;
  types?: readonly NsType[];
  fds?: boolean;
  threads?: boolean;
  /** Worker processes; default: the helper decides (1 below 400 processes, else one per CPU up to 4). */
  jobs?: number;
}

function scanArgs(options: RawScanOptions): string[] {
  const args = ['scan'];
  if (options.procRoot) args.push('--proc', options.procRoot);
  if (options.types) {
    // The mask follows NS_TYPE_NAMES order, which scan.c's ns_names[] mirrors.
    const mask = options.types.reduce((m, t) => m | (1 << NS_TYPE_NAMES.indexOf(t)), 0);
    args.push('--types', String(mask));
  }
  if (options.fds === false) args.push('--no-fds');
  if (options.threads === false) args.push('--no-threads');
  if (options.jobs !== undefined) args.push('--jobs', String(options.jobs));
  return args;
}

function unescapeComm(s: string): string {
  return s.includes('\\') ? s.replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\')) : s;
}

function nsType(word: string | undefined): NsType {
  if (word === undefined || !isNsType(word)) throw new NsmError(`native scan: unknown namespace type ${word}`);
  return word;
}

/** Parse the helper's output. Exported for unit tests on captured output. */
export function parseScanOutput(text: string): RawScan {
  const scan: RawScan = { processes: [], threads: [], fds: [], gone: 0, denied: 0 };
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    switch (line.charCodeAt(0)) {
      case 80 /* P */: {
        // P pid ppid starttime nthreads uid ino*8 comm   (comm last: it may contain spaces)
        let pos = 2;
        const f: number[] = [];
        for (let i = 0; i < 13; i++) {
          const sp = line.indexOf(' ', pos);
          if (sp < 0) throw new NsmError(`native scan: short P record: ${line.slice(0, 60)}`);
          f.push(Number(line.slice(pos, sp)));
          pos = sp + 1;
        }
        const ns: Partial<Record<NsType, number>> = {};
        for (let t = 0; t < 8; t++) if (f[5 + t]! > 0) ns[NS_TYPE_NAMES[t]!] = f[5 + t]!;
        scan.processes.push({ pid: f[0]!, ppid: f[1]!, startTime: f[2]!, numThreads: f[3]!, uid: f[4]!, comm: unescapeComm(line.slice(pos)), ns });
        break;
      }
      case 84 /* T */: {
        const [, pid, tid, type, inode] = line.split(' ');
        scan.threads.push({ type: nsType(type), inode: Number(inode), pid: Number(pid), tid: Number(tid) });
        break;
      }
      case 70 /* F */: {
        const [, pid, fd, type, inode] = line.split(' ');
        scan.fds.push({ type: nsType(type), inode: Number(inode), pid: Number(pid), fd: Number(fd) });
        break;
      }
      case 83 /* S */: {
        const [, , gone, , denied] = line.split(' ');
        scan.gone += Number(gone);
        scan.denied += Number(denied);
        break;
      }
      case 69 /* E */: {
        const [, errno, ...path] = line.split(' ');
        throw new SysError('scan', errno ?? 'EIO', path.join(' '));
      }
      default:
        if (line !== '') throw new NsmError(`native scan: unexpected record: ${line.slice(0, 40)}`);
    }
  }
  return scan;
}

function failure(status: number | null, signal: NodeJS.Signals | null, stderr: string): NsmError {
  const why = stderr.trim().split('\n')[0] || (signal ? `killed by ${signal}` : `exit status ${status}`);
  return new NsmError(`native scan failed: ${why}`);
}

/**
 * The scanner and its forked workers are processes too, and would count in the host's
 * namespaces; leave them out so nsm reports the host as it is apart from nsm itself
 * (lsns likewise counts only its own one process).
 */
function withoutScanner(scan: RawScan, scannerPid: number | undefined): RawScan {
  if (scannerPid !== undefined) {
    scan.processes = scan.processes.filter((p) => p.pid !== scannerPid && p.ppid !== scannerPid);
  }
  return scan;
}

/** Scan synchronously (the caller waits anyway; this keeps scanHost usable from sync code). */
export function rawScanSync(options: RawScanOptions = {}): RawScan {
  const r = spawnSync(helperBinary(), scanArgs(options), { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error) throw SysError.fromNode(r.error, 'spawn', helperBinary());
  if (r.status !== 0) throw failure(r.status, r.signal, r.stderr);
  return withoutScanner(parseScanOutput(r.stdout), r.pid);
}

/** A scan running in the helper: its process and the records it will give. */
interface PendingScan {
  child: ChildProcess;
  result: Promise<RawScan>;
}

/** The helper's exit, as child_process reports it. */
export interface ScanExit {
  status: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

function scanResult(child: ChildProcess, out: Buffer[], err: Buffer[], exit: Promise<ScanExit>): Promise<RawScan> {
  return exit.then(({ status, signal, error }) => {
    if (error) throw SysError.fromNode(error, 'spawn', helperBinary());
    if (status !== 0) throw failure(status, signal, Buffer.concat(err).toString());
    return withoutScanner(parseScanOutput(Buffer.concat(out).toString('utf8')), child.pid);
  });
}

/** Start the helper and collect what it prints: the shape bin/nsm builds for an early scan. */
export function spawnScan(helper: string, args: readonly string[]): EarlyScan {
  const child = spawn(helper, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => stdout.push(b));
  child.stderr!.on('data', (b: Buffer) => stderr.push(b));
  const exit = new Promise<ScanExit>((resolve) => {
    child.once('error', (error) => resolve({ status: null, signal: null, error }));
    child.once('close', (status, signal) => resolve({ status, signal }));
  });
  return { args: [...args], child, stdout, stderr, exit };
}

function startScan(options: RawScanOptions): PendingScan {
  const s = spawnScan(helperBinary(), scanArgs(options));
  return { child: s.child, result: scanResult(s.child, s.stdout, s.stderr, s.exit) };
}

/**
 * A full scan bin/nsm started for `nsm ls` before it loaded the CLI, so the helper walks
 * /proc on another CPU while Node compiles and sets up the CLI (bench/RESULTS.md). bin/nsm
 * builds it exactly as spawnScan() does, unref'd so that an unused one never delays exit.
 */
export interface EarlyScan {
  args: string[];
  child: ChildProcess;
  /** Output so far; the listeners bin/nsm attached keep appending. */
  stdout: Buffer[];
  stderr: Buffer[];
  exit: Promise<ScanExit>;
}

/** Handed over by the CLI's main(); taken by the first rawScan() it covers. */
let early: EarlyScan | undefined;

export function adoptEarlyScan(scan: EarlyScan | undefined): void {
  early = scan;
}

/** The early scan, if it has everything `options` asks for: a full scan (all types, fds, threads) of /proc. */
function takeEarly(options: RawScanOptions): PendingScan | undefined {
  const e = early;
  early = undefined;
  if (!e) return undefined;
  const full = e.args.length === 1 && e.args[0] === 'scan';
  if (!full || options.procRoot !== undefined || options.fds === false || options.threads === false || options.jobs !== undefined) {
    e.child.kill();
    return undefined;
  }
  e.child.ref();
  (e.child.stdout as Socket | null)?.ref();
  (e.child.stderr as Socket | null)?.ref();
  return { child: e.child, result: scanResult(e.child, e.stdout, e.stderr, e.exit) };
}

/**
 * Scan without blocking the event loop (the monitor's periodic rescan). The result may
 * hold more types than `options.types` asks (an early scan covers all): callers filter.
 */
export function rawScan(options: RawScanOptions = {}): Promise<RawScan> {
  return (takeEarly(options) ?? startScan(options)).result;
}
