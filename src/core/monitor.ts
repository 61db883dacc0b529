/**
 * `nsm monitor` as a library call: watch namespaces come and go until a bound is reached
 * or the caller aborts, reporting each change through a callback (never printing).
 *
 * Two sources feed one NamespaceTracker (src/core/monitor-tracker.ts):
 *  - events (root): the kernel's process events connector. A worker thread reads each
 *    forked or exec'd process's namespace links within a millisecond of the event
 *    (src/sys/proc-connector.ts), so a namespace that lives 10 ms is seen, and exits
 *    arrive with the kernel's timestamp.
 *  - poll (not root, or no connector): list /proc every `intervalMs` and read the links of
 *    processes not seen before. A namespace that lives less than the interval may be missed.
 * Under both, a full rescan (processes, threads, fds, nsfs mounts) runs every `rescanMs`
 * as the safety net: it finds namespaces made by unshare(2)/setns(2) without an exec, and
 * it alone decides that a namespace is gone (nothing holds it any more). When a
 * namespace's last process leaves, a rescan is brought forward to confirm it.
 */
import { existsSync } from 'node:fs';
import { hasErrno, NsmError, type SysError } from '../sys/errors.js';
import { NS_TYPE_NAMES, type NsType } from '../sys/nstypes.js';
import { nsfsMounts } from '../sys/parse.js';
import { ProcConnector, type ConnectorRecord } from '../sys/proc-connector.js';
import { ProcFs } from '../sys/procfs.js';
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
  /** Stop after this long. */
  durationMs?: number;
  /** Report the namespaces present at start first (a 'baseline' event). */
  baseline?: boolean;
  /** Period of the safety-net full rescan (default 5000 ms, longer on big hosts). */
  rescanMs?: number;
  /** Abort to stop (Ctrl-C); the summary follows. */
  signal?: AbortSignal;
  procRoot?: string;
}

export const DEFAULT_INTERVAL_MS = 250;
/**
 * The full rescan costs ~14 ms of CPU on a host with 100 processes (the native walk plus
 * spawning it); every 5 s that is 0.3% of a core, inside the 1% idle budget
 * (bench/RESULTS.md, "monitor"). Mount changes in our mount namespace (ip netns add and
 * delete) and overruns bring it forward, and so does a namespace losing its last process.
 * On a bigger host a scan takes longer, so the period
 * stretches to SAFETY_FACTOR times the last scan's wall time (a scan's CPU is at most
 * about twice its wall time: the helper uses up to 2 workers here).
 */
export const DEFAULT_RESCAN_MS = 5000;
const SAFETY_FACTOR = 200;
/**
 * Least time between rescans brought forward to confirm GONE, and the same stretching:
 * under sustained churn, rescans take at most ~1/CONFIRM_FACTOR of the wall time.
 */
const CONFIRM_GAP_MS = 250;
const CONFIRM_FACTOR = 10;
/** Own mount table re-read at most this often when naming namespaces found between rescans. */
const MOUNTS_TTL_MS = 100;

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
  private connector: ProcConnector | undefined;
  /** Connector records that arrive before the first scan is in. */
  private queued: ConnectorRecord[] | undefined = [];
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
  private pollTimer: NodeJS.Timeout | undefined;
  /** Pids the poller has read (or may not read), with their start time. */
  private readonly polled = new Map<number, number>();
  /** Pids first read by the previous poll: read once more (unshare then exec happens right after fork). */
  private young = new Set<number>();
  private mountCache = new Map<number, NsMount[]>();
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
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    this.stop();
  }

  async run(): Promise<MonitorSummary> {
    const startedAt = monoNow();
    const reason = await this.chooseMode();
    this.emit({
      kind: 'mode',
      time: this.epoch(startedAt),
      mode: this.mode,
      intervalMs: this.mode === 'poll' ? this.intervalMs : undefined,
      rescanMs: this.rescanMs,
      reason,
      types: [...this.types],
      pid: this.options.pid,
    });
    const abort = (): void => this.stop();
    this.options.signal?.addEventListener('abort', abort);
    let duration: NodeJS.Timeout | undefined;
    try {
      const first = await this.scan();
      const baseline = this.tracker.start(first.scan, first.started);
      if (this.mode === 'poll') for (const p of first.scan.processes.values()) this.polled.set(p.pid, p.startTime);
      if (this.options.baseline) this.emit({ kind: 'baseline', time: this.epoch(first.started), namespaces: baseline });
      const queued = this.queued ?? [];
      this.queued = undefined;
      this.onRecords(queued);
      if (this.mode === 'poll') this.pollTimer = setInterval(() => this.pollOnce(), this.intervalMs);
      this.schedule();
      if (this.options.durationMs !== undefined) {
        const left = this.options.durationMs - (monoNow() - startedAt);
        duration = setTimeout(() => this.stop(), Math.max(0, left));
      }
      if (this.options.signal?.aborted) this.stop();
      while (!this.stopping) await new Promise<void>((resolve) => (this.wake = resolve));
    } finally {
      this.options.signal?.removeEventListener('abort', abort);
      clearTimeout(duration);
      clearTimeout(this.rescanTimer);
      clearInterval(this.pollTimer);
      await this.connector?.close();
    }
    if (this.failure) throw this.failure;
    // A last rescan reports what died just before the end (unless --count silenced us).
    await this.scanning;
    if (!this.silenced) await this.rescan();
    if (this.failure) throw this.failure;
    const end = monoNow();
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
        { types: this.types, procRoot: this.options.procRoot },
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
    if (this.queued) {
      this.queued.push(...records);
      return;
    }
    // Called from the worker's message event: a throw here would escape the CLI's one error path.
    try {
      this.applyRecords(records);
    } catch (err) {
      this.fail(err);
    }
  }

  private applyRecords(records: ConnectorRecord[]): void {
    let rescanNow = false;
    for (const r of records) {
      switch (r.kind) {
        case 'fork':
        case 'exec':
          this.tracker.observe({ pid: r.pid, ppid: r.ppid, ns: r.ns, command: r.command, time: r.ts, fork: r.kind === 'fork', via: 'event' });
          break;
        case 'exit':
          this.tracker.exited(r.pid, r.ts);
          break;
        case 'overrun':
          this.overruns++;
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
  }

  /** One poll: read processes not seen before (and young ones again); those no longer listed have exited. */
  private pollOnce(): void {
    if (this.stopping) return;
    try {
      const time = monoNow();
      const pids = this.procfs.listPids();
      const young = new Set<number>();
      for (const pid of pids) {
        if (this.polled.has(pid) && !this.young.has(pid)) continue;
        const seen = this.readProcess(pid, time);
        if (seen === undefined) continue;
        if (!this.polled.has(pid)) young.add(pid);
        this.polled.set(pid, seen);
      }
      this.young = young;
      const listed = new Set(pids);
      for (const pid of [...this.polled.keys()]) {
        if (listed.has(pid)) continue;
        this.polled.delete(pid);
        this.tracker.exited(pid, time);
      }
      this.schedule();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Read one process for the poller; returns its start time, or undefined when it is gone. */
  private readProcess(pid: number, time: number): number | undefined {
    let stat;
    try {
      stat = this.procfs.readStat(pid);
    } catch (err) {
      if (hasErrno(err, 'ENOENT', 'ESRCH')) return undefined; // exited since readdir
      throw err;
    }
    const ns: Partial<Record<NsType, number>> = {};
    for (const type of this.types) {
      try {
        const ref = this.procfs.readNsEntry(pid, type);
        if (ref) ns[type] = ref.inode;
      } catch (err) {
        // ENOENT/ESRCH: gone meanwhile; EACCES: another user's (proc(5) ptrace check).
        if (hasErrno(err, 'ENOENT', 'ESRCH', 'EACCES')) break;
        throw err;
      }
    }
    this.tracker.observe({ pid, ppid: stat.ppid, startTime: stat.startTime, ns, time, via: 'poll' });
    return stat.startTime;
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

  private async scan(): Promise<{ scan: HostScan; started: number }> {
    const started = monoNow();
    this.lastScanStart = started;
    const scan = await scanHost({ procRoot: this.options.procRoot, types: this.types });
    this.lastScanWall = monoNow() - started;
    attribute(scan);
    this.mountCache = new Map();
    for (const ns of scan.namespaces) if (ns.mounts.length > 0) this.mountCache.set(ns.inode, ns.mounts);
    return { scan, started };
  }

  private rescan(): Promise<void> {
    if (this.scanning) return this.scanning;
    this.scanning = (async () => {
      try {
        const { scan, started } = await this.scan();
        this.tracker.reconcile(scan, started);
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
