/**
 * Run `nsm-helper scan` (native/scan.c) and parse its records. The C side only reads
 * /proc and prints; every decision about what the records mean is made in src/core.
 * Record format: the header comment of native/scan.c.
 */
import { spawnSync } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { spawnScan, takeEarlyScan, type EarlyScan, type ScanExit, type ScanProcess } from './early-scan.js';
import { NsmError, SysError } from './errors.js';
import { helperBinary } from './native.js';
import { NS_TYPE_NAMES, isNsType, type NsType } from './nstypes.js';
import { nsfsMountsOf, type NsfsMount } from './parse.js';
import * as addon from './spawn-addon.js';

/** One process: its stat fields and the inode of each namespace (absent: unreadable). */
export interface ScannedProcess {
  pid: number;
  ppid: number;
  startTime: number;
  numThreads: number;
  /** Owner of /proc/PID: the effective uid (root for a non-dumpable process), lsns's UID. */
  uid: number;
  comm: string;
  /** Frozen, and shared by the processes of one set of namespaces (ScanParser). */
  ns: Partial<Record<NsType, number>>;
}

export interface RawScan {
  processes: ScannedProcess[];
  /** A thread (tid) of `pid` in a namespace its leader is not in. */
  threads: Array<{ type: NsType; inode: number; pid: number; tid: number }>;
  /** An open fd of `pid` on a namespace file. */
  fds: Array<{ type: NsType; inode: number; pid: number; fd: number }>;
  /** Command lines (arguments joined by spaces) the helper read: the lowest pid of each namespace at least. */
  cmdlines: Map<number, string>;
  /** /proc/PID/cgroup as the helper read it (G records): the lowest pid of each namespace at least. */
  cgroups: Map<number, string>;
  /** 64-bit namespace IDs (NS_GET_ID, Linux 6.18) by inode; empty on older kernels. */
  ids: Map<number, number>;
  /** Socket fds and their net namespace (SIOCGSKNS, root only): one per net namespace and worker, or every one with allSockets. */
  sockets: Array<{ inode: number; pid: number; fd: number }>;
  /** nsfs bind mounts seen from each mount namespace (not filled with reps: false). */
  nsfsMounts: Array<{ mntNs: number; mount: NsfsMount }>;
  /** Vanished (ENOENT/ESRCH) and not-permitted (EACCES/EPERM) processes, summed over workers. */
  gone: number;
  denied: number;
}

export interface RawScanOptions {
  procRoot?: string;
  types?: readonly NsType[];
  fds?: boolean;
  threads?: boolean;
  /**
   * Also read, once per namespace, the command line of its first process and (per mount
   * namespace) the nsfs mounts: C and M records (default true).
   */
  reps?: boolean;
  /** A command line for every process, not only each namespace's first (nsm ps). */
  allCmdlines?: boolean;
  /** Read namespace IDs (default true; the helper probes the kernel once). */
  ids?: boolean;
  /** Find net namespaces held by sockets (default true; root only, the helper checks). */
  sockets?: boolean;
  /** Every socket fd, not only the first per net namespace (nsm why). */
  allSockets?: boolean;
  /** Worker processes; default: the helper decides (1 below 400 processes, else one per CPU up to 4). */
  jobs?: number;
  /** Aborting kills the scan (the promise then rejects); not for scans a runner starts. */
  signal?: AbortSignal;
}

/**
 * A P record's numbers: pid ppid starttime nthreads uid, then one inode per type in
 * NS_TYPES order (nstypes.h's columns, which test/unit/helper-protocol.test.ts checks).
 */
const P_STAT_FIELDS = 5;
const P_FIELDS = P_STAT_FIELDS + NS_TYPE_NAMES.length;

function scanArgs(options: RawScanOptions): string[] {
  const args = ['scan'];
  if (options.procRoot) args.push('--proc', options.procRoot);
  if (options.types) {
    // Bit t is NS_TYPE_NAMES[t]: the column order of native/nstypes.h.
    const mask = options.types.reduce((m, t) => m | (1 << NS_TYPE_NAMES.indexOf(t)), 0);
    args.push('--types', String(mask));
  }
  if (options.fds === false) args.push('--no-fds');
  if (options.threads === false) args.push('--no-threads');
  if (options.reps === false) args.push('--no-reps');
  else if (options.allCmdlines) args.push('--all-cmdlines');
  if (options.ids === false) args.push('--no-ids');
  if (options.sockets === false) args.push('--no-sockets');
  else if (options.allSockets) args.push('--all-sockets');
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

/**
 * Parses the helper's output as it arrives, so that on a big host the parsing happens
 * while the helper is still scanning (Node would otherwise wait idle, then parse).
 * Lines may be split across chunks (and UTF-8 characters in comm with them).
 */
export class ScanParser {
  private readonly scan: RawScan = { processes: [], threads: [], fds: [], ids: new Map(), sockets: [], cmdlines: new Map(), cgroups: new Map(), nsfsMounts: [], gone: 0, denied: 0 };
  private readonly decoder = new StringDecoder('utf8');
  private readonly state: ParseState = { fields: new Array(P_FIELDS).fill(0), nsSets: new Map() };
  private rest = '';
  private error: Error | undefined;

  /** Parse the complete lines of a chunk; a partial last line waits for the next chunk. */
  feed(chunk: Buffer): void {
    this.feedText(this.decoder.write(chunk));
  }

  /** The same for text already decoded. */
  feedText(decoded: string): void {
    if (this.error) return;
    const text = this.rest + decoded;
    const cut = text.lastIndexOf('\n');
    if (cut < 0) {
      this.rest = text;
      return;
    }
    this.rest = text.slice(cut + 1);
    this.parse(text, cut);
  }

  /** Everything parsed; throws for an E record, a malformed record, or a truncated last line. */
  finish(): RawScan {
    const tail = this.rest + this.decoder.end();
    this.rest = '';
    if (tail !== '' && !this.error) this.parse(tail, tail.length);
    if (this.error) throw this.error;
    return this.scan;
  }

  /** Parse the lines of text[0, limit); errors are kept for finish() (this runs in 'data' handlers). */
  private parse(text: string, limit: number): void {
    try {
      parseLines(text, limit, this.scan, this.state);
    } catch (err) {
      this.error = err as Error;
    }
  }
}

/** Parse the helper's whole output. Exported for unit tests on captured output. */
export function parseScanOutput(text: string): RawScan {
  const parser = new ScanParser();
  parser.feedText(text);
  return parser.finish();
}

/** What parseLines keeps between chunks. */
interface ParseState {
  /** The numbers of the P record being read. */
  fields: number[];
  /**
   * The namespaces of P records by the text of their eight inodes: most processes share
   * their set with many others (a whole host, a container), so each distinct set is read
   * and built once, and its processes share one frozen object. Reading every inode digit by
   * digit, and an object per process, were most of the parsing at 2,000 processes.
   */
  nsSets: Map<string, Readonly<Partial<Record<NsType, number>>>>;
}

/**
 * Read `count` space-terminated decimal numbers of `text` from `pos` into `into[at..]`;
 * the position after the last one's space, or -1 for anything else.
 */
function readNumbers(text: string, pos: number, count: number, into: number[], at: number): number {
  for (let i = 0; i < count; i++) {
    let n = 0;
    let c = text.charCodeAt(pos);
    if (c < 48 || c > 57) return -1;
    while (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      c = text.charCodeAt(++pos);
    }
    if (c !== 32) return -1;
    into[at + i] = n;
    pos++;
  }
  return pos;
}

function parseLines(text: string, limit: number, scan: RawScan, state: ParseState): void {
  let start = 0;
  let end = 0;
  const line = (): string => text.slice(start, end);
  const short = (): NsmError => new NsmError(`native scan: short P record: ${line().slice(0, 60)}`);
  for (; start < limit; start = end + 1) {
    end = text.indexOf('\n', start);
    if (end < 0 || end > limit) end = limit;
    switch (text.charCodeAt(start)) {
      case 80 /* P */: {
        // P pid ppid starttime nthreads uid ino-per-type comm   (comm last: it may contain spaces).
        // Digits are read in place: slicing the numbers out of each of thousands of lines
        // was a tenth of `nsm ls` on a 2,000-process host, mostly garbage collection.
        const f = state.fields;
        const inodesAt = readNumbers(text, start + 2, P_STAT_FIELDS, f, 0);
        if (inodesAt < 0) throw short();
        let pos = inodesAt;
        for (let t = 0; t < NS_TYPE_NAMES.length; t++) {
          pos = text.indexOf(' ', pos) + 1;
          if (pos === 0 || pos > end) throw short();
        }
        const key = text.slice(inodesAt, pos);
        let ns = state.nsSets.get(key);
        if (ns === undefined) {
          if (readNumbers(text, inodesAt, NS_TYPE_NAMES.length, f, P_STAT_FIELDS) !== pos) throw short();
          const set: Partial<Record<NsType, number>> = {};
          for (let t = 0; t < NS_TYPE_NAMES.length; t++) if (f[P_STAT_FIELDS + t]! > 0) set[NS_TYPE_NAMES[t]!] = f[P_STAT_FIELDS + t]!;
          ns = Object.freeze(set);
          state.nsSets.set(key, ns);
        }
        scan.processes.push({ pid: f[0]!, ppid: f[1]!, startTime: f[2]!, numThreads: f[3]!, uid: f[4]!, comm: unescapeComm(text.slice(pos, end)), ns });
        break;
      }
      case 67 /* C */: {
        // C pid cmdline
        const sp = text.indexOf(' ', start + 2);
        if (sp < 0 || sp > end) throw new NsmError(`native scan: short C record: ${line().slice(0, 60)}`);
        scan.cmdlines.set(Number(text.slice(start + 2, sp)), unescapeComm(text.slice(sp + 1, end)));
        break;
      }
      case 71 /* G */: {
        // G pid cgroup-file
        const sp = text.indexOf(' ', start + 2);
        if (sp < 0 || sp > end) throw new NsmError(`native scan: short G record: ${line().slice(0, 60)}`);
        scan.cgroups.set(Number(text.slice(start + 2, sp)), unescapeComm(text.slice(sp + 1, end)));
        break;
      }
      case 77 /* M */: {
        // M mntns mountinfo-line
        const sp = text.indexOf(' ', start + 2);
        if (sp < 0 || sp > end) throw new NsmError(`native scan: short M record: ${line().slice(0, 60)}`);
        const mntNs = Number(text.slice(start + 2, sp));
        for (const mount of nsfsMountsOf(text.slice(sp + 1, end))) scan.nsfsMounts.push({ mntNs, mount });
        break;
      }
      case 84 /* T */: {
        const [, pid, tid, type, inode] = line().split(' ');
        scan.threads.push({ type: nsType(type), inode: Number(inode), pid: Number(pid), tid: Number(tid) });
        break;
      }
      case 70 /* F */: {
        const [, pid, fd, type, inode] = line().split(' ');
        scan.fds.push({ type: nsType(type), inode: Number(inode), pid: Number(pid), fd: Number(fd) });
        break;
      }
      case 73 /* I */: {
        const [, inode, id] = line().split(' ');
        scan.ids.set(Number(inode), Number(id));
        break;
      }
      case 75 /* K */: {
        const [, pid, fd, inode] = line().split(' ');
        scan.sockets.push({ inode: Number(inode), pid: Number(pid), fd: Number(fd) });
        break;
      }
      case 83 /* S */: {
        const [, , gone, , denied] = line().split(' ');
        scan.gone += Number(gone);
        scan.denied += Number(denied);
        break;
      }
      case 69 /* E */: {
        const [, errno, ...path] = line().split(' ');
        throw new SysError('scan', errno ?? 'EIO', path.join(' '));
      }
      default:
        if (end > start) throw new NsmError(`native scan: unexpected record: ${line().slice(0, 40)}`);
    }
  }
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
    scan.cmdlines.delete(scannerPid);
    scan.cgroups.delete(scannerPid);
  }
  return scan;
}

/** Scan synchronously (the caller waits anyway; this keeps scanHost usable from sync code). */
export function rawScanSync(options: RawScanOptions = {}): RawScan {
  // posix_spawn through nsm-spawn.node where it is built: spawnSync fork(2)s all of Node.
  if (addon.piped()) {
    const r = addon.runPiped(helperBinary(), [helperBinary(), ...scanArgs(options)]);
    if (r.status !== 0) throw failure(r.status, r.signal, r.stderr.toString());
    return withoutScanner(parseScanOutput(r.stdout.toString()), r.pid);
  }
  const r = spawnSync(helperBinary(), scanArgs(options), { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error) throw SysError.fromNode(r.error, 'spawn', helperBinary());
  if (r.status !== 0) throw failure(r.status, r.signal, r.stderr);
  return withoutScanner(parseScanOutput(r.stdout), r.pid);
}

/** A scan running in the helper: its process and the records it will give. */
interface PendingScan {
  child: ScanProcess;
  result: Promise<RawScan>;
}

function scanResult(child: ScanProcess, parser: ScanParser, err: Buffer[], exit: Promise<ScanExit>): Promise<RawScan> {
  return exit.then(({ status, signal, error }) => {
    if (error) throw SysError.fromNode(error, 'spawn', helperBinary());
    if (status !== 0) throw failure(status, signal, Buffer.concat(err).toString());
    return withoutScanner(parser.finish(), child.pid);
  });
}

/** Parse from now on what the scan prints, starting with what it printed so far. */
function parseAsItArrives(s: EarlyScan): PendingScan {
  const parser = new ScanParser();
  for (const chunk of s.stdout.splice(0)) parser.feed(chunk);
  s.onStdout = (chunk) => parser.feed(chunk);
  return { child: s.child, result: scanResult(s.child, parser, s.stderr, s.exit) };
}

function startScan(options: RawScanOptions): PendingScan {
  return parseAsItArrives(spawnScan(helperBinary(), scanArgs(options)));
}

/** The early scan, if it has everything `options` asks for: a full scan (all types, fds, threads) of /proc. */
function takeEarly(options: RawScanOptions): PendingScan | undefined {
  const e = takeEarlyScan();
  if (!e) return undefined;
  const full = e.args.length === 1 && e.args[0] === 'scan';
  if (!full || options.procRoot !== undefined || options.fds === false || options.threads === false || options.jobs !== undefined || options.allCmdlines || options.allSockets) {
    e.child.kill();
    return undefined;
  }
  e.child.ref();
  return parseAsItArrives(e);
}

/**
 * Scan without blocking the event loop (the monitor's periodic rescan). The result may
 * hold more types than `options.types` asks (an early scan covers all): callers filter.
 * With a `runner`, the helper that runner keeps running starts the scan (a fork of a
 * small C process instead of one of Node, which costs several ms: bench/RESULTS.md).
 */
export function rawScan(options: RawScanOptions = {}, runner?: ScanRunner): Promise<RawScan> {
  if (runner) {
    const args = scanArgs(options).slice(1);
    // The runner splits its command line at spaces: a proc root with one goes the usual way.
    if (args.every((a) => !/\s/.test(a))) return rawScanVia(runner, args);
  }
  const pending = takeEarly(options) ?? startScan(options);
  const signal = options.signal;
  if (signal) {
    const kill = (): void => void pending.child.kill('SIGKILL');
    if (signal.aborted) kill();
    else {
      signal.addEventListener('abort', kill, { once: true });
      pending.result.then(() => signal.removeEventListener('abort', kill), () => signal.removeEventListener('abort', kill));
    }
  }
  return pending.result;
}

/** Runs `nsm-helper scan ARGS` for us and streams its stdout: poll mode's pidtick helper (src/sys/pid-ticker.ts). */
export interface ScanRunner {
  runScan(args: readonly string[], onChunk: (chunk: Buffer) => void): Promise<{ status: number; pid: number }>;
}

async function rawScanVia(runner: ScanRunner, args: readonly string[]): Promise<RawScan> {
  const parser = new ScanParser();
  const { status, pid } = await runner.runScan(args, (chunk) => parser.feed(chunk));
  if (status !== 0) throw failure(status, null, '');
  return withoutScanner(parser.finish(), pid);
}
