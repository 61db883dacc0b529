/**
 * `nsm destroy`: end an environment and prove it is gone.
 *
 *   1. open its namespaces (verified against the record) and keep the fds: while we hold
 *      them the kernel cannot free those namespaces and hand their inode numbers to new
 *      ones, so "inode N is still in use" below means *this* namespace, not a newcomer;
 *   2. SIGTERM the processes inside, then the holder; SIGKILL what is left after the grace
 *      time (PID 1 of a pid namespace takes everything inside with it: pid_namespaces(7)).
 *      A host scan finds them, unless the environment's own procfs shows the holder alone
 *      in its pid namespace (src/core/pidns-alone.ts);
 *   3. remove the /run/netns link and unmount the pins;
 *   4. scan the host for anything else that still holds one of the namespaces - a process
 *      (or thread) that entered it without being inside the pid namespace, an open fd, a
 *      bind mount in any mount namespace - and report each by pid and command or mount path.
 *      With `force`, processes still in a namespace are ended too;
 *   5. delete the host end of its veth (while our fd keeps the net namespace, so the pair is
 *      provably this one), remove its NAT rules, and then its cgroups, which are empty once
 *      the processes are gone (src/core/env-resources.ts);
 *   6. remove the record, last: until then it notes what is left, so a destroy killed
 *      half-way leaves a record with a dead holder that gc (or the next create or destroy of
 *      the name) finishes. SIGINT, SIGTERM and SIGHUP are held off until the environment in
 *      hand is done (deferSignals), so only SIGKILL can stop one half-way.
 *      If step 4 found its namespaces still held, the record stays instead, marked with what
 *      held them (state "held", src/core/held.ts): `destroy --force NAME` then opens them
 *      again through those holds, ends the processes in them, and removes the record once
 *      nothing holds them; gc removes it once they are gone.
 */
import type { NsType } from '../sys/nstypes.js';
import { EXIT_NSM_FAILED, EXIT_SIGNAL_BASE, NsmError } from '../sys/errors.js';
import { deferSignals } from '../sys/signals.js';
import type { HostScan } from './model.js';
import { isZombieOrGone, stopProcesses, type ProcessRef } from './processes.js';
import { isoTimestamp, validateName, type EnvRecord, type RecordedHold } from './record.js';
import { openHeldNamespaces } from './held.js';
import { ProcFs } from '../sys/procfs.js';
import { HolderReusedError, openNamespaces, openVerified, type HolderState, type VerifiedNamespaces } from './registry/holder.js';
import type { RegistryOptions } from './registry/layout.js';
import { removeNetnsLink, unmountPins } from './registry/links.js';
import { listEnvironments } from './registry/list.js';
import { lockEnvironment } from './registry/lookup.js';
import { scanHostSync } from './scan.js';
import { locateEnvironment } from './environments.js';
import { releaseResources, releaseResourcesNow } from './env-resources.js';
import { holderAloneInPidNs } from './pidns-alone.js';

/** Something that keeps one of a destroyed environment's namespaces alive. */
export type NamespaceHold =
  | { kind: 'process'; type: NsType; inode: number; pid: number; comm: string }
  | { kind: 'thread'; type: NsType; inode: number; pid: number; tid: number; comm: string }
  | { kind: 'fd'; type: NsType; inode: number; pid: number; fd: number; comm: string }
  | { kind: 'mount'; type: NsType; inode: number; path: string; mntNs?: number };

export interface DestroyOptions extends RegistryOptions {
  /** Also end processes still in the environment's namespaces outside its pid namespace. */
  force?: boolean;
  /** Time between SIGTERM and SIGKILL (default 2000 ms). */
  graceMs?: number;
  /** Signal nothing: drop the record and what nsm made for it (forgetEnvironment). */
  forget?: boolean;
}

export interface DestroyResult {
  name: string;
  /** State found: running, dead, reused, pinned; 'creating' for a stale reservation. */
  state: HolderState | 'creating';
  /** The holder's pid (as recorded). */
  pid?: number;
  /** Processes (other than the holder) that were signalled. */
  stopped: number[];
  /** Pins that were unmounted. */
  pins: string[];
  /** The /run/netns link that was removed. */
  netnsLink?: string;
  /** What still holds one of its namespaces (empty: all gone). Only checked for a running or pinned one. */
  remaining: NamespaceHold[];
  /** Whether step 4 ran: a dead environment's inodes may belong to other namespaces by now. */
  verified: boolean;
  /** The host end of its veth pair that was deleted (absent: none, or it had gone with its namespace). */
  veth?: string;
  /** Whether its NAT rules (--nat) were removed. */
  nat?: boolean;
  /** Its user-mode network process (--pasta) that was stopped. */
  userNet?: number;
  /** Its cgroups that were removed. */
  cgroups: string[];
  /** What of the above could not be removed, one reason each (empty: all went). */
  leftovers: string[];
  /** Set when leftovers kept its record (with a dead holder): gc or another destroy retries them. */
  recordKept?: boolean;
  /** Set when `remaining` kept its record, in state "held": destroy --force (or gc, once they are gone) finishes it. */
  held?: boolean;
  /** Set when some hold it noted could not be opened (not permitted): whether it is gone is not known. */
  undecided?: boolean;
  /** Processes ended because they still held one of its namespaces (--force): pid and command line. */
  killed: Array<{ pid: number; command: string }>;
  /** destroy --forget: dropped without signalling anything. */
  forgotten?: boolean;
  /**
   * An adopted environment (nsm adopt): `left`, what still holds its namespaces and was left
   * as it was (the target's processes, mounts, fds); `forced`, with --force, the processes in
   * them that were signalled.
   */
  adopted?: { left: NamespaceHold[]; forced?: number[] };
}

const DEFAULT_GRACE_MS = 2000;
/** How long processes that are already exiting (e.g. an nsm exec whose command was killed) get before they count. */
const SETTLE_MS = 1000;

/** Holds of `namespaces` in `scan`, ignoring process `self` (which holds our verification fds). */
function holdsOf(scan: HostScan, namespaces: ReadonlyArray<{ type: NsType; inode: number }>, self = process.pid): NamespaceHold[] {
  const wanted = new Map(namespaces.map((n) => [n.inode, n.type]));
  const comm = (pid: number) => scan.processes.get(pid)?.comm ?? '?';
  const holds: NamespaceHold[] = [];
  for (const ns of scan.namespaces) {
    const type = wanted.get(ns.inode);
    if (type === undefined || type !== ns.type) continue;
    const base = { type, inode: ns.inode };
    for (const pid of ns.pids) if (pid !== self) holds.push({ kind: 'process', ...base, pid, comm: comm(pid) });
    for (const t of ns.threads) if (t.pid !== self) holds.push({ kind: 'thread', ...base, pid: t.pid, tid: t.tid, comm: comm(t.pid) });
    for (const f of ns.fds) if (f.pid !== self) holds.push({ kind: 'fd', ...base, pid: f.pid, fd: f.fd, comm: comm(f.pid) });
    for (const m of ns.mounts) holds.push({ kind: 'mount', ...base, path: m.path, ...(m.mntNs !== undefined ? { mntNs: m.mntNs } : {}) });
  }
  return holds;
}

/**
 * Processes inside the environment: in its pid namespace when it has one, else in all of its
 * namespaces (where nsm exec puts a command). The holder and we are not counted.
 */
function processesInside(scan: HostScan, record: EnvRecord, self = process.pid): ProcessRef[] {
  const inside: ProcessRef[] = [];
  for (const p of scan.processes.values()) {
    if (p.pid === self || p.pid === record.holder.pid) continue;
    const isIn = record.types.includes('pid')
      ? p.ns.pid === record.namespaces.pid
      : record.types.every((t) => p.ns[t] === record.namespaces[t]);
    if (isIn) inside.push({ pid: p.pid, startTime: p.startTime });
  }
  return inside;
}

/** Pids of the processes among `holds` (members and threads, not fds or mounts). */
function processPids(holds: readonly NamespaceHold[]): Set<number> {
  const pids = new Set<number>();
  for (const h of holds) if (h.kind === 'process' || h.kind === 'thread') pids.add(h.pid);
  return pids;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Destroy one environment: the caller's, or as root also another user's (found as exec finds
 * it: src/core/environments.ts). Root destroys another user's environment only when its
 * namespaces are that user's (openVerified with stateDirOwner) and touches that user's state
 * directory only as that user, so the record goes and the directory stays theirs.
 */
export async function destroyEnvironment(name: string, options: DestroyOptions = {}): Promise<DestroyResult> {
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const lock = lockEnvironment(name, { ...options, ...locateEnvironment(name, options, true) });
  const owned = { ...options, stateDirOwner: lock.stateDirOwner };
  let verified: VerifiedNamespaces | undefined;
  try {
    const record = lock.record;
    if (!record) {
      // A create killed half-way: its reservation says what it had made (registry.ts).
      const undone = lock.remove();
      return {
        name,
        state: 'creating',
        ...(undone.holderStopped ? { pid: undone.holderStopped } : {}),
        stopped: [],
        pins: [],
        remaining: [],
        verified: false,
        ...(undone.netnsLink ? { netnsLink: undone.netnsLink } : {}),
        ...(undone.nat ? { nat: true } : {}),
        cgroups: undone.cgroups ?? [],
        leftovers: [],
        killed: [],
      };
    }
    // The holder's state and its namespaces (all of them, or the pinned ones once it is gone)
    // open and verified, from one read of its /proc/PID/stat taken after the opens.
    let state: HolderState;
    try {
      ({ state, verified } = openNamespaces(record, undefined, owned));
    } catch (err) {
      // The holder died (or its pid was reused) while its files were opened: nothing to
      // verify then. Anything else (not permitted, say) must not cost the record.
      const now = lock.state()!;
      if (!(err instanceof NsmError) || now === 'running' || now === 'pinned') throw err;
      state = now;
    }
    if (record.destroyed) return await destroyHeld(lock, record, options.force ? graceMs : undefined, owned);
    const result: DestroyResult = { name, state, pid: record.holder.pid, stopped: [], pins: [], remaining: [], verified: false, cgroups: [], leftovers: [], killed: [] };
    if (verified && verified.via === 'holder' && record.adopted) {
      // Adopted: only an nsm:holder that joined the namespaces is nsm's to stop; with pins the
      // holder is the target's own process. The target's processes are not ours to signal
      // (with --force, step 4 ends them and says so).
      if (record.adopted.heldBy === 'holder') await stopProcesses([{ pid: record.holder.pid, startTime: record.holder.startTime }], { graceMs });
    } else if (verified && verified.via === 'holder') {
      const holder = { pid: record.holder.pid, startTime: record.holder.startTime };
      // The host scan finds the processes inside; none to find when the holder is alone in its pid namespace.
      const alone = record.types.includes('pid') && holderAloneInPidNs(holder.pid, record.namespaces.pid!);
      const inside = alone ? [] : processesInside(scanHostSync({ types: record.types, fds: false, mounts: false, threads: false }), record);
      result.stopped = inside.map((p) => p.pid);
      // Processes inside first, so they can exit cleanly: once PID 1 exits the kernel
      // SIGKILLs the rest of the pid namespace with no grace (pid_namespaces(7)).
      const stuck = await stopProcesses(inside, { graceMs, killWaitMs: 0 });
      await stopProcesses([holder], { graceMs });
      if (stuck.length > 0) await stopProcesses(stuck, { graceMs: 0 });
    }
    if (removeNetnsLink(record, options)) result.netnsLink = record.netnsLink;
    result.pins = Object.values(record.pins).filter((p): p is string => p !== undefined);
    unmountPins(record, options);
    let found: Remaining | undefined;
    if (verified) {
      result.verified = true;
      found = await remainingHolds(verified, options.force ? graceMs : undefined);
      result.killed = found.killed;
      if (record.adopted) {
        // What nsm did not make still holds them, as before the adopt: not a leftover.
        result.adopted = { left: options.force ? [] : found.holds, ...(options.force ? { forced: found.killed.map((k) => k.pid) } : {}) };
        result.remaining = options.force ? found.holds : [];
        if (!options.force) found = undefined;
      } else {
        result.remaining = found.holds;
      }
    }
    const netFd = verified?.namespaces.find((n) => n.type === 'net')?.fd;
    const released = await releaseResources(record, netFd);
    if (released.veth) result.veth = released.veth;
    if (released.nat) result.nat = true;
    if (released.userNet !== undefined) result.userNet = released.userNet;
    result.cgroups = released.cgroups;
    result.leftovers = released.failures;
    // The record goes last: until everything it notes is gone it is the only note of it, and
    // a destroy killed before this point leaves a dead record that gc (or the next create or
    // destroy of the name) finishes. With leftovers it stays for them to retry.
    if (found && found.holds.length > 0) {
      // Still held: the record stays, noting what holds them, so that destroy --force can
      // find them again once our fds are closed (src/core/held.ts).
      lock.update({ ...record, destroyed: { at: isoTimestamp(), holds: recordHolds(found) } });
      result.held = true;
    } else if (released.failures.length === 0) lock.remove();
    else result.recordKept = true;
    return result;
  } finally {
    verified?.close();
    lock.release();
  }
}

/** The holds of `found` as a record keeps them: processes by pid and start time. */
function recordHolds(found: Remaining): RecordedHold[] {
  return found.holds.map((h): RecordedHold => {
    const base = { kind: h.kind, type: h.type, inode: h.inode };
    if (h.kind === 'mount') return { ...base, path: h.path };
    const startTime = found.processes.get(h.pid)?.startTime ?? 0;
    return { ...base, pid: h.pid, startTime, comm: h.comm, ...(h.kind === 'thread' ? { tid: h.tid } : {}), ...(h.kind === 'fd' ? { fd: h.fd } : {}) };
  });
}

/**
 * destroy of a record a destroy left "held": open its namespaces again through the holds it
 * noted (verified: src/core/held.ts), say what holds them now and, with `forceGraceMs`
 * (--force), end the processes among that. The record goes once nothing holds them; else it
 * is kept, noting what holds them now.
 */
async function destroyHeld(lock: ReturnType<typeof lockEnvironment>, record: EnvRecord, forceGraceMs: number | undefined, options: DestroyOptions): Promise<DestroyResult> {
  const result: DestroyResult = { name: record.name, state: 'held', pid: record.holder.pid, stopped: [], pins: [], remaining: [], verified: true, cgroups: [], leftovers: [], killed: [] };
  const held = openHeldNamespaces(record, options);
  try {
    if (held.undecided && held.namespaces.length === 0) {
      throw new NsmError(`environment ${record.name}: cannot open what held its namespaces, so cannot tell whether they are gone`, {
        hint: `run nsm destroy ${record.name} as its creator (uid ${record.creatorUid}) or as root`,
      });
    }
    let found: Remaining | undefined;
    if (held.namespaces.length > 0) {
      found = await remainingHolds(held, forceGraceMs);
      result.remaining = found.holds;
      result.killed = found.killed;
    }
    // What a first destroy may have left (a cgroup busy then): removed now that the processes are gone.
    const released = releaseResourcesNow(record);
    result.cgroups = released.cgroups;
    result.leftovers = released.failures;
    // A hold that could not be opened (not permitted) may still hold a namespace: kept noted.
    const holds = [...(found ? recordHolds(found) : []), ...(held.undecided ? record.destroyed!.holds : [])];
    if (holds.length > 0) {
      const unique = [...new Map(holds.map((h) => [JSON.stringify({ ...h, comm: undefined }), h])).values()];
      lock.update({ ...record, destroyed: { at: record.destroyed!.at, holds: unique } });
      result.held = true;
      if (held.undecided) result.undecided = true;
    } else if (released.failures.length === 0) lock.remove();
    else result.recordKept = true;
    return result;
  } finally {
    held.close();
  }
}

interface Remaining {
  holds: NamespaceHold[];
  /** Processes --force ended, with their command lines. */
  killed: Array<{ pid: number; command: string }>;
  /** The last scan's processes (their start times, for the record). */
  processes: HostScan['processes'];
}

/** Command line of `pid` (its comm in brackets when it has none, as ps shows kernel threads), read before it is killed. */
function commandOf(pid: number, comm: string): string {
  try {
    const args = new ProcFs().readCmdline(pid);
    return args.length > 0 ? args.join(' ') : `[${comm}]`;
  } catch {
    return comm;
  }
}

/**
 * Step 4: what still holds the namespaces open in `verified` (ours excluded), after a short
 * settle time. With `forceGraceMs`, the processes among it are ended first: only those the
 * scan finds in these namespaces, which our open fds keep from being freed and reused.
 */
async function remainingHolds(verified: VerifiedNamespaces, forceGraceMs: number | undefined): Promise<Remaining> {
  const namespaces = verified.namespaces.map((n) => ({ type: n.type, inode: n.inode }));
  const types = [...new Set(namespaces.map((n) => n.type))];
  // A zombie still shows its pid namespace in /proc/PID/ns/pid (the struct pid keeps it
  // until it is reaped) but holds nothing else and is gone once reaped: not a holder. This
  // host's PID 1 reaps orphans lazily, so a killed holder is a zombie for a while.
  const scan = (): { holds: NamespaceHold[]; processes: HostScan['processes'] } => {
    const host = scanHostSync({ types });
    return { holds: holdsOf(host, namespaces).filter((h) => h.kind === 'mount' || !isZombieOrGone(h.pid)), processes: host.processes };
  };
  const end = Date.now() + SETTLE_MS;
  let found = scan();
  // A process that was only exiting (the nsm exec or helper whose command just died) is given a moment.
  while (processPids(found.holds).size > 0 && Date.now() < end) {
    await sleep(50);
    found = scan();
  }
  const pids = processPids(found.holds);
  const killed: Remaining['killed'] = [];
  if (forceGraceMs !== undefined && pids.size > 0) {
    const targets = [...pids].map((pid) => found.processes.get(pid)).filter((p) => p !== undefined);
    for (const p of targets) killed.push({ pid: p.pid, command: commandOf(p.pid, p.comm) });
    await stopProcesses(
      targets.map((p) => ({ pid: p.pid, startTime: p.startTime })),
      { graceMs: forceGraceMs },
    );
    found = scan();
  }
  return { holds: found.holds, killed, processes: found.processes };
}

/** Names of every environment in the caller's own state directory (`destroy --all`). */
function ownEnvironmentNames(options: RegistryOptions = {}): string[] {
  const listing = listEnvironments({ ...options, allUsers: false });
  // Unreadable records too: destroy then says what is wrong with each, rather than "no environments".
  const unreadable = listing.problems.filter((p) => p.name !== '').map((p) => p.name);
  return [...new Set([...listing.environments.map((e) => e.name), ...listing.creating.map((c) => c.name), ...unreadable])].sort();
}

/** One hold as a phrase: "net:[4026532412] by PID 42 (sleep)", "... by a mount at /run/x". */
export function describeHold(h: NamespaceHold): string {
  const ns = `${h.type}:[${h.inode}]`;
  switch (h.kind) {
    case 'process':
      return `${ns} by PID ${h.pid} (${h.comm})`;
    case 'thread':
      return `${ns} by thread ${h.tid} of PID ${h.pid} (${h.comm})`;
    case 'fd':
      return `${ns} by fd ${h.fd} of PID ${h.pid} (${h.comm})`;
    case 'mount':
      return `${ns} by a mount at ${h.path}${h.mntNs !== undefined ? ` (mount namespace ${h.mntNs})` : ''}`;
  }
}

export interface DestroyOutcome {
  /** Every environment that was destroyed (its record is gone), held or not. */
  results: DestroyResult[];
  /** Set when a name failed or something still holds a namespace: the command exits 1 with it. */
  error?: NsmError;
}

/**
 * Destroy each of `names` (or, with 'all', every environment in the caller's state
 * directory), going on after a failure so one bad name does not keep the others alive.
 */
export async function destroyEnvironments(names: readonly string[] | 'all', options: DestroyOptions = {}): Promise<DestroyOutcome> {
  // SIGINT, SIGTERM, SIGHUP: the environment in hand is finished (its steps are short and
  // bounded by the grace time), then we stop and report the signal.
  const signals = deferSignals();
  try {
    return await destroyAll(names, options, signals.pending);
  } finally {
    signals.restore();
  }
}

async function destroyAll(names: readonly string[] | 'all', options: DestroyOptions, pending: () => NodeJS.Signals | undefined): Promise<DestroyOutcome> {
  const list = names === 'all' ? ownEnvironmentNames(options) : [...new Set(names)];
  for (const n of list) validateName(n); // usage errors (exit 2) before anything is destroyed
  const results: DestroyResult[] = [];
  const problems: NsmError[] = [];
  for (const [i, name] of list.entries()) {
    const sig = pending();
    if (sig) {
      const done = results.map((r) => r.name);
      return {
        results,
        error: new NsmError(`interrupted by ${sig}${done.length > 0 ? ` after destroying ${done.join(', ')}` : ''}; not destroyed: ${list.slice(i).join(', ')}`, {
          exitCode: signalExit(sig),
        }),
      };
    }
    try {
      const r = options.forget ? await forgetEnvironment(name, options) : await destroyEnvironment(name, options);
      results.push(r);
      if (r.leftovers.length > 0) {
        problems.push(
          new NsmError(`${name}: ${r.recordKept ? 'ended' : 'destroyed'}, but not all it had could be removed: ${r.leftovers.join('; ')}`, {
            hint: r.recordKept ? `its record is kept: nsm gc (or nsm destroy ${name}) removes the rest once possible; nsm destroy --forget ${name} drops the record` : undefined,
          }),
        );
      }
      if (r.undecided && r.remaining.length === 0) {
        problems.push(
          new NsmError(`${name}: cannot tell whether its namespaces are still held: what held them cannot be opened by this user`, {
            hint: `its record is kept (state held); run nsm destroy ${name} as its creator or as root`,
          }),
        );
      }
      if (r.remaining.length > 0) {
        const processes = r.remaining.some((h) => h.kind === 'process' || h.kind === 'thread');
        const mounts = r.remaining.some((h) => h.kind === 'mount');
        const inodes = [...new Set(r.remaining.map((h) => h.inode))];
        // The record stays (state held) until they are gone, so the --force named here finds it.
        problems.push(
          new NsmError(`${name}: destroyed, but its namespaces are still held: ${r.remaining.map(describeHold).join('; ')}`, {
            hint: [
              processes && !options.force ? `nsm destroy --force ${name} ends the processes still in them` : '',
              mounts ? 'unmount the listed mounts (umount PATH)' : '',
              r.remaining.some((h) => h.kind === 'fd') ? 'the processes holding an fd must close it or exit' : '',
              `nsm why ${inodes.join(', nsm why ')} shows what holds ${inodes.length === 1 ? 'it' : 'them'}`,
              r.held ? `its record is kept (state held) until then; nsm destroy ${name} checks again` : '',
            ]
              .filter(Boolean)
              .join('; '),
          }),
        );
      }
    } catch (err) {
      if (!(err instanceof NsmError)) throw err;
      problems.push(err.exitCode === EXIT_NSM_FAILED ? runtimeFailure(name, err) : err);
    }
  }
  const sig = pending();
  if (sig) {
    problems.push(new NsmError(`interrupted by ${sig}; the environments in hand were finished first`, { exitCode: signalExit(sig) }));
  }
  if (problems.length === 0) return { results };
  if (problems.length === 1) return { results, error: problems[0] };
  const exitCode = problems.find((p) => p.exitCode > EXIT_SIGNAL_BASE)?.exitCode;
  return { results, error: new NsmError(problems.map((p) => p.message).join('; '), { hint: problems.find((p) => p.hint)?.hint, ...(exitCode ? { exitCode } : {}) }) };
}

/** The shell's status for death by `sig` (128 + its number). */
function signalExit(sig: NodeJS.Signals): number {
  const codes: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
  return EXIT_SIGNAL_BASE + (codes[sig] ?? 0);
}

/**
 * destroy's own failures exit 1 (125 is exec's, for a command that did not run). A holder
 * PID taken by another process cannot be signalled: --forget is the way out.
 */
function runtimeFailure(name: string, err: NsmError): NsmError {
  const reused = err instanceof HolderReusedError;
  return new NsmError(err.message, {
    hint: reused ? `nsm destroy --forget ${name} removes its record, and the NAT rules, cgroups, pins and /run/netns link nsm made for it, without signalling any process` : err.hint,
  });
}

/** Whether the recorded holder is alive *and* in the recorded namespaces (not a reused or forged pid). */
function holdsRecordedNamespaces(record: EnvRecord, options: RegistryOptions): boolean {
  try {
    openVerified(record, record.types, options).close();
    return true;
  } catch (err) {
    if (err instanceof HolderReusedError) return false;
    throw err;
  }
}

/**
 * `destroy --forget`: drop an environment nsm cannot end (its holder PID now belongs to
 * another process, or it is dead or pinned) without signalling anything: what nsm made for it
 * (the /run/netns link if it still names its namespace, pins, NAT rules, empty cgroups) is
 * removed, and the record goes even if some of that could not be (reported as leftovers).
 */
async function forgetEnvironment(name: string, options: RegistryOptions = {}): Promise<DestroyResult> {
  const lock = lockEnvironment(name, { ...options, ...locateEnvironment(name, options, true) });
  try {
    const record = lock.record;
    if (!record) {
      lock.release();
      return destroyEnvironment(name, options); // a stale reservation: its own holder, checked by start time
    }
    const state = lock.state()!;
    if (state === 'running' && holdsRecordedNamespaces(record, { ...options, stateDirOwner: lock.stateDirOwner })) {
      throw new NsmError(`environment ${name} is running (holder PID ${record.holder.pid}): --forget is for one nsm cannot end`, { hint: `nsm destroy ${name}` });
    }
    const result: DestroyResult = { name, state, pid: record.holder.pid, stopped: [], pins: [], remaining: [], verified: false, cgroups: [], leftovers: [], killed: [], forgotten: true };
    if (removeNetnsLink(record, options)) result.netnsLink = record.netnsLink;
    result.pins = unmountPins(record, options);
    const released = releaseResourcesNow(record);
    if (released.nat) result.nat = true;
    result.cgroups = released.cgroups;
    result.leftovers = released.failures;
    lock.remove();
    return result;
  } finally {
    lock.release();
  }
}
