/**
 * `nsm monitor` as a library call: watch namespaces come and go until a bound is reached
 * or the caller aborts, reporting each change through a callback (never printing).
 *
 * Two sources feed one NamespaceTracker (src/core/monitor-tracker.ts):
 *  - events (root): the kernel's process events connector. A small C helper reads each
 *    forked or exec'd process's namespace links within a millisecond of the event
 *    (src/sys/proc-connector.ts, native/connector.c), so a namespace that lives 10 ms is seen, and exits
 *    arrive with the kernel's timestamp.
 *  - poll (not root, or no connector): a small C helper (src/sys/pid-ticker.ts) looks at
 *    the kernel's last handed-out pid every QUIET_TICK_MS (ACTIVE_TICK_MS while namespaces
 *    come and go) and lists /proc every `intervalMs`, and wakes us only on a change. We
 *    then read the links of only the processes created since (src/sys/procfs.ts,
 *    PidCursor), read young processes again to catch a namespace switch after fork, and
 *    watch those in namespaces made during the run for their exit; so a namespace that
 *    lives 100 ms is seen, and its lifetime known to ~12%. The listing catches exits of
 *    older processes and pids handed out out of order.
 * Under both, a full rescan (processes, threads, fds, nsfs mounts) runs every `rescanMs`
 * as the safety net: it finds namespaces made by unshare(2)/setns(2) without an exec, and
 * it alone decides that a namespace is gone (nothing holds it any more). When a
 * namespace's last process leaves, a rescan is brought forward to confirm it.
 */
import { existsSync } from 'node:fs';
import { hasErrno, NsmError, type SysError } from '../sys/errors.js';
import { nsIdentity } from '../sys/libc.js';
import { NS_TYPE_NAMES, type NsType } from '../sys/nstypes.js';
import { nsfsMounts, type ProcStat } from '../sys/parse.js';
import { ProcConnector, type ConnectorRecord } from '../sys/proc-connector.js';
import { PidTicker, type PidTickerReport } from '../sys/pid-ticker.js';
import { PidCursor, ProcFs } from '../sys/procfs.js';
import { attribute } from './attribution.js';
import type { Attribution, HostScan, Namespace, NsMount } from './model.js';
import { NAMESPACE_EVENT_KINDS, type MonitorEvent, type MonitorMode, type MonitorSummary } from './monitor-events.js';
import { NamespaceTracker, type TrackerEnv } from './monitor-tracker.js';
import { scanHost } from './scan.js';

export * from './monitor-events.js';

export interface MonitorOptions {
  /** Namespace types to watch (default: all eight). */
  types?: readonly NsType[];
  /** Report JOIN/LEAVE too. */
  verbose?: boolean;
  /** Follow this process and its descendants only. */
  pid?: number;
  /** Polling period when polling (default 250 ms). */
  intervalMs?: number;
  /** 'auto' (default): events when root and the connector answers, else poll. */
  mode?: 'auto' | 'poll';
  /** Stop after this many namespace events (NEW, GONE, JOIN, LEAVE). */
  count?: number;
  /** Stop after this long, from `startedAt`. */
  durationMs?: number;
  /**
   * When the run began, on the clock of process.hrtime (ms): the CLI passes its process's
   * start, so that --duration counts from when the user started nsm, as time(1) would, and
   * Node's start-up on a loaded host is not added to it. The mode record is dated then.
   * Default (and never later than): when monitorNamespaces() is called.
   */
  startedAt?: number;
  /** Report the namespaces present at start first (a 'baseline' event). */
  baseline?: boolean;
  /** Period of the safety-net full rescan (default 5000 ms, longer on big hosts). */
  rescanMs?: number;
  /** Abort to stop (Ctrl-C); the summary follows. */
  signal?: AbortSignal;
  procRoot?: string;
  /** Event mode: the connector socket's receive buffer in bytes (default 8 MiB; tests set a tiny one to force loss). */
  rcvbuf?: number;
}

import { DEFAULT_INTERVAL_MS } from './monitor-events.js';

export { DEFAULT_INTERVAL_MS };
/**
 * The full rescan costs CPU time (the native walk plus spawning it); every 5 s keeps it well
 * inside the 1% idle budget on a small host (bench/RESULTS.md, "monitor"). Mount changes in our mount namespace (ip netns add and
 * delete) and overruns bring it forward, and so does a namespace losing its last process.
 * On a bigger host a scan takes longer, so the period
 * stretches to SAFETY_FACTOR times the last scan's wall time (a scan's CPU is at most
 * about twice its wall time: the helper uses up to 2 workers here).
 */
const DEFAULT_RESCAN_MS = 5000;
const SAFETY_FACTOR = 200;
/**
 * Least time between rescans brought forward to confirm GONE, and the same stretching:
 * under sustained churn, rescans take at most ~1/CONFIRM_FACTOR of the wall time.
 */
const CONFIRM_GAP_MS = 250;
const CONFIRM_FACTOR = 10;
/** Own mount table re-read at most this often when naming namespaces found between rescans. */
const MOUNTS_TTL_MS = 100;
/**
 * Poll mode's look at the pid cursor, by the pidtick helper (src/sys/pid-ticker.ts), which
 * wakes Node only when the cursor moved. QUIET_TICK_MS reads a new process within 50 ms of
 * its fork, inside the life of a namespace that lives 100 ms. While namespaces come and go
 * (a process seen in one created during the run, in the last ACTIVE_FOR_MS) it speeds up
 * to ACTIVE_TICK_MS, to catch shorter lives too. Not that fast all the time: even the
 * helper's wake-ups cost CPU (bench/RESULTS.md, "monitor"),
 * and ordinary process activity (builds, tests) should not make Node read every 10 ms.
 */
const ACTIVE_TICK_MS = 10;
const QUIET_TICK_MS = 50;
const ACTIVE_FOR_MS = 1000;
/** New pids read in one tick at most; a bigger burst brings the full poll forward instead. */
const MAX_NEW_PIDS = 2048;
/**
 * The newest pids of a tick that may be handed out but not yet in /proc (alloc_pid()
 * comes before the task is listed: a fork in progress, one per CPU at most).
 */
const UNBORN_WINDOW = 8;
/**
 * A new process's links are read again about 10 and 50 ms after the first read (each gap
 * four times the age, while under YOUNG_MS): unshare(1), ip netns exec and container
 * runtimes switch namespaces a few ms after fork, and the first read may have come
 * before. Two reads, not more: each costs a wake-up of Node (bench/RESULTS.md, "monitor")
 * and a readlink per type. A child it forks later has it read again at once (a switch then
 * shows), and the rescan finds a later switch.
 */
const YOUNG_MS = 100;
const YOUNG_GROWTH = 4;
/**
 * A process in a namespace created during the run is looked at again (one readlink: is it
 * still there?) every 1/WATCH_DIVISOR of its age, at least ACTIVE_TICK_MS, waking the tick
 * if need be: its exit, and so the namespace's lifetime, is known to about 12%. Once that
 * period reaches the full poll's interval, the full poll takes over.
 */
const WATCH_DIVISOR = 8;
/**
 * Another user's new process (its links refused) is read again, every 1/WATCH_DIVISOR of
 * its age, until it is this old: setpriv, su or runuser switch to our uid, then exec and
 * unshare, and on a loaded host that comes later than a young process's last read. Dropped
 * before it is ours, it would be read again only by the rescan, after a namespace it made
 * for a moment had come and gone.
 */
const DENIED_WATCH_MS = 1000;
/** A 'lost' event at most this often: the counts since the last one are summed into the next. */
const LOSS_REPORT_MS = 1000;
/**
 * Event mode: a rescan's view is applied only once the records of everything before it
 * have had time to arrive (the connector helper writes within FLUSH_MS of an event), so that an exit
 * still on its way is not taken for one the events missed.
 */
const RECORD_LAG_MS = 60;
/**
 * With --duration, the last rescan (it confirms the last GONEs) gets until this long after
 * the deadline; one that takes longer on a loaded host is left out, so that -d ends on time.
 */
const END_SLACK_MS = 150;
/** The connector helper's least time to hand over its last lines once told to stop. */
const CLOSE_FLOOR_MS = 50;
/**
 * Connector records are applied for at most this long at a time, then timers run (--duration's
 * among them) before the rest: a burst's records (each new namespace reads its owner and id)
 * once took 220 ms in one go on a loaded host and made -d end late.
 */
const APPLY_SLICE_MS = 10;
/** Records applied between two looks at the clock. */
const APPLY_STEP = 8;
/** setTimeout(2) takes at most 2^31-1 ms (about 24.8 days); a longer --duration waits in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A process poll mode reads again (times: monotonic ms). */
interface Watch {
  ppid: number;
  /** First read. */
  since: number;
  /** Last read (full or a look). */
  readAt: number;
  /** Next full read of its links while young; Infinity after. */
  fullDue: number;
  /** Next look, while it is in a namespace created during the run (this wakes the tick); Infinity otherwise. */
  lookDue: number;
  /** Its first monitored type's namespace at the last full read: a look that finds another reads all again. */
  first?: number;
  /** Its links were refused at the last read (another user's). */
  denied?: boolean;
}

/** CLOCK_MONOTONIC in ms: the clock of the connector's timestamps (ktime_get_ns) and of process.hrtime. */
function monoNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Run the monitor until a bound is reached or `options.signal` aborts; resolves to the summary (also passed to onEvent). */
export async function monitorNamespaces(options: MonitorOptions, onEvent: (e: MonitorEvent) => void): Promise<MonitorSummary> {
  const procRoot = options.procRoot ?? '/proc';
  if (options.pid !== undefined && !existsSync(`${procRoot}/${options.pid}`)) {
    throw new NsmError(`monitor: no process with PID ${options.pid}`);
  }
  return new Monitor(options, onEvent).run();
}

class Monitor {
  private readonly types: readonly NsType[];
  private readonly intervalMs: number;
  private readonly rescanMs: number;
  private readonly procfs: ProcFs;
  private readonly epochOffset = Date.now() - monoNow();
  private readonly tracker: NamespaceTracker;
  private mode: MonitorMode = 'poll';
  private onStopped: () => void = () => undefined;
  private readonly stopped = new Promise<void>((resolve) => (this.onStopped = resolve));
  private connector: ProcConnector | undefined;
  /** Connector records that arrive before the first scan is in. */
  private queued: ConnectorRecord[] | undefined = [];
  /** Connector records received but not yet applied (see APPLY_SLICE_MS). */
  private pending: ConnectorRecord[] = [];
  private drainLater: NodeJS.Immediate | undefined;
  private nsEvents = 0;
  private overruns = 0;
  private silenced = false;
  private stopping = false;
  private failure: unknown;
  private wake: (() => void) | undefined;
  private scanning: Promise<void> | undefined;
  private lastScanStart = 0;
  /** Wall time of the last full scan (ms). */
  private lastScanWall = 0;
  private rescanTimer: NodeJS.Timeout | undefined;
  private rescanAt = Infinity;
  /** Pids the poller has read (or may not read), with their start time. */
  private readonly polled = new Map<number, number>();
  /** Without a ticker: pids first read by the previous full poll, read once more (unshare then exec happens right after fork). */
  private young = new Set<number>();
  /** Poll mode: the kernel's pid allocation cursor (undefined when /proc does not show our PID namespace). */
  private cursor: PidCursor | undefined;
  /** Looks at the cursor and lists /proc for us, and wakes us when they changed (undefined without a cursor). */
  private ticker: PidTicker | undefined;
  /** What the ticker reported before the first scan was in. */
  private tickerQueue: PidTickerReport[] | undefined = [];
  /** Our own timer: watched processes due; without a ticker, the ticks and the full poll. */
  private tickTimer: NodeJS.Timeout | undefined;
  /** Next full poll of /proc by Node (Infinity: the ticker lists it). */
  private nextFullPoll = Infinity;
  /** Last time a process was seen in a namespace created during the run. */
  private lastChurn = -Infinity;
  /** Pids handed out but not yet in /proc (alloc_pid() comes before the task is listed): tried once more. */
  private unborn: number[] = [];
  /** Processes the fast tick reads again. */
  private readonly watched = new Map<number, Watch>();
  private mountCache = new Map<number, NsMount[]>();
  private lossTimer: NodeJS.Timeout | undefined;
  private lastLossReport = -Infinity;
  /** The last rescan came too late for --duration: its result is dropped. */
  private abandoned = false;
  /** Kills a scan still running when --duration is up (it would keep nsm alive past it). */
  private readonly scanAbort = new AbortController();
  /** --duration's end (monotonic ms); undefined without one. */
  private deadline: number | undefined;
  private ownMounts: { at: number; byInode: Map<number, NsMount[]> } | undefined;

  constructor(
    private readonly options: MonitorOptions,
    private readonly onEvent: (e: MonitorEvent) => void,
  ) {
    this.types = options.types && options.types.length > 0 ? options.types : NS_TYPE_NAMES;
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.rescanMs = options.rescanMs ?? DEFAULT_RESCAN_MS;
    this.procfs = new ProcFs(options.procRoot);
    const env: TrackerEnv = {
      commandOf: (pid) => this.commandOf(pid),
      ownersOf: (type, inode, pid) => this.ownersOf(type, inode, pid),
      mountedNow: (inode) => this.ownMountsNow(0).has(inode),
      idOf: (pid, type, inode) => this.idOf(pid, type, inode),
      nsNow: (pid, type) => {
        try {
          const now = this.nsNow(pid, type);
          return typeof now === 'number' ? now : undefined;
        } catch {
          return undefined;
        }
      },
      toEpoch: (mono) => this.epoch(mono),
    };
    this.tracker = new NamespaceTracker({ types: this.types, verbose: options.verbose ?? false, followPid: options.pid }, env, (e) => this.emit(e));
  }

  private emit(e: MonitorEvent): void {
    if (this.silenced) return;
    this.onEvent(e);
    if (NAMESPACE_EVENT_KINDS.has(e.kind) && this.options.count !== undefined && ++this.nsEvents >= this.options.count) {
      // --count: nothing after the Nth event, not even GONEs a final rescan would confirm.
      this.silenced = true;
      this.stop();
    }
  }

  private stop(): void {
    this.stopping = true;
    this.wake?.();
    this.onStopped();
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    this.stop();
  }

  async run(): Promise<MonitorSummary> {
    const startedAt = Math.min(monoNow(), this.options.startedAt ?? Infinity);
    const reason = await this.chooseMode();
    // Opened before the first scan: processes created while it runs are read by the first
    // tick, and those that exit are in the ticker's first report.
    if (this.mode === 'poll') this.startPolling();
    this.emit({
      kind: 'mode',
      time: this.epoch(startedAt),
      mode: this.mode,
      intervalMs: this.mode === 'poll' ? this.intervalMs : undefined,
      tickMs: this.cursor ? ACTIVE_TICK_MS : undefined,
      quietTickMs: this.cursor ? QUIET_TICK_MS : undefined,
      rescanMs: this.rescanMs,
      reason,
      types: [...this.types],
      pid: this.options.pid,
    });
    const abort = (): void => this.stop();
    this.options.signal?.addEventListener('abort', abort);
    let duration: NodeJS.Timeout | undefined;
    const deadline = this.options.durationMs === undefined ? undefined : startedAt + this.options.durationMs;
    this.deadline = deadline;
    if (deadline !== undefined) {
      // Armed before the first scan, which may take long on a loaded host. In steps of at
      // most MAX_TIMER_MS: Node fires a longer timeout at once (1 ms).
      const arm = (): void => {
        const left = deadline - monoNow();
        if (left <= 0) return this.stop();
        duration = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      };
      arm();
    }
    try {
      // The first scan may outlast --duration on a loaded host: then the run ends without it.
      const scanning = this.scan();
      const first = await Promise.race([scanning, this.stopped.then(() => undefined)]);
      if (first === undefined) {
        scanning.catch(() => undefined);
        this.scanAbort.abort();
        this.silenced = true;
      } else {
        const baseline = this.tracker.start(first.scan, first.started);
        if (this.mode === 'poll') for (const p of first.scan.processes.values()) this.polled.set(p.pid, p.startTime);
        if (this.options.baseline) this.emit({ kind: 'baseline', time: this.epoch(first.started), namespaces: baseline });
        const queued = this.queued ?? [];
        this.queued = undefined;
        this.onRecords(queued);
        if (this.mode === 'poll') {
          const reports = this.tickerQueue ?? [];
          this.tickerQueue = undefined;
          if (!this.ticker) this.nextFullPoll = monoNow() + this.intervalMs;
          for (const r of reports) this.tick(r);
          this.tick();
        }
        this.schedule();
      }
      if (this.options.signal?.aborted) this.stop();
      while (!this.stopping) await new Promise<void>((resolve) => (this.wake = resolve));
    } finally {
      this.options.signal?.removeEventListener('abort', abort);
      clearTimeout(duration);
      clearTimeout(this.rescanTimer);
      clearTimeout(this.tickTimer);
      clearTimeout(this.lossTimer);
      // With --duration, the helper gets what is left of the run's slack to hand over its last
      // lines; killed after that, whatever it still had is counted as lost.
      const closeWait = deadline === undefined ? undefined : Math.max(CLOSE_FLOOR_MS, deadline + END_SLACK_MS - monoNow());
      if (this.connector && !(await this.connector.close(closeWait))) this.tracker.noteLost();
    }
    try {
      if (this.failure) throw this.failure;
      // A last rescan reports what died just before the end (unless --count silenced us).
      if (this.silenced) {
        clearImmediate(this.drainLater);
        await this.scanning;
      } else await this.finalRescan(deadline);
      if (this.failure) throw this.failure;
    } finally {
      // Closed after the last rescan, which it runs.
      await this.ticker?.close();
      this.cursor?.close();
    }
    const end = monoNow();
    if (!this.silenced) this.tracker.reportLoss(end);
    const summary: MonitorSummary = {
      kind: 'summary',
      time: this.epoch(end),
      mode: this.mode,
      durationMs: Math.round(end - startedAt),
      ...this.tracker.summary(),
      overruns: this.overruns,
    };
    this.onEvent(summary);
    return summary;
  }

  private epoch(mono: number): number {
    return Math.round((mono + this.epochOffset) * 1000) / 1000;
  }

  /** Events when we are root and the connector answers; otherwise poll, and say why. */
  private async chooseMode(): Promise<string | undefined> {
    if (this.options.mode === 'poll') return 'polling requested (--poll)';
    // Reading another user's /proc/PID/ns links needs ptrace access (proc(5)); only root
    // can read every process's, so only root gets event mode (kernel 6.6+ lets anyone
    // listen to the connector, but the events would mostly be unreadable).
    if (process.geteuid?.() !== 0) return 'not root';
    try {
      this.connector = await ProcConnector.open(
        { types: this.types, procRoot: this.options.procRoot, rcvbuf: this.options.rcvbuf },
        (records) => this.onRecords(records),
        (err: SysError) => this.fail(err),
      );
      this.mode = 'events';
      return undefined;
    } catch (err) {
      if (!(err instanceof NsmError)) throw err;
      return `process events connector unavailable: ${err.message}`;
    }
  }

  private onRecords(records: ConnectorRecord[]): void {
    const into = this.queued ?? this.pending;
    for (const r of records) into.push(r);
    if (!this.queued) this.drain(false);
  }

  /**
   * Applies pending records in order: all of them, or (`sliced`) for APPLY_SLICE_MS, the rest
   * after the timers due meanwhile have run. Returns whether none is left.
   */
  private drain(all: boolean): boolean {
    clearImmediate(this.drainLater);
    this.drainLater = undefined;
    const until = all ? Infinity : monoNow() + APPLY_SLICE_MS;
    const cutoff = this.cutoff();
    // Called from the connector's data event: a throw here would escape the CLI's one error path.
    try {
      for (let now = monoNow(); this.pending.length > 0 && now < until && now < cutoff; now = monoNow()) this.applyRecords(this.pending.splice(0, APPLY_STEP));
    } catch (err) {
      this.fail(err);
      return true;
    }
    if (this.pending.length === 0) return true;
    if (monoNow() >= cutoff) {
      // --duration is up: the run ends now, whatever its timer says (a burst's records, applied
      // all at once before a rescan, once held the timer back by most of a second). What is
      // left is finalRescan()'s, within END_SLACK_MS, or counted as lost.
      if (!this.stopping) this.stop();
      return false;
    }
    this.drainLater = setImmediate(() => this.drain(false));
    return false;
  }

  /** Until when records may be applied: --duration's end, then (stopping) END_SLACK_MS after it. */
  private cutoff(): number {
    if (this.deadline === undefined) return Infinity;
    return this.stopping ? this.deadline + END_SLACK_MS : this.deadline;
  }

  /** The records left at the end, a slice at a time, until none is left or the run is over (--duration). */
  private async drainPending(): Promise<void> {
    while (!this.abandoned && !this.drain(false) && monoNow() < this.cutoff()) await new Promise((r) => setImmediate(r));
  }

  /** --duration is up with records still unapplied: they are counted as lost, once. */
  private dropPending(): void {
    clearImmediate(this.drainLater);
    this.drainLater = undefined;
    if (this.pending.length === 0) return;
    this.pending = [];
    this.tracker.noteLost();
  }

  private applyRecords(records: ConnectorRecord[]): void {
    let rescanNow = false;
    let lastUnread: number | undefined;
    for (const r of records) {
      switch (r.kind) {
        case 'fork':
        case 'exec':
          // Exited before its links were read (a fork then an exec of the same pid: once).
          if (r.gone && r.pid !== lastUnread) {
            this.tracker.noteUnread();
            lastUnread = r.pid;
          }
          this.tracker.observe({ pid: r.pid, ppid: r.ppid, ns: r.ns, ids: r.ids, command: r.command, time: r.ts, fork: r.kind === 'fork', exec: r.kind === 'exec', via: 'event' });
          break;
        case 'exit':
          this.tracker.exited(r.pid, r.ts);
          break;
        case 'overrun':
          this.overruns++;
          this.tracker.noteLost();
          rescanNow = true;
          this.emit({ kind: 'overrun', time: this.epoch(r.ts), count: this.overruns });
          break;
        case 'mounts':
          rescanNow = true;
          break;
      }
    }
    // Events were lost, or a mount may have pinned or released a namespace: only a full
    // rescan can tell (one at most every CONFIRM_GAP_MS).
    this.schedule(rescanNow ? 'soon' : undefined);
    this.reportLossSoon();
  }

  /** A 'lost' event for what was missed, now or (at most one per LOSS_REPORT_MS) a little later. */
  private reportLossSoon(): void {
    if (this.stopping || this.lossTimer || !this.tracker.hasUnreportedLoss()) return;
    const now = monoNow();
    const at = this.lastLossReport + LOSS_REPORT_MS;
    const report = (): void => {
      this.lossTimer = undefined;
      this.lastLossReport = monoNow();
      this.tracker.reportLoss(this.lastLossReport);
    };
    if (now >= at) report();
    else this.lossTimer = setTimeout(report, at - now);
  }

  /**
   * Poll mode's eyes: the pid cursor, and the pidtick helper that looks at it and lists
   * /proc (a full poll in Node without it: /proc shows another PID namespace than ours).
   */
  private startPolling(): void {
    this.cursor = PidCursor.open(this.options.procRoot);
    if (!this.cursor) return;
    this.ticker = PidTicker.start(
      { procRoot: this.options.procRoot, periodMs: QUIET_TICK_MS, listMs: this.intervalMs },
      (report) => {
        if (this.tickerQueue) this.tickerQueue.push(report);
        else this.tick(report);
      },
      (err) => this.fail(err),
    );
  }

  /**
   * The cursor's period (fast while namespaces churn), and our own timer: on time for
   * watched processes due; without a ticker, for the ticks themselves and the full poll.
   */
  private armTick(): void {
    if (this.stopping) return;
    const now = monoNow();
    const period = now - this.lastChurn < ACTIVE_FOR_MS ? ACTIVE_TICK_MS : this.cursor ? QUIET_TICK_MS : this.intervalMs;
    this.ticker?.setPeriod(period);
    let at = Math.min(this.ticker ? Infinity : now + period, this.nextFullPoll);
    if (this.unborn.length > 0) at = Math.min(at, now + ACTIVE_TICK_MS);
    for (const w of this.watched.values()) at = Math.min(at, w.fullDue, w.lookDue);
    clearTimeout(this.tickTimer);
    this.tickTimer = at === Infinity ? undefined : setTimeout(() => this.tick(), Math.max(0, at - now));
  }

  /** A tick: the ticker reported a change, or our timer is due. */
  private tick(report?: PidTickerReport): void {
    if (this.stopping) return;
    try {
      const now = monoNow();
      // The cursor first: a child is then read before its parent's exit is noticed.
      if (this.cursor) this.readNewProcesses(now);
      if (report) this.applyListing(report, now);
      this.rereadWatched(now);
      if (now >= this.nextFullPoll) {
        this.pollOnce(now);
        this.nextFullPoll = this.ticker ? Infinity : now + this.intervalMs;
      }
      this.schedule();
      this.reportLossSoon();
    } catch (err) {
      this.fail(err);
      return;
    }
    this.armTick();
  }

  /** The processes created since the last tick, found by the pid cursor, without listing /proc. */
  private readNewProcesses(now: number, retryUnborn = true): void {
    const retry = retryUnborn ? this.unborn : [];
    if (retryUnborn) this.unborn = [];
    const { pids, truncated } = this.cursor!.newPids(MAX_NEW_PIDS);
    // More than one tick reads: a full poll by Node lists them all, now (once); those gone
    // by then are not even counted as unread.
    if (truncated) {
      this.nextFullPoll = now;
      this.tracker.noteLost();
    }
    for (const pid of retry) this.readNewProcess(pid, now, false);
    pids.forEach((pid, i) => this.readNewProcess(pid, now, i >= pids.length - UNBORN_WINDOW));
  }

  private readNewProcess(pid: number, now: number, mayBeUnborn: boolean): void {
    let stat;
    try {
      stat = this.procfs.readStat(pid);
    } catch (err) {
      if (!hasErrno(err, 'ENOENT', 'ESRCH')) throw err;
      // Not listed yet (tried once more), or gone already: it lived less than a tick.
      if (mayBeUnborn) this.unborn.push(pid);
      else this.tracker.noteUnread();
      return;
    }
    // A thread (exit_signal -1) is in its process's namespaces (the rescan finds one that
    // moved); the ticker's children are our scans; a process already read from a listing
    // (born after the cursor was read, or in use when the cursor wrapped past it) is
    // known, and watched already if young.
    if (stat.exitSignal === -1 || stat.ppid === this.ticker?.pid || this.polled.get(pid) === stat.startTime) return;
    this.polled.set(pid, stat.startTime);
    // A young parent is read again first: if it has just made a namespace and this child
    // was born in it, the NEW names the parent, as event mode does.
    const parent = this.watched.get(stat.ppid);
    if (parent && parent.readAt !== now) this.reread(stat.ppid, parent, now, true);
    const ns = this.readNs(pid);
    if (ns === 'gone') return;
    // Another user's process is watched too while young: setpriv, su or runuser may be
    // about to give it our uid (and then unshare), as happens right after fork.
    const w = this.newWatch(stat.ppid, now);
    this.watched.set(pid, w);
    if (ns === 'denied') {
      w.denied = true;
      return;
    }
    this.tracker.observe({ pid, ppid: stat.ppid, startTime: stat.startTime, ns, time: now, via: 'poll' });
    this.afterFullRead(pid, w, ns, now);
  }

  private newWatch(ppid: number, now: number): Watch {
    return { ppid, since: now, readAt: now, fullDue: now + ACTIVE_TICK_MS, lookDue: Infinity };
  }

  /**
   * After a full read: next full read while young; looks while in a namespace created
   * during the run (then the ticks speed up too).
   */
  private afterFullRead(pid: number, w: Watch, ns: Partial<Record<NsType, number>>, now: number): void {
    this.nextFullRead(w, now);
    w.first = ns[this.types[0]!];
    this.scheduleLook(pid, w, now);
  }

  private nextFullRead(w: Watch, now: number): void {
    const age = now - w.since;
    const gap = Math.max(ACTIVE_TICK_MS, YOUNG_GROWTH * age);
    w.fullDue = age + gap < YOUNG_MS ? now + gap : Infinity;
  }

  private scheduleLook(pid: number, w: Watch, now: number): void {
    const member = this.tracker.inCreatedNamespace(pid);
    if (member) this.lastChurn = now;
    const gap = Math.max(ACTIVE_TICK_MS, (now - w.since) / WATCH_DIVISOR);
    w.lookDue = member && gap < this.intervalMs ? now + gap : Infinity;
  }

  /**
   * Read watched processes again when due: a young one may have switched namespaces since
   * fork; one in a namespace made during the run may have exited, leaving it empty (the
   * tracker then brings a rescan forward to confirm that nothing else holds it).
   */
  private rereadWatched(now: number): void {
    for (const [pid, w] of this.watched) if (Math.min(w.fullDue, w.lookDue) <= now) this.reread(pid, w, now);
  }

  private reread(pid: number, w: Watch, now: number, forceFull = false): void {
    w.readAt = now;
    if (!forceFull && now < w.fullDue) {
      // A look: gone, still there (its first type's namespace unchanged), or read in full.
      const first = this.nsNow(pid, this.types[0]!);
      if (first === 'gone') return this.lost(pid, now);
      if (first === w.first) {
        this.scheduleLook(pid, w, now);
        return;
      }
    }
    const ns = this.readNs(pid);
    if (ns === 'gone') return this.lost(pid, now);
    if (ns === 'denied') {
      // Not (or no longer: a set-user-ID exec) ours to read: read again for a while, as above.
      const age = now - w.since;
      const gap = Math.max(ACTIVE_TICK_MS, age / WATCH_DIVISOR);
      w.fullDue = age + gap < DENIED_WATCH_MS ? now + gap : Infinity;
      w.lookDue = Infinity;
      w.denied = true;
    } else {
      // Ours since a moment (setpriv's exec of unshare): young from now on, as if just forked,
      // since its namespace switch may come a few ms after this read.
      if (w.denied) w.since = now;
      w.denied = false;
      this.tracker.observe({ pid, ppid: w.ppid, ns, time: now, via: 'poll' });
      this.afterFullRead(pid, w, ns, now);
    }
    if (w.fullDue === Infinity && w.lookDue === Infinity) this.watched.delete(pid);
  }

  /** A watched process has exited. */
  private lost(pid: number, now: number): void {
    this.watched.delete(pid);
    this.polled.delete(pid);
    this.tracker.exited(pid, now);
  }

  /** What the ticker's listing of /proc changed: processes gone, and any the cursor did not show. */
  private applyListing(report: PidTickerReport, now: number): void {
    for (const pid of report.gone) {
      this.polled.delete(pid);
      this.watched.delete(pid);
      this.tracker.exited(pid, now);
    }
    for (const pid of report.appeared) if (!this.polled.has(pid)) this.readListed(pid, now);
  }

  /**
   * The full poll, without a ticker: list /proc, read processes not seen before (and
   * young ones again); those no longer listed have exited.
   */
  private pollOnce(time: number): void {
    const pids = this.procfs.listPids();
    const young = new Set<number>();
    for (const pid of pids) {
      if (this.polled.has(pid) && !this.young.has(pid)) continue;
      if (!this.polled.has(pid)) young.add(pid);
      this.readListed(pid, time);
    }
    this.young = young;
    const listed = new Set(pids);
    for (const pid of [...this.polled.keys()]) {
      if (listed.has(pid)) continue;
      this.polled.delete(pid);
      this.watched.delete(pid);
      this.tracker.exited(pid, time);
    }
  }

  /** A process found by listing /proc. */
  private readListed(pid: number, time: number): void {
    const stat = this.readProcess(pid, time);
    if (stat === undefined) return;
    if (!this.polled.has(pid)) {
      // Watched as if the tick had found it, which it will skip now that it is polled: with
      // the cursor, a process new to a listing was mostly born since the tick read the
      // cursor, moments ago.
      const w = this.newWatch(stat.ppid, time);
      if (stat.ns) this.afterFullRead(pid, w, stat.ns, time);
      if (this.cursor || w.lookDue !== Infinity) this.watched.set(pid, w);
    }
    this.polled.set(pid, stat.startTime);
  }

  /**
   * A process's namespace links: 'gone' when it has exited (a zombie's links are gone too:
   * exit released its namespaces), 'denied' when it is another user's (proc(5): reading
   * them needs ptrace access). One that exits halfway gives what was read.
   */
  private readNs(pid: number): Partial<Record<NsType, number>> | 'gone' | 'denied' {
    const ns: Partial<Record<NsType, number>> = {};
    let any = false;
    for (const type of this.types) {
      try {
        const ref = this.procfs.readNsEntry(pid, type);
        if (ref) {
          ns[type] = ref.inode;
          any = true;
        }
      } catch (err) {
        if (hasErrno(err, 'ENOENT', 'ESRCH')) return any ? ns : 'gone';
        if (hasErrno(err, 'EACCES')) return any ? ns : 'denied';
        throw err;
      }
    }
    return ns;
  }

  /** Read one process for the full poll; undefined when it is gone. */
  private readProcess(pid: number, time: number): (ProcStat & { ns?: Partial<Record<NsType, number>> }) | undefined {
    let stat;
    try {
      stat = this.procfs.readStat(pid);
    } catch (err) {
      if (hasErrno(err, 'ENOENT', 'ESRCH')) return undefined; // exited since readdir
      throw err;
    }
    const ns = this.readNs(pid);
    this.tracker.observe({ pid, ppid: stat.ppid, startTime: stat.startTime, ns: typeof ns === 'string' ? {} : ns, time, via: 'poll' });
    return typeof ns === 'string' ? stat : { ...stat, ns };
  }

  /**
   * (Re)arm the rescan timer: soon when a namespace awaits confirmation that nothing holds
   * it (or `urgency` says so), else at the safety-net period.
   */
  private schedule(urgency?: 'soon'): void {
    if (this.stopping) return;
    const now = monoNow();
    const soon = Math.max(now, this.lastScanStart + Math.max(CONFIRM_GAP_MS, CONFIRM_FACTOR * this.lastScanWall));
    const at = urgency === 'soon' || this.tracker.awaitingConfirmation() > 0 ? soon : this.lastScanStart + Math.max(this.rescanMs, SAFETY_FACTOR * this.lastScanWall);
    if (this.scanning || at >= this.rescanAt) return; // a scan is running (it reschedules) or one is due sooner
    clearTimeout(this.rescanTimer);
    this.rescanAt = at;
    this.rescanTimer = setTimeout(() => {
      this.rescanAt = Infinity;
      void this.rescan().then(() => this.schedule(), (err: unknown) => this.fail(err));
    }, Math.max(0, at - now));
  }

  private async scan(): Promise<{ scan: HostScan; started: number; finished: number }> {
    const started = monoNow();
    this.lastScanStart = started;
    // Poll mode: the pidtick helper starts the scan (a fork of Node costs several ms).
    const scan = await scanHost({ procRoot: this.options.procRoot, types: this.types, runner: this.ticker, signal: this.scanAbort.signal });
    const finished = monoNow();
    this.lastScanWall = finished - started;
    attribute(scan);
    this.mountCache = new Map();
    for (const ns of scan.namespaces) if (ns.mounts.length > 0) this.mountCache.set(ns.inode, ns.mounts);
    return { scan, started, finished };
  }

  /**
   * The records still pending, then the last rescan; with a deadline (--duration), only what
   * ends by END_SLACK_MS after it (nothing when that time has passed already).
   */
  private async finalRescan(deadline: number | undefined): Promise<void> {
    // One under way first (it may be confirming GONEs), then a fresh one.
    const done = (async (): Promise<void> => {
      await this.drainPending();
      await this.scanning;
      // Not started once END_SLACK_MS is over, nor with records left unapplied (it would contradict them).
      if (!this.abandoned && this.pending.length === 0 && monoNow() < this.cutoff()) await this.rescan(true);
    })();
    if (deadline === undefined) return done;
    let timer: NodeJS.Timeout | undefined;
    const budget = Math.max(0, deadline + END_SLACK_MS - monoNow());
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), budget)));
    const first = await Promise.race([done, late]);
    clearTimeout(timer);
    if (first === 'late') {
      this.abandoned = true;
      done.catch(() => undefined);
      this.scanAbort.abort();
    }
    // Records the deadline left unapplied (late, or cut short by drain()): counted as lost.
    this.dropPending();
  }

  private rescan(final = false): Promise<void> {
    if (this.scanning) return this.scanning;
    this.scanning = (async () => {
      try {
        const { scan, started, finished } = await this.scan();
        if (this.mode === 'events' && !final) {
          const wait = started + RECORD_LAG_MS - monoNow();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          // Records the connector wrote meanwhile are delivered before this resumes.
          await new Promise((r) => setImmediate(r));
        }
        // --duration is up (its timer may not have run yet on a loaded host): the run ends, and
        // this scan is applied only within END_SLACK_MS of it.
        if (this.deadline !== undefined && !this.stopping && monoNow() >= this.deadline) this.stop();
        if (this.abandoned || monoNow() >= this.cutoff()) return; // the summary goes out without it
        // The records of everything before it first (they may still wait for a slice); cut
        // short by --duration, the scan is not applied (it would contradict them).
        if (!this.drain(true)) return;
        // Poll mode's equivalent: processes created since the scan began. The scan may have
        // listed /proc before a child was forked and looked for its parent after that parent
        // exited; unread, the child would leave their namespace looking empty (GONE).
        if (this.mode === 'poll' && this.cursor) this.readNewProcesses(monoNow(), false); // the unborn get their retry at the next tick
        this.tracker.reconcile(scan, started, { final, finished });
        this.reportLossSoon();
        if (this.mode === 'poll') {
          for (const p of scan.processes.values()) if (!this.polled.has(p.pid)) this.polled.set(p.pid, p.startTime);
        }
      } finally {
        this.scanning = undefined;
      }
    })();
    return this.scanning;
  }

  /** nsfs mounts in our own mount namespace, read again when older than `maxAgeMs`. */
  private ownMountsNow(maxAgeMs: number): Map<number, NsMount[]> {
    const now = monoNow();
    if (this.ownMounts && now - this.ownMounts.at <= maxAgeMs) return this.ownMounts.byInode;
    const byInode = new Map<number, NsMount[]>();
    try {
      for (const m of nsfsMounts(this.procfs.readMountinfo('self'))) {
        const list = byInode.get(m.inode) ?? [];
        list.push({ path: m.mountPoint, visible: true });
        byInode.set(m.inode, list);
      }
    } catch {
      // no mount table to read: no names, no pins
    }
    this.ownMounts = { at: now, byInode };
    return byInode;
  }

  /** One namespace link of a process, for a look: 'gone' once it has exited, 'unknown' when it may not be read. */
  private nsNow(pid: number, type: NsType): number | 'gone' | 'unknown' {
    try {
      return this.procfs.readNsEntry(pid, type)?.inode ?? 'unknown';
    } catch (err) {
      if (hasErrno(err, 'ENOENT', 'ESRCH')) return 'gone';
      if (hasErrno(err, 'EACCES')) return 'unknown'; // not ours to read (any more: a set-user-ID exec)
      throw err;
    }
  }

  /** NS_GET_ID of pid's namespace of this type, if it still is `inode` (ioctl_ns(2)). */
  private idOf(pid: number, type: NsType, inode: number): number | undefined {
    try {
      const now = nsIdentity(this.procfs.path(pid, 'ns', type));
      return now.inode === inode ? now.id : undefined;
    } catch {
      return undefined; // gone, or not ours to read
    }
  }

  private commandOf(pid: number): string | undefined {
    try {
      const args = this.procfs.readCmdline(pid);
      return args.length > 0 ? args.join(' ') : this.procfs.readStat(pid).comm;
    } catch {
      return undefined; // gone already: the caller falls back to what it knows
    }
  }

  /**
   * Owners of a namespace found between rescans: attribute() on a one-namespace scan, with
   * its nsfs mounts from the last rescan or, failing that, our own mount table now.
   */
  private ownersOf(type: NsType, inode: number, pid?: number): Attribution[] {
    const mounts = this.mountCache.get(inode) ?? this.ownMountsNow(MOUNTS_TTL_MS).get(inode) ?? [];
    const ns: Namespace = { type, inode, pids: pid === undefined ? [] : [pid], threads: [], fds: [], mounts, owners: [] };
    const processes = new Map(pid === undefined ? [] : [[pid, { pid, ppid: 0, comm: '', uid: -1, startTime: 0, ns: { [type]: inode } }]]);
    attribute({ processes, namespaces: [ns], stats: { gone: 0, denied: 0 } });
    return ns.owners;
  }
}
