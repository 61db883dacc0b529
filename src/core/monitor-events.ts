/**
 * What `nsm monitor` reports: a closed union of events keyed by `kind`. src/ui/monitor.ts
 * has one formatter per kind (a mapped type, so a new kind does not compile without one),
 * and `--json` prints each event as one JSON Lines record; docs/json.md documents them.
 */
import type { NsType } from '../sys/nstypes.js';
import type { Attribution, HeldBy } from './model.js';

/** How a namespace came to our notice. */
export type Via =
  /** A fork or exec reported by the process events connector (its links read within a millisecond). */
  | 'event'
  /** A new process found by polling /proc. */
  | 'poll'
  /** The periodic full rescan (processes, threads, fds, nsfs mounts). */
  | 'rescan';

export type MonitorMode = 'events' | 'poll';

/** Poll mode's default period of the full listing of /proc, in ms (`monitor -i`). */
export const DEFAULT_INTERVAL_MS = 250;

/** A namespace as the baseline and the summary list it. */
export interface NamespaceBrief {
  type: NsType;
  inode: number;
  /** 64-bit namespace ID (NS_GET_ID, Linux 6.18; null where the kernel has none): unlike the inode, never reused. */
  id: number | null;
  /** Processes in it when listed. */
  nprocs: number;
  /** Lowest (baseline) or first (created) pid seen in it; absent when only an fd, thread or mount held it. */
  pid?: number;
  command?: string;
  held: HeldBy[];
  owners: Attribution[];
}

interface At {
  /** When it happened, in milliseconds since the epoch (for fork/exec/exit: the kernel's own timestamp). */
  time: number;
}

export type MonitorEvent =
  /** First record: how the monitor watches. */
  | (At & {
      kind: 'mode';
      mode: MonitorMode;
      /** Period of the full poll of /proc (poll mode only). */
      intervalMs?: number;
      /**
       * Poll mode's fast tick (new processes by the kernel's pid cursor): its period while
       * processes appear, and on a quiet host. Absent when /proc gives no cursor.
       */
      tickMs?: number;
      quietTickMs?: number;
      /** Period of the safety-net full rescan. */
      rescanMs: number;
      /** Why the monitor polls (poll mode only): "not root", "process events connector unavailable: ..." */
      reason?: string;
      types: NsType[];
      /** -p: the process whose tree is followed. */
      pid?: number;
    })
  /** --baseline: the namespaces present at start, as one block. */
  | (At & { kind: 'baseline'; namespaces: NamespaceBrief[] })
  /** A namespace not seen before. */
  | (At & { kind: 'ns-new'; type: NsType; inode: number; id: number | null; pid?: number; command?: string; owners: Attribution[]; via: Via })
  /**
   * No process, thread, fd or mount holds it any more. `lifetimeMs` is absent for a
   * namespace that existed before the monitor started (its birth is unknown).
   */
  | (At & { kind: 'ns-gone'; type: NsType; inode: number; id: number | null; lifetimeMs?: number; owners: Attribution[]; via: Via })
  /** --verbose: a process moved into an already known namespace (setns, or unshare then fork/exec). */
  | (At & { kind: 'ns-join'; type: NsType; inode: number; id: number | null; pid: number; command?: string; from?: number; via: Via })
  /** --verbose: a process moved out of a namespace (it still exists). */
  | (At & { kind: 'ns-leave'; type: NsType; inode: number; id: number | null; pid: number; command?: string; to?: number; via: Via })
  /** The kernel dropped events (ENOBUFS): a full rescan follows to catch up. */
  | (At & { kind: 'overrun'; count: number })
  /**
   * The monitor knows it missed something since the last such record (at most one a
   * second, and one before the summary): `since` counts what happened since, `total` all
   * run long. Namespaces may have been missed: the counts say how.
   */
  | (At & { kind: 'lost'; since: LossCounts; total: LossCounts })
  /** Last record (Ctrl-C, --count, --duration). */
  | (At & { kind: 'summary'; mode: MonitorMode; durationMs: number; types: Partial<Record<NsType, TypeTotals>>; stillAlive: NamespaceBrief[]; overruns: number } & LossCounts);

/**
 * What the monitor knows it missed (kept by the tracker, src/core/monitor-tracker.ts).
 * Namespaces that came and went entirely between two looks leave no trace of their own:
 * `lost` and `unread` say that such may exist.
 */
export interface LossCounts {
  /**
   * Times the kernel dropped process events (netlink ENOBUFS: the socket's receive queue
   * was full), or the poller's pid cursor moved by more than one tick reads (poll mode).
   */
  lost: number;
  /** Processes gone before their namespaces could be read: any namespace they alone made was missed. */
  unread: number;
  /** Namespaces a rescan found that no event or poll had shown (made without an exec we saw, or events lost). */
  missedNew: number;
  /** Namespaces a rescan found gone whose last process's exit had not been seen. */
  missedGone: number;
}

export const NO_LOSS: Readonly<LossCounts> = { lost: 0, unread: 0, missedNew: 0, missedGone: 0 };

export interface TypeTotals {
  /** Namespaces created while monitoring (reported NEW). */
  created: number;
  /** Namespaces reported GONE (created during the run or before it). */
  destroyed: number;
  /** Namespaces of this type alive at the end (within scope: all, or -p's tree). */
  alive: number;
}

export type MonitorEventKind = MonitorEvent['kind'];

/** Kinds that count towards --count: the namespace events. */
export const NAMESPACE_EVENT_KINDS: ReadonlySet<MonitorEventKind> = new Set(['ns-new', 'ns-gone', 'ns-join', 'ns-leave']);

export type MonitorSummary = Extract<MonitorEvent, { kind: 'summary' }>;
