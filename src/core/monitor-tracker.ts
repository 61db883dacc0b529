/**
 * The monitor's state: which process is in which namespace, and which namespaces are
 * alive. It takes observations (a process seen with its namespaces, a process gone, a
 * full rescan) and emits MonitorEvents. It does no I/O of its own, so it is unit-tested
 * with made-up observations (test/unit/monitor-tracker.test.ts).
 *
 * Times are CLOCK_MONOTONIC milliseconds (the clock of the connector's timestamps);
 * `toEpoch` converts them for the events.
 *
 * Rules (namespaces(7)): a namespace lives while a process or thread is in it, an fd
 * refers to it, or it is bind-mounted. Processes are tracked one by one from events or
 * polls; threads, fds and mounts only by the full rescan. So a namespace whose last
 * member left is reported GONE only when a rescan that began after that moment no longer
 * finds it anywhere: the rescan decides.
 */
import type { NsType } from '../sys/nstypes.js';
import { NO_LOSS, type LossCounts, type MonitorEvent, type NamespaceBrief, type TypeTotals, type Via } from './monitor-events.js';
import { heldBy, type Attribution, type HeldBy, type HostScan, type Namespace } from './model.js';

/** One observation of a process and the namespaces it is in. */
export interface ProcessObservation {
  pid: number;
  /** Parent (fork events, polls, rescans): -p follows a tree through it. */
  ppid?: number;
  /** Start time in clock ticks (polls, rescans): tells a reused pid from the process that had it. */
  startTime?: number;
  /** Its namespaces; undefined when it was gone (or unreadable) before they could be read. */
  ns?: Partial<Record<NsType, number>>;
  /** NS_GET_ID of some of those namespaces, read together with the links (events); the rest are asked for through idOf. */
  ids?: Partial<Record<NsType, number>>;
  command?: string;
  /** Monotonic ms when the links were read (for events: the kernel's timestamp of the fork/exec). */
  time: number;
  /**
   * Rescans: when the scan ended. It read the links somewhere between `time` (its start) and
   * this, so a namespace it is the first to show is dated here: never before its creation.
   */
  seenBy?: number;
  /** A fork: the process is new, and its namespaces were inherited or made by clone(2). */
  fork?: boolean;
  /** An exec: the command line it had is gone (without `command`, it is read when an event needs it). */
  exec?: boolean;
  via: Via;
}

/** What the tracker may ask of the outside world, lazily. */
export interface TrackerEnv {
  /** Command line of a live process, for a NEW or JOIN line that lacks one. */
  commandOf(pid: number): string | undefined;
  /** Owners (ip netns name, nsm environment ...) of a namespace found between rescans. */
  ownersOf(type: NsType, inode: number, pid?: number): Attribution[];
  /**
   * The 64-bit ID (NS_GET_ID) of the namespace `pid` is in, if it is still `inode`; undefined
   * on kernels without it or when it cannot be read. Tells two namespaces apart that had the
   * same inode one after the other.
   */
  idOf?(pid: number, type: NsType, inode: number): number | undefined;
  /** The namespace of this type `pid` is in right now (readlink /proc/PID/ns/TYPE); undefined when it cannot be read. */
  nsNow?(pid: number, type: NsType): number | undefined;
  /** Whether the namespace is bind-mounted in our mount namespace right now (a fresh look, not the last rescan's). */
  mountedNow(inode: number): boolean;
  /** Monotonic ms to epoch ms. */
  toEpoch(mono: number): number;
}

export interface TrackerOptions {
  types: readonly NsType[];
  verbose: boolean;
  /** -p: follow this process and its descendants only. */
  followPid?: number;
}

interface ProcState {
  ns: Partial<Record<NsType, number>>;
  command?: string;
  startTime?: number;
  /** When its namespaces were last read: an older report about it is stale. */
  observedAt: number;
}

interface NsState {
  type: NsType;
  inode: number;
  /** NS_GET_ID where known: a namespace met at this inode with another id is another namespace. */
  id?: number;
  firstPid?: number;
  command?: string;
  owners: Attribution[];
  /** Monotonic ms; undefined for a namespace present when the monitor started. */
  bornAt?: number;
  /** Tracked processes in it. */
  members: Set<number>;
  /**
   * What the last rescan found holding it besides the tracked members: an fd, a mount, a
   * thread, or processes whose links the tracker could not read. Empty: members only.
   */
  otherHeld: HeldBy[];
  /** When the last member left; set while members is empty. */
  emptySince?: number;
  /** The last member's exit was not seen but inferred (a rescan no longer showed it, or its pid was reused). */
  emptiedUnseen?: boolean;
  /** Reported to the user (NEW, or in scope at start): its GONE is reported too. */
  reported: boolean;
  /** Created while monitoring (NEW). */
  created: boolean;
}

export class NamespaceTracker {
  private readonly procs = new Map<number, ProcState>();
  private readonly namespaces = new Map<number, NsState>();
  private readonly followed = new Set<number>();
  /**
   * Exit times of processes since the last rescan began. A rescan that read a process
   * before it exited reports it after we saw the exit; that report is stale.
   */
  private readonly exitedAt = new Map<number, number>();
  /** Commands read from /proc during the current observe() (pid -> command, undefined: gone). */
  private readonly commandsRead = new Map<number, string | undefined>();
  private readonly totals = new Map<NsType, TypeTotals>();
  /** What the monitor knows it missed, all run long, and as last reported ('lost' event). */
  private readonly loss: LossCounts = { ...NO_LOSS };
  private reportedLoss: LossCounts = { ...NO_LOSS };

  constructor(
    private readonly options: TrackerOptions,
    private readonly env: TrackerEnv,
    private readonly emit: (e: MonitorEvent) => void,
  ) {
    for (const t of options.types) this.totals.set(t, { created: 0, destroyed: 0, alive: 0 });
    if (options.followPid !== undefined) this.followed.add(options.followPid);
  }

  private isFollowed(pid: number): boolean {
    return this.options.followPid === undefined || this.followed.has(pid);
  }

  /**
   * The first full scan: everything in it existed before the monitor started. Returns the
   * namespaces in scope (all of them, or those of -p's tree) for --baseline.
   */
  start(scan: HostScan, time: number): NamespaceBrief[] {
    this.followTree(scan);
    for (const p of scan.processes.values()) {
      const ns = this.pick(p.ns);
      if (!ns) continue;
      this.procs.set(p.pid, { ns, command: p.comm, startTime: p.startTime, observedAt: time });
    }
    const baseline: NamespaceBrief[] = [];
    for (const n of scan.namespaces) {
      if (!this.totals.has(n.type)) continue;
      const members = new Set(n.pids.filter((pid) => this.procs.get(pid)?.ns[n.type] === n.inode));
      const inScope = this.options.followPid === undefined || n.pids.some((pid) => this.followed.has(pid)) || n.fds.some((f) => this.followed.has(f.pid));
      const first = n.pids[0];
      this.namespaces.set(n.inode, {
        type: n.type,
        inode: n.inode,
        id: n.id,
        firstPid: first,
        command: first === undefined ? undefined : (this.env.commandOf(first) ?? scan.processes.get(first)?.comm),
        owners: n.owners,
        members,
        otherHeld: this.otherHolders(n),
        emptySince: members.size === 0 ? time : undefined,
        reported: inScope,
        created: false,
      });
      if (inScope) baseline.push({ ...brief(n, scan), command: this.namespaces.get(n.inode)!.command });
    }
    return baseline;
  }

  /** A process seen with its namespaces (fork, exec, poll). */
  observe(o: ProcessObservation): void {
    this.commandsRead.clear();
    let prev = this.procs.get(o.pid);
    if (prev && o.time < prev.observedAt) return; // an older report than what we know: stale
    const exit = this.exitedAt.get(o.pid);
    if (exit !== undefined && o.time <= exit) return; // read before it exited, reported after
    if (prev && (o.fork || (o.startTime !== undefined && prev.startTime !== undefined && o.startTime !== prev.startTime))) {
      // The pid was reused: the process we knew under it exited unseen.
      this.exited(o.pid, o.time, true);
      prev = undefined;
    }
    // -p: a new child of the tree joins it (a fork event, or a process first seen by a poll or rescan).
    if (!prev && o.ppid !== undefined && this.followed.has(o.ppid)) this.followed.add(o.pid);
    const ns = o.ns && this.pick(o.ns);
    if (!ns) return;
    const parent = o.fork && o.ppid !== undefined ? this.procs.get(o.ppid) : undefined;
    const fromParent = parent && !prev ? this.parentSwitched(o.ppid!, parent, ns, o) : undefined;
    const state: ProcState = {
      ns: { ...prev?.ns, ...ns },
      command: o.command ?? (o.exec ? undefined : (prev?.command ?? parent?.command)),
      startTime: o.startTime ?? prev?.startTime,
      observedAt: o.time,
    };
    this.procs.set(o.pid, state);
    const followed = this.isFollowed(o.pid);
    for (const type of this.options.types) {
      const inode = ns[type];
      if (inode === undefined) continue;
      const old = prev?.ns[type];
      if (old === inode) {
        this.namespaces.get(inode)?.members.add(o.pid);
        continue;
      }
      // A rescan read the links somewhere before seenBy: its LEAVE and JOIN are dated then, the
      // namespace left empty from `time` (reconcile() dates its GONE no earlier than seenBy).
      const seen = Math.max(o.time, o.seenBy ?? o.time);
      if (old !== undefined) this.leave(old, o.pid, state, inode, o.time, o.via, followed, seen);
      // A fork child inherits its parent's namespace: only other arrivals may be a new namespace at a reused inode.
      const inherited = o.fork && parent?.ns[type] === inode;
      this.enter(type, inode, o.pid, state, old ?? fromParent?.[type], seen, o.via, followed, inherited, o.ids?.[type]);
    }
  }

  /**
   * A fork child in a namespace that exists and that its parent was not in when last seen.
   * Either the parent called setns(2) since (nsenter, nsm exec: no exec, so no event showed
   * it), or the child did before its links were read. When the parent is in it now
   * (TrackerEnv.nsNow), the parent's switch is reported as its JOIN (-v), at the fork's time,
   * and its state follows, so the child inherits it. Otherwise (pid and time, where the child
   * lands in the parent's pid_for_children/time_for_children and the parent stays where it is,
   * setns(2); a parent gone, or elsewhere) the child joined: the returned namespaces of the
   * parent are what it came from.
   */
  private parentSwitched(ppid: number, parent: ProcState, ns: Partial<Record<NsType, number>>, o: ProcessObservation): Partial<Record<NsType, number>> {
    const childFrom: Partial<Record<NsType, number>> = {};
    const followed = this.isFollowed(ppid);
    for (const type of this.options.types) {
      const inode = ns[type];
      const old = parent.ns[type];
      // A namespace not known yet was made by clone(2) or unshare(2): the child's NEW, as before.
      if (inode === undefined || old === undefined || old === inode || !this.namespaces.has(inode)) continue;
      if (type === 'pid' || type === 'time' || this.env.nsNow?.(ppid, type) !== inode) {
        childFrom[type] = old;
        continue;
      }
      this.leave(old, ppid, parent, inode, o.time, o.via, followed);
      this.enter(type, inode, ppid, parent, old, o.time, o.via, followed, false, o.ids?.[type]);
      parent.ns[type] = inode;
    }
    return childFrom;
  }

  /**
   * A process exited (exit event, or no longer listed by a poll or rescan). `unseen`: its
   * exit is inferred by a rescan or a reused pid, where an event or poll should have shown it.
   */
  exited(pid: number, time: number, unseen = false): void {
    const prev = this.procs.get(pid);
    if (!prev || time < prev.observedAt) return; // a stale exit, from before the pid was reused
    this.procs.delete(pid);
    this.followed.delete(pid);
    this.exitedAt.set(pid, time);
    for (const inode of Object.values(prev.ns)) {
      const st = this.namespaces.get(inode);
      if (!st) continue;
      st.members.delete(pid);
      if (st.members.size === 0) {
        st.emptySince = time;
        st.emptiedUnseen = unseen;
      }
    }
  }

  /** The kernel dropped events (ENOBUFS), or the poller could not read every new pid: `count` times. */
  noteLost(count = 1): void {
    this.loss.lost += count;
  }

  /** Processes gone before their namespaces could be read. */
  noteUnread(count = 1): void {
    this.loss.unread += count;
  }

  /** Everything missed so far (for the summary, and for metrics). */
  losses(): LossCounts {
    return { ...this.loss };
  }

  /** Whether something was missed since the last 'lost' event. */
  hasUnreportedLoss(): boolean {
    return (Object.keys(this.loss) as (keyof LossCounts)[]).some((k) => this.loss[k] !== this.reportedLoss[k]);
  }

  /** Emit a 'lost' event for what was missed since the last one (nothing when nothing was). */
  reportLoss(time: number): void {
    if (!this.hasUnreportedLoss()) return;
    const total = this.losses();
    const since = { ...NO_LOSS };
    for (const k of Object.keys(since) as (keyof LossCounts)[]) since[k] = total[k] - this.reportedLoss[k];
    this.reportedLoss = total;
    this.emit({ kind: 'lost', time: this.env.toEpoch(time), since, total });
  }

  private enter(
    type: NsType, inode: number, pid: number, proc: ProcState, from: number | undefined, time: number, via: Via, followed: boolean,
    inherited = false, readId?: number,
  ): void {
    let st = this.namespaces.get(inode);
    const id = st?.id !== undefined && inherited ? st.id : (readId ?? this.env.idOf?.(pid, type, inode));
    if (st && id !== undefined && st.id !== undefined && id !== st.id) {
      // Same inode, another id: the kernel freed the namespace we knew and gave its inode to
      // a new one (NS_GET_ID is never reused). Whatever held the old one, it is gone.
      this.gone(st, this.diedBy(st, time), via);
      st = undefined;
    }
    // Same inode and the same id read before: the same namespace (ioctl_ns(2): NS_GET_ID is never reused).
    const sameId = id !== undefined && st?.id === id;
    if (st && st.id === undefined && id !== undefined) st.id = id;
    if (st && st.members.size === 0 && st.emptySince !== undefined && st.otherHeld.length === 0) {
      if (sameId) {
        // Still alive, so something held it: a child its last member forked before exiting,
        // seen after that exit (a poll reads the child late), or an fd or mount taken since
        // the last rescan. Never GONE then NEW again with the same id.
      } else if (this.env.mountedNow(inode)) {
        // Pinned since the last rescan (ip netns add: unshare, bind-mount, then a child runs in it).
        st.otherHeld = ['mount'];
      } else {
        // A process entered a namespace whose last member had left and which nothing was
        // seen to hold: the kernel freed it and gave its inode to a new one (nsfs inode
        // numbers are reused). Report the old one gone. Narrow race tolerated: an fd taken
        // since the last rescan, or a mount in another mount namespace, would make this a
        // JOIN of the old namespace instead.
        this.gone(st, st.emptySince, via);
        st = undefined;
      }
    }
    if (!st) {
      st = {
        type,
        inode,
        id,
        firstPid: pid,
        command: this.commandOf(pid, proc),
        owners: this.env.ownersOf(type, inode, pid),
        bornAt: time,
        members: new Set(),
        otherHeld: [],
        reported: followed,
        created: true,
      };
      this.namespaces.set(inode, st);
      if (followed) {
        this.totals.get(type)!.created++;
        // A rescan, not an event or poll, showed its first process (unshare(2) without exec, or events lost).
        if (via === 'rescan') this.loss.missedNew++;
        this.emit({ kind: 'ns-new', time: this.env.toEpoch(time), type, inode, id: st.id ?? null, pid, command: st.command, owners: st.owners, via });
      }
    } else if (from !== undefined && followed && this.options.verbose) {
      this.emit({ kind: 'ns-join', time: this.env.toEpoch(time), type, inode, id: st.id ?? null, pid, command: this.commandOf(pid, proc), from, owners: st.owners, via });
    }
    st.members.add(pid);
    st.emptySince = undefined;
    st.emptiedUnseen = undefined;
  }

  /**
   * The command of `pid` when it came with none: read once per observation, so that a LEAVE
   * and its JOIN name the same command even when the process exits between two reads of /proc.
   */
  private commandOf(pid: number, proc: ProcState): string | undefined {
    if (proc.command !== undefined) return proc.command;
    if (!this.commandsRead.has(pid)) this.commandsRead.set(pid, this.env.commandOf(pid));
    return this.commandsRead.get(pid);
  }

  private leave(inode: number, pid: number, proc: ProcState, to: number, time: number, via: Via, followed: boolean, seen = time): void {
    const st = this.namespaces.get(inode);
    if (!st) return;
    st.members.delete(pid);
    if (st.members.size === 0) {
      st.emptySince = time;
      st.emptiedUnseen = false;
    }
    if (followed && this.options.verbose) {
      this.emit({ kind: 'ns-leave', time: this.env.toEpoch(seen), type: st.type, inode, id: st.id ?? null, pid, command: this.commandOf(pid, proc), to, owners: st.owners, via });
    }
  }

  /**
   * When a namespace found dead at `now` (its inode taken by another) died: at its last
   * member's exit if nothing else held it; held by a mount or fd (or by members), some time
   * after the rescan that last saw it so, and `now` is when we knew. Not the moment its last
   * member left: a namespace pinned by a mount has had none since the monitor started, and
   * its GONE would come before its unmount.
   */
  private diedBy(st: NsState, now: number): number {
    return st.otherHeld.length > 0 || st.emptySince === undefined ? now : st.emptySince;
  }

  private gone(st: NsState, at: number, via: Via): void {
    this.namespaces.delete(st.inode);
    // Never before its NEW (a rescan dates a NEW at its end; an exit it overlapped may be earlier).
    const time = Math.max(at, st.bornAt ?? at);
    if (!st.reported) return;
    this.totals.get(st.type)!.destroyed++;
    // Its last process's exit was only inferred: had a namespace of its own come and gone meanwhile, nothing would show it.
    if (via === 'rescan' && st.emptiedUnseen) this.loss.missedGone++;
    const lifetimeMs = st.bornAt === undefined ? undefined : Math.max(0, Math.round((time - st.bornAt) * 1000) / 1000);
    this.emit({ kind: 'ns-gone', time: this.env.toEpoch(time), type: st.type, inode: st.inode, id: st.id ?? null, lifetimeMs, owners: st.owners, via });
  }

  /** Only the types being monitored; undefined when none of them could be read. */
  private pick(ns: Partial<Record<NsType, number>>): Partial<Record<NsType, number>> | undefined {
    const out: Partial<Record<NsType, number>> = {};
    let any = false;
    for (const t of this.options.types) {
      const v = ns[t];
      if (v !== undefined) {
        out[t] = v;
        any = true;
      }
    }
    return any ? out : undefined;
  }

  /** -p: add every descendant of a followed process found in the scan. */
  private followTree(scan: HostScan): void {
    if (this.options.followPid === undefined) return;
    const children = new Map<number, number[]>();
    for (const p of scan.processes.values()) {
      const list = children.get(p.ppid);
      if (list) list.push(p.pid);
      else children.set(p.ppid, [p.pid]);
    }
    const queue = [...this.followed];
    while (queue.length > 0) {
      for (const c of children.get(queue.pop()!) ?? []) {
        if (!this.followed.has(c)) {
          this.followed.add(c);
          queue.push(c);
        }
      }
    }
  }

  /**
   * A full rescan that started at `started`. Processes it shows are newer than any
   * observation made before `started`; events after it are newer than the scan. `final`:
   * the last one, after events and polls stopped. `finished`: when it ended (default
   * `started`). What it alone shows happened somewhere between the two, so the events it
   * decides are dated `finished`: a namespace unmounted or made while it ran is then never
   * reported GONE before its unmount, nor NEW before it was made.
   */
  reconcile(scan: HostScan, started: number, options: { final?: boolean; finished?: number } = {}): void {
    // The last rescan runs after events and polls stopped: exits it finds were not missed.
    const unseen = !options.final;
    const seenBy = Math.max(started, options.finished ?? started);
    // Namespaces whose last member's exit or move this scan inferred (at `started`, for the order of observations).
    const emptiedHere = new Set<number>();
    const inferExit = (pid: number): void => {
      for (const inode of Object.values(this.procs.get(pid)?.ns ?? {})) emptiedHere.add(inode);
      this.exited(pid, started, unseen);
    };
    this.followTree(scan);
    // Processes: new ones, moved ones (setns/unshare without exec), reused pids.
    for (const p of scan.processes.values()) {
      const ns = this.pick(p.ns);
      if (!ns) {
        // Listed but its links unreadable: a zombie (its namespaces were released at exit).
        inferExit(p.pid);
        continue;
      }
      const before = this.procs.get(p.pid)?.ns;
      this.observe({ pid: p.pid, ppid: p.ppid, startTime: p.startTime, ns, command: this.procs.get(p.pid)?.command ?? p.comm, time: started, seenBy, via: 'rescan' });
      // Moved (setns(2) or unshare(2) without exec), or its pid reused: the scan showed that the
      // namespaces it was in lost it, somewhere before the scan ended.
      const after = this.procs.get(p.pid)?.ns;
      if (before && after !== before) for (const [type, inode] of Object.entries(before)) if (after?.[type as NsType] !== inode) emptiedHere.add(inode);
    }
    // Processes it does not show were gone when it looked (unless seen since it began).
    for (const [pid, st] of this.procs) {
      if (st.observedAt < started && !scan.processes.has(pid)) inferExit(pid);
    }
    // Exits before this scan began can no longer be contradicted by a stale report.
    for (const [pid, time] of this.exitedAt) if (time < started) this.exitedAt.delete(pid);
    // Namespaces: found by it only (held by an fd, thread or mount), still held, or gone.
    const seen = new Map<number, Namespace>();
    for (const n of scan.namespaces) if (this.totals.has(n.type)) seen.set(n.inode, n);
    for (const n of seen.values()) {
      let st = this.namespaces.get(n.inode);
      if (st && st.id !== undefined && n.id !== undefined && st.id !== n.id) {
        // The inode was reused since we last looked (see enter()): the old one is gone.
        this.gone(st, this.diedBy(st, seenBy), 'rescan');
        st = undefined;
      }
      if (st) {
        // Adopt the scan's id only while a tracked process is in it: an empty one may be dead,
        // its inode already another namespace's.
        if (st.id === undefined && st.members.size > 0) st.id = n.id;
        st.otherHeld = this.otherHolders(n);
        if (n.owners.length > 0) st.owners = n.owners;
        continue;
      }
      // Made without an exec or fork we saw (unshare(2) then bind-mount, as `ip netns add` does).
      const first = n.pids[0];
      const followed = this.options.followPid === undefined || n.fds.some((f) => this.followed.has(f.pid)) || n.threads.some((t) => this.followed.has(t.pid));
      const command = first === undefined ? undefined : (this.procs.get(first)?.command ?? scan.processes.get(first)?.comm);
      this.namespaces.set(n.inode, {
        type: n.type,
        inode: n.inode,
        id: n.id,
        firstPid: first,
        command,
        owners: n.owners,
        bornAt: seenBy,
        members: new Set(),
        otherHeld: this.otherHolders(n),
        emptySince: seenBy,
        reported: followed,
        created: true,
      });
      if (followed) {
        this.totals.get(n.type)!.created++;
        this.loss.missedNew++;
        this.emit({ kind: 'ns-new', time: this.env.toEpoch(seenBy), type: n.type, inode: n.inode, id: n.id ?? null, pid: first, command, owners: n.owners, via: 'rescan' });
      }
    }
    for (const st of [...this.namespaces.values()]) {
      if (st.members.size > 0 || seen.has(st.inode)) continue;
      // Emptied after the scan began: the scan may have passed its holders earlier; wait for the next.
      if (st.emptySince !== undefined && st.emptySince > started) continue;
      // Its last process left at emptySince (seen exiting, or moving). One held by an fd or
      // mount died somewhere between the previous rescan and the moment this one looked,
      // which may be after it began: `seenBy` is when we knew. Likewise for an exit or a move
      // this scan inferred (the process was no longer there, or elsewhere, when it looked).
      const inferred = emptiedHere.has(st.inode) && st.emptySince === started;
      const time = st.otherHeld.length > 0 || st.emptySince === undefined || inferred ? seenBy : st.emptySince;
      this.gone(st, time, 'rescan');
    }
  }

  /**
   * What a scan found holding `n` that the tracker does not follow one by one: fds,
   * threads, mounts. Processes are not counted: every process the scan could read is
   * tracked, and one in `n.pids` that is not a member was read before it exited or moved
   * (a stale view, which must not keep the namespace alive). Likewise an fd or thread of a
   * process that has exited since.
   */
  private otherHolders(n: Namespace): HeldBy[] {
    const alive = (pid: number): boolean => !this.exitedAt.has(pid);
    const held: HeldBy[] = [];
    if (n.threads.some((t) => alive(t.pid))) held.push('threads');
    if (n.fds.some((f) => alive(f.pid))) held.push('fd');
    if (n.mounts.length > 0) held.push('mount');
    return held;
  }

  /**
   * Whether a tracked process is in a namespace created while monitoring: its exit may
   * leave that namespace empty, so the poller watches it closely.
   */
  inCreatedNamespace(pid: number): boolean {
    const p = this.procs.get(pid);
    if (!p) return false;
    for (const inode of Object.values(p.ns)) if (this.namespaces.get(inode)?.created) return true;
    return false;
  }

  /** Namespaces whose last process left and that no rescan has yet shown held by anything else. */
  awaitingConfirmation(): number {
    let n = 0;
    for (const st of this.namespaces.values()) if (st.members.size === 0 && st.otherHeld.length === 0 && st.emptySince !== undefined) n++;
    return n;
  }

  /** Totals per type and the namespaces created during the run that are still alive. */
  summary(): { types: Partial<Record<NsType, TypeTotals>>; stillAlive: NamespaceBrief[] } & LossCounts {
    const types: Partial<Record<NsType, TypeTotals>> = {};
    for (const [t, totals] of this.totals) types[t] = { ...totals, alive: 0 };
    const stillAlive: NamespaceBrief[] = [];
    for (const st of this.namespaces.values()) {
      if (!st.reported) continue;
      types[st.type]!.alive++;
      if (!st.created) continue;
      stillAlive.push({
        type: st.type,
        inode: st.inode,
        id: st.id ?? null,
        nprocs: st.members.size,
        pid: st.firstPid,
        command: st.command,
        held: st.members.size > 0 ? ['procs', ...st.otherHeld] : st.otherHeld,
        owners: st.owners,
      });
    }
    stillAlive.sort((a, b) => a.inode - b.inode);
    return { types, stillAlive, ...this.losses() };
  }
}

function brief(n: Namespace, scan: HostScan): NamespaceBrief {
  const pid = n.pids[0];
  return {
    type: n.type,
    inode: n.inode,
    id: n.id ?? null,
    nprocs: n.pids.length,
    pid,
    command: pid === undefined ? undefined : scan.processes.get(pid)?.comm,
    held: heldBy(n),
    owners: n.owners,
  };
}
