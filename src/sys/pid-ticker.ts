/**
 * The clock of `nsm monitor`'s poll mode: `nsm-helper pidtick` (native/pidtick.c) looks at
 * the kernel's pid cursor every period and writes a line only when it moved, so Node wakes
 * only then (a wake-up of Node costs about four times one of the helper; bench/RESULTS.md,
 * "monitor"). Protocol and exit codes: the header comment of native/pidtick.c and
 * native/pidtick.h.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { NsmError, SysError } from './errors.js';
import { helperBinary } from './native.js';

/** Bounds of the period (native/pidtick.h PIDTICK_MIN_MS, PIDTICK_MAX_MS). */
export const PIDTICK_MIN_MS = 1;
export const PIDTICK_MAX_MS = 60000;

export interface PidTickerOptions {
  procRoot?: string;
  periodMs: number;
}

export class PidTicker {
  private closing = false;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private period: number,
  ) {
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
  }

  /**
   * Start the helper. `onMove` runs when the cursor has moved (new processes or threads);
   * `onError` when the helper fails or exits before close().
   */
  static start(options: PidTickerOptions, onMove: () => void, onError: (err: NsmError) => void): PidTicker {
    checkPeriod(options.periodMs);
    const args = ['pidtick', ...(options.procRoot ? ['--proc', options.procRoot] : []), String(options.periodMs)];
    const child = spawn(helperBinary(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const ticker = new PidTicker(child, options.periodMs);
    let stderr = '';
    // One call per chunk: the lines only say "it moved"; the monitor reads the cursor itself.
    child.stdout!.on('data', () => {
      if (!ticker.closing) onMove();
    });
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdin!.on('error', () => {}); // EPIPE once it has exited: reported by 'close' below
    child.once('error', (err) => {
      if (!ticker.closing) onError(SysError.fromNode(err, 'spawn', helperBinary()));
    });
    child.once('close', (status, signal) => {
      if (ticker.closing) return;
      const why = signal ? `killed by ${signal}` : `exit status ${status}`;
      onError(new NsmError(`monitor: the pid ticker (nsm-helper pidtick) stopped: ${why}${stderr ? `: ${stderr.trim()}` : ''}`));
    });
    return ticker;
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

function checkPeriod(ms: number): void {
  if (!Number.isInteger(ms) || ms < PIDTICK_MIN_MS || ms > PIDTICK_MAX_MS) throw new RangeError(`pid ticker period out of range: ${ms}`);
}
