/**
 * The eyes of `nsm monitor`'s poll mode on /proc: `nsm-helper pidtick` (native/pidtick.c)
 * looks at the kernel's pid cursor every period and lists /proc every `listMs`, and writes
 * only what changed, so Node wakes only then (a wake-up of Node costs about four times one
 * of the helper, and a listing of /proc in Node more; bench/RESULTS.md, "monitor"). It
 * also starts the monitor's rescans (a ScanRunner): its fork costs a fraction of Node's.
 * Protocol and exit codes: the header comment of native/pidtick.c and native/pidtick.h.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { NsmError, SysError } from './errors.js';
import { helperBinary } from './native.js';
import type { ScanRunner } from './native-scan.js';

/** Bounds of the period (native/pidtick.h PIDTICK_MIN_MS, PIDTICK_MAX_MS). */
export const PIDTICK_MIN_MS = 1;
export const PIDTICK_MAX_MS = 60000;

export interface PidTickerOptions {
  procRoot?: string;
  /** Look at the cursor this often (setPeriod() changes it). */
  periodMs: number;
  /** List the proc root this often (pids appeared and gone); none without. */
  listMs?: number;
}

/** A scan the helper is running for us: where its records go, and how it ends. */
interface RunningScan {
  onChunk: (chunk: Buffer) => void;
  resolve: (end: { status: number; pid: number }) => void;
  reject: (err: Error) => void;
  /** Whether the next byte starts a line. */
  atLineStart: boolean;
  /** The end line ("X STATUS PID") once it has begun: it may come in pieces. */
  endLine?: string;
}

/** What one wake-up of the helper reported. */
export interface PidTickerReport {
  /** The cursor moved: new processes or threads to read. */
  moved: boolean;
  /** Listed now and not at the last listing (processes the cursor may not have shown). */
  appeared: number[];
  /** Listed at the last listing and not now: they have exited (and been reaped). */
  gone: number[];
}

export class PidTicker implements ScanRunner {
  private closing = false;
  private readonly exited: Promise<void>;
  private scan: RunningScan | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private period: number,
  ) {
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
  }

  /**
   * Start the helper: it looks and lists once at start, and reports changes from then on.
   * `onReport` runs for each chunk of lines it writes (one wake-up's worth); `onError` when
   * the helper fails or exits before close().
   */
  static start(options: PidTickerOptions, onReport: (report: PidTickerReport) => void, onError: (err: NsmError) => void): PidTicker {
    checkPeriod(options.periodMs);
    if (options.listMs !== undefined) checkPeriod(options.listMs);
    const args = [
      'pidtick',
      ...(options.procRoot ? ['--proc', options.procRoot] : []),
      ...(options.listMs !== undefined ? ['--list', String(options.listMs)] : []),
      String(options.periodMs),
    ];
    // fd 3: the scans' records (--scan-fd 3).
    args.splice(1, 0, '--scan-fd', '3');
    // A session of its own (detached: setsid): Ctrl-C on nsm's terminal signals the foreground
    // process group, and must stop nsm (which then closes our stdin), not kill us under it.
    const child = spawn(helperBinary(), args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], detached: true });
    const ticker = new PidTicker(child, options.periodMs);
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => ticker.onScanOutput(chunk));
    let stderr = '';
    const decoder = new StringDecoder('latin1');
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + decoder.write(chunk)).split('\n');
      partial = lines.pop()!;
      if (ticker.closing || lines.length === 0) return;
      let report;
      try {
        report = parseReport(lines);
      } catch (err) {
        onError(err as NsmError);
        return;
      }
      onReport(report);
    });
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdin!.on('error', () => {}); // EPIPE once it has exited: reported by 'close' below
    child.once('error', (err) => {
      if (!ticker.closing) onError(SysError.fromNode(err, 'spawn', helperBinary()));
    });
    child.once('close', (status, signal) => {
      const why = signal ? `killed by ${signal}` : `exit status ${status}`;
      const err = new NsmError(`monitor: the pid ticker (nsm-helper pidtick) stopped: ${why}${stderr ? `: ${stderr.trim()}` : ''}`);
      ticker.scan?.reject(err);
      ticker.scan = undefined;
      if (!ticker.closing) onError(err);
    });
    return ticker;
  }

  /** Run `nsm-helper scan ARGS` (no spaces in them) in a child of the helper; one at a time. */
  runScan(args: readonly string[], onChunk: (chunk: Buffer) => void): Promise<{ status: number; pid: number }> {
    if (this.scan) return Promise.reject(new NsmError('monitor: a scan is already running'));
    if (this.closing) return Promise.reject(new NsmError('monitor: the pid ticker is closed'));
    return new Promise((resolve, reject) => {
      this.scan = { onChunk, resolve, reject, atLineStart: true };
      this.child.stdin!.write(`S ${args.join(' ')}\n`);
    });
  }

  /**
   * The running scan's records, up to its end line "X STATUS PID": records start with
   * another letter (native/scan.c), so an X at the start of a line is the end.
   */
  private onScanOutput(chunk: Buffer): void {
    const scan = this.scan;
    if (!scan) return;
    if (scan.endLine !== undefined) {
      scan.endLine += chunk.toString('latin1');
      this.endScan(scan);
      return;
    }
    let end = -1;
    let pos = scan.atLineStart ? 0 : chunk.indexOf(0x0a) + 1 || chunk.length;
    while (pos < chunk.length) {
      if (chunk[pos] === 0x58 /* X */) {
        end = pos;
        break;
      }
      const nl = chunk.indexOf(0x0a, pos);
      pos = nl < 0 ? chunk.length : nl + 1;
    }
    if (end < 0) {
      scan.onChunk(chunk);
      scan.atLineStart = chunk.length === 0 ? scan.atLineStart : chunk[chunk.length - 1] === 0x0a;
      return;
    }
    if (end > 0) scan.onChunk(chunk.subarray(0, end));
    scan.endLine = chunk.subarray(end).toString('latin1');
    this.endScan(scan);
  }

  private endScan(scan: RunningScan): void {
    const nl = scan.endLine!.indexOf('\n');
    if (nl < 0) return; // the rest of the line is on its way
    const line = scan.endLine!.slice(0, nl);
    this.scan = undefined;
    const m = /^X (\d+) (\d+)$/.exec(line);
    if (m) scan.resolve({ status: Number(m[1]), pid: Number(m[2]) });
    else scan.reject(new NsmError(`monitor: the pid ticker ended a scan with ${JSON.stringify(line)}`));
  }

  /** The helper's pid: its children are our scans. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Look every `ms` from the next look on (a no-op when unchanged). */
  setPeriod(ms: number): void {
    if (ms === this.period || this.closing) return;
    checkPeriod(ms);
    this.period = ms;
    this.child.stdin!.write(`${ms}\n`);
  }

  /** Close its stdin (it exits at once) and wait for it. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.child.stdin!.end();
      // It leaves poll(2) on EOF at once; SIGKILL is the fallback should it be stuck elsewhere.
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      void this.exited.then(() => clearTimeout(timer));
    }
    return this.exited;
  }
}

/** Lines "M PID", "+ PID", "- PID" (native/pidtick.c). Exported for unit tests. */
export function parseReport(lines: readonly string[]): PidTickerReport {
  const report: PidTickerReport = { moved: false, appeared: [], gone: [] };
  for (const line of lines) {
    const pid = Number(line.slice(2));
    if (line[1] !== ' ' || !Number.isInteger(pid)) throw new NsmError(`monitor: the pid ticker wrote an unexpected line: ${JSON.stringify(line)}`);
    if (line[0] === 'M') report.moved = true;
    else if (line[0] === '+') report.appeared.push(pid);
    else if (line[0] === '-') report.gone.push(pid);
    else throw new NsmError(`monitor: the pid ticker wrote an unexpected line: ${JSON.stringify(line)}`);
  }
  return report;
}

function checkPeriod(ms: number): void {
  if (!Number.isInteger(ms) || ms < PIDTICK_MIN_MS || ms > PIDTICK_MAX_MS) throw new RangeError(`pid ticker period out of range: ${ms}`);
}
