/**
 * Garbage collection: remove the records whose holder is dead (or whose pid was reused) and
 * that no pin keeps, with what they made outside the state directory; undo creates that were
 * killed half-way; clear orphan lock files and staging directories. `gc -n` reports the same
 * plan without acting on it.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hasErrno, NsmError, SysError } from '../../sys/errors.js';
import { ProcFs } from '../../sys/procfs.js';
import { FileLock, removeTree } from '../../sys/statefs.js';
import { plannedRelease, releaseResourcesNow } from '../env-resources.js';
import { isAlive } from '../processes.js';
import { ENV_NAME_PATTERN, type EnvRecord } from '../record.js';
import { openHeldNamespaces } from '../held.js';
import { holderState } from './holder.js';
import {
  inspectEntry,
  inStateDir,
  listsAllUsers,
  openLayout,
  otherUsersStateDirs,
  ownLocation,
  problemMessage,
  type Entry,
  type Layout,
  type ListEnvironmentsOptions,
  type RegistryOptions,
} from './layout.js';
import { netnsLinkIsOurs, removeNetnsLink } from './links.js';
import { foreignProgressProblem, foreignRecordProblem } from './trust.js';
import { notedResources, undoInterruptedCreate } from './undo.js';

export interface GcRemoved {
  name: string;
  /**
   * dead/reused: holder gone and no pins; stale-reservation: a creator died before committing;
   * released: destroyed while held (state held), and nothing it noted holds its namespaces now.
   */
  reason: 'dead' | 'reused' | 'stale-reservation' | 'released';
  /** The holder (dead/reused) or creator (stale-reservation) pid, when known. */
  pid?: number;
  /** The /run/netns link that was removed with it. */
  netnsLink?: string;
  /** Its NAT rules (--nat) were removed with it. */
  nat?: boolean;
  /** Its cgroups (--memory, --cpus, --pids) that were removed with it. */
  cgroups?: string[];
  /** stale-reservation: the holder its killed creator had started, stopped now. */
  holderStopped?: number;
  /** Its user-mode network process (pasta), stopped now. */
  userNetStopped?: number;
  /** Root's gc: the user whose state directory it was in, when not root's own. */
  uid?: number;
}

export interface GcKept {
  name: string;
  /** held: destroyed, but its namespaces are still held (nsm destroy --force NAME ends that); not a failure. */
  reason: 'busy' | 'unreadable' | 'failed' | 'held';
  message: string;
  /** As in GcRemoved. */
  uid?: number;
}

export interface GcResult {
  removed: GcRemoved[];
  /** Entries gc would have removed or could not judge: busy (another nsm holds them), unreadable, failed. */
  kept: GcKept[];
}

/**
 * Remove the caller's records whose holder is dead (or whose pid was reused) and that
 * have no live pins, with their /run/netns link; also reservations whose creator died.
 * Entries another nsm holds right now are skipped, not waited for. `dryRun` only reports.
 * Root's gc covers the directories root's listing shows (ListEnvironmentsOptions.allUsers):
 * in another user's it works as that user, so it removes only what the user's gc could.
 */
export function collectGarbage(options: ListEnvironmentsOptions & { dryRun?: boolean } = {}): GcResult {
  const result: GcResult = { removed: [], kept: [] };
  const own = ownLocation(options);
  for (const location of [own, ...(listsAllUsers(options) ? otherUsersStateDirs(own.stateDir) : [])]) {
    const { stateDir, stateDirOwner: uid } = location;
    let part: GcResult;
    try {
      part = inStateDir(stateDir, uid, () => collectGarbageIn(stateDir, { ...options, stateDirOwner: uid }));
    } catch (err) {
      // One directory that cannot be read (its owner's doing) must not stop gc of the others.
      part = { removed: [], kept: [{ name: stateDir, reason: 'unreadable', message: problemMessage(err, 'read', stateDir) }] };
    }
    const tag = <T extends object>(entry: T): T => (uid === undefined ? entry : { ...entry, uid });
    result.removed.push(...part.removed.map(tag));
    result.kept.push(...part.kept.map(tag));
  }
  return result;
}

function collectGarbageIn(stateDir: string, options: RegistryOptions & { dryRun?: boolean }): GcResult {
  const result: GcResult = { removed: [], kept: [] };
  const layout = openLayout(stateDir, false, options.stateDirOwner);
  if (!layout) return result;
  let names: string[];
  try {
    names = readdirSync(layout.envs).filter((n) => ENV_NAME_PATTERN.test(n)).sort();
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return result;
    throw SysError.fromNode(err, 'readdir', layout.envs);
  }
  for (const name of names) {
    const dir = join(layout.envs, name);
    let lock: Pick<FileLock, 'release' | 'removeAndRelease'> | undefined;
    const lockPath = join(layout.locks, name);
    try {
      // A dry run creates nothing: with no lock file nobody holds the name (a holder keeps
      // its file), so it is judged as it is.
      if (options.dryRun && lstatSync(lockPath, { throwIfNoEntry: false }) === undefined) lock = { release: () => {}, removeAndRelease: () => {} };
      else lock = FileLock.tryAcquire(lockPath);
    } catch (err) {
      // A lock file that is a symlink (O_NOFOLLOW: ELOOP) or that cannot be opened: this
      // entry cannot be judged safely; say so and go on with the others.
      result.kept.push({ name, reason: 'unreadable', message: problemMessage(err, 'open', join(layout.locks, name)) });
      continue;
    }
    if (!lock) {
      // Being created, destroyed or collected by another nsm right now: not ours to judge.
      if (!isLiveQuiet(dir, options)) result.kept.push({ name, reason: 'busy', message: 'another nsm process holds it' });
      continue;
    }
    let gone = false;
    try {
      let found: Entry;
      try {
        found = inspectEntry(dir);
      } catch (err) {
        result.kept.push({ name, reason: 'unreadable', message: problemMessage(err, 'read', dir) });
        continue;
      }
      const plan = planCollection(name, found, options);
      if (plan.kept) result.kept.push(plan.kept);
      let removed = plan.removed;
      if (removed && !options.dryRun) {
        removed = { name, reason: removed.reason, ...(removed.pid !== undefined ? { pid: removed.pid } : {}) };
        if (found.kind === 'record') {
          // NAT rules and cgroups outlive the holder; the record is kept until they are gone.
          const released = releaseResourcesNow(found.record);
          if (released.nat) removed.nat = true;
          if (released.userNet !== undefined) removed.userNetStopped = released.userNet;
          if (released.cgroups.length > 0) removed.cgroups = released.cgroups;
          if (released.failures.length > 0) throw new NsmError(released.failures.join('; '));
        }
        if (found.kind === 'reservation') Object.assign(removed, undoInterruptedCreate(found.reservation, options, options.stateDirOwner));
        if (found.kind === 'record' && removeNetnsLink(found.record, options)) removed.netnsLink = found.record.netnsLink;
        removeTree(dir, options.procRoot);
        gone = true;
      }
      if (removed) result.removed.push(removed);
    } catch (err) {
      if (!(err instanceof NsmError)) throw err;
      result.kept.push({ name, reason: 'failed', message: err.message });
    } finally {
      if (gone) lock.removeAndRelease();
      else lock.release();
    }
  }
  if (!options.dryRun) {
    removeOrphanLocks(layout);
    removeDeadStaging(layout, options);
  }
  return result;
}

/**
 * What gc does with one entry whose lock it holds: remove it (and what that takes with it) or
 * keep it, and why. `gc -n` reports this plan and gc carries it out, so the dry run promises
 * no removal that gc would refuse (another user's record or reservation root must not act
 * on, a cgroup that still has processes in it).
 */
function planCollection(name: string, found: Entry, options: RegistryOptions): { removed?: GcRemoved; kept?: GcKept } {
  const refuse = (message: string) => ({ kept: { name, reason: 'failed' as const, message } });
  const uid = options.stateDirOwner;
  if (found.kind === 'absent') return {};
  if (found.kind === 'unreadable') return { kept: { name, reason: 'unreadable', message: found.message } };
  if (found.kind === 'record') {
    const state = holderState(found.record, options);
    if (state === 'held') return planHeld(name, found.record, options);
    if (state !== 'dead' && state !== 'reused') return {};
    const problem = uid !== undefined ? foreignRecordProblem(found.record, uid) : undefined;
    if (problem) return refuse(`refusing environment ${name} of uid ${uid}: ${problem}`);
    const planned = plannedRelease(found.record);
    if (planned.problem) return refuse(planned.problem);
    const removed: GcRemoved = { name, reason: state, pid: found.record.holder.pid };
    if (planned.nat) removed.nat = true;
    if (planned.cgroups.length > 0) removed.cgroups = planned.cgroups;
    if (netnsLinkIsOurs(found.record, options)) removed.netnsLink = found.record.netnsLink;
    return { removed };
  }
  // We hold the lock, so the creator that reserved the name has died (flock dies with it).
  const reservation = found.kind === 'reservation' ? found.reservation : undefined;
  const removed: GcRemoved = { name, reason: 'stale-reservation', pid: reservation?.creator.pid };
  const progress = reservation?.progress;
  if (progress) {
    const problem = uid !== undefined ? foreignProgressProblem(progress, uid, options) : undefined;
    if (problem) return refuse(`refusing the reservation of ${name} of uid ${uid}: ${problem}`);
    if (progress.holder && isAlive(progress.holder)) removed.holderStopped = progress.holder.pid;
    const partial = notedResources(reservation!);
    const planned = plannedRelease(partial, true);
    if (planned.nat) removed.nat = true;
    if (planned.cgroups.length > 0) removed.cgroups = planned.cgroups;
    if (netnsLinkIsOurs(partial, options)) removed.netnsLink = progress.netnsLink;
  }
  return { removed };
}

/**
 * A record a destroy left "held" (src/core/held.ts): removed once none of the holds it noted
 * still holds its namespaces; kept (reported, not a failure) while one does or while that
 * cannot be told. gc signals nothing: ending what holds them is destroy --force's.
 */
function planHeld(name: string, record: EnvRecord, options: RegistryOptions): { removed?: GcRemoved; kept?: GcKept } {
  let held;
  try {
    held = openHeldNamespaces(record, options);
  } catch (err) {
    if (!(err instanceof NsmError)) throw err;
    return { kept: { name, reason: 'failed', message: err.message } };
  }
  try {
    if (held.namespaces.length === 0 && !held.undecided) return { removed: { name, reason: 'released', pid: record.holder.pid } };
    const what = held.namespaces.map((n) => `${n.type}:[${n.inode}]`).join(', ');
    return {
      kept: { name, reason: 'held', message: `destroyed, but ${what || 'its namespaces'} ${held.namespaces.length === 1 ? 'is' : 'are'} still held: nsm destroy --force ${name} ends the processes in them` },
    };
  } finally {
    held.close();
  }
}

/** Staging directories (.NAME.new-PID-XXXX) of reserve()s whose process died before the rename. */
function removeDeadStaging(layout: Layout, options: RegistryOptions): void {
  const proc = new ProcFs(options.procRoot);
  for (const entry of readdirSync(layout.envs)) {
    const m = /^\..+\.new-([0-9]+)-[0-9a-f]+$/.exec(entry);
    if (!m) continue;
    try {
      proc.readStat(Number(m[1]));
      continue; // its creator may still be at work
    } catch (err) {
      if (!hasErrno(err, 'ENOENT', 'ESRCH')) throw err;
    }
    removeTree(join(layout.envs, entry), options.procRoot);
  }
}

/** Lock files of names with no entry (left by a killed reserve()); removed under their own lock. */
function removeOrphanLocks(layout: Layout): void {
  let names: string[];
  try {
    names = readdirSync(layout.locks).filter((n) => ENV_NAME_PATTERN.test(n));
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return;
    throw SysError.fromNode(err, 'readdir', layout.locks);
  }
  for (const name of names) {
    try {
      const lock = FileLock.tryAcquire(join(layout.locks, name));
      if (!lock) continue;
      if (inspectEntry(join(layout.envs, name)).kind === 'absent') lock.removeAndRelease();
      else lock.release();
    } catch (err) {
      problemMessage(err, 'open', join(layout.locks, name)); // a symlink or unreadable entry: leave it
    }
  }
}

/** isLive, but an entry that cannot be read counts as not live (gc reports it as busy). */
function isLiveQuiet(dir: string, options: RegistryOptions): boolean {
  try {
    return isLive(dir, options);
  } catch (err) {
    problemMessage(err, 'read', dir); // rethrows what is not a file-system error
    return false;
  }
}

function isLive(dir: string, options: RegistryOptions): boolean {
  const found = inspectEntry(dir);
  if (found.kind !== 'record') return false;
  const state = holderState(found.record, options);
  return state === 'running' || state === 'pinned';
}
