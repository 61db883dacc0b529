/**
 * Reservations: how `create` claims a name before any holder starts. Exactly one of any
 * number of concurrent reserve()s of a name succeeds: it holds flock(2) on locks/NAME from
 * reserve() to commit()/abort(). The kernel drops the lock if the creator dies, so a
 * reservation whose lock is free is stale and the next reserve() of the name reclaims it
 * (undoing what the killed create had made).
 */
import { mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsmError, SysError } from '../../sys/errors.js';
import { NS_TYPES, type NsType } from '../../sys/nstypes.js';
import { effectiveUid, FileLock, fsyncDir, randomHex, removeTree, resolveStateDir, writeFileAtomic } from '../../sys/statefs.js';
import { VERSION } from '../../version.js';
import { releaseResourcesNow } from '../env-resources.js';
import {
  ENV_RECORD_SCHEMA_VERSION,
  isoTimestamp,
  parseEnvRecord,
  validateNewName,
  type CreateProgress,
  type EnvRecord,
  type NewEnvRecord,
  type ReservationRecord,
} from '../record.js';
import { holderState, processIdentity, type HolderState } from './holder.js';
import { inspectEntry, openLayout, RECORD_FILE, RESERVATION_FILE, unreadableError, type Layout, type RegistryOptions } from './layout.js';
import { removeNetnsLink } from './links.js';
import { undoInterruptedCreate } from './undo.js';

/** A dead entry that reserve() removed to make room: create recreates it and should warn. */
export interface ReplacedEntry {
  record: EnvRecord;
  state: 'dead' | 'reused';
}

export interface Reservation {
  readonly name: string;
  /** <state>/envs/NAME: exists (mode 0700) while reserved; put pins here. */
  readonly dir: string;
  readonly stateDir: string;
  /** A dead entry of this name was removed to make room (warn: "recreating dead environment"). */
  readonly replaced?: ReplacedEntry;
  /** A reservation left by a creator that died was reclaimed. */
  readonly reclaimed?: ReservationRecord;
  /** Where to bind-mount the `type` namespace file for --pin (inside `dir`; not created). */
  pinPath(type: NsType): string;
  /** Add to what reservation.json says this create has made (see CreateProgress). */
  note(progress: CreateProgress): void;
  /** Write the record atomically and release the reservation. Once only. */
  commit(record: NewEnvRecord): EnvRecord;
  /**
   * Undo: detach any mounts below `dir`, remove it, release. A no-op after commit()
   * succeeded or a previous abort(), so `finally { r.abort() }` is safe.
   */
  abort(): void;
}

/** Another create (or destroy/gc) owns the name, or a live environment has it. */
export class EnvironmentExistsError extends NsmError {
  constructor(
    readonly envName: string,
    /** exists: a live record; creating: a creator holds the reservation; busy: destroy/gc at work. */
    readonly reason: 'exists' | 'creating' | 'busy',
    /** Holder pid (exists) or creator pid (creating), when known. */
    readonly pid: number | undefined,
    message: string,
    hint?: string,
  ) {
    super(message, { hint });
    this.name = 'EnvironmentExistsError';
  }
}

export function existsError(name: string, record: EnvRecord, state: HolderState): EnvironmentExistsError {
  const how = state === 'pinned' ? `pinned; holder PID ${record.holder.pid} has exited` : `holder PID ${record.holder.pid}`;
  return new EnvironmentExistsError(name, 'exists', record.holder.pid, `environment ${name} already exists (${how})`, `use it with nsm enter ${name}, or remove it with nsm destroy ${name}`);
}

/** Why the lock of `name` is taken, read without the lock. */
function busyError(name: string, layout: Layout, options: RegistryOptions): EnvironmentExistsError {
  const found = inspectEntry(join(layout.envs, name));
  if (found.kind === 'record') {
    const state = holderState(found.record, options);
    if (state === 'running' || state === 'pinned') return existsError(name, found.record, state);
  }
  if (found.kind === 'reservation' || found.kind === 'empty') {
    const pid = found.kind === 'reservation' ? found.reservation?.creator.pid : undefined;
    return new EnvironmentExistsError(name, 'creating', pid, `environment ${name} already exists: it is being created${pid ? ` (by nsm PID ${pid})` : ''}`);
  }
  return new EnvironmentExistsError(name, 'busy', undefined, `environment ${name} is busy: another nsm process is changing it`, 'try again in a moment');
}

/**
 * Take the lock of `name`, or throw why not. A lock held with no reservation or live record
 * in sight is a short operation (a reserve() staging its directory, a gc, an abort): wait
 * for it a little, then look again, so that the error names a creator or a holder.
 */
export function acquireOrExplain(name: string, layout: Layout, options: RegistryOptions): FileLock {
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (;;) {
    const lock = FileLock.tryAcquire(join(layout.locks, name));
    if (lock) return lock;
    const err = busyError(name, layout, options);
    if (err.reason !== 'busy' || Date.now() >= deadline) throw err;
    sleepSync(5);
  }
}

/** How long a create waits for another nsm's short hold on a name before calling it busy. */
const BUSY_WAIT_MS = 1000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}


/**
 * Reserve `name` for a create, before any holder starts. Exactly one of any number of
 * concurrent reserve()s of a name (in one process or many) succeeds: it holds an exclusive
 * flock on locks/NAME until commit() or abort(). The others throw EnvironmentExistsError:
 * "already exists (holder PID n)" when a live record has the name, "being created" while a
 * creator holds it. A dead entry (holder dead or pid reused, no pins) is removed, together
 * with its /run/netns link, and reported in `replaced`; a stale reservation (its creator
 * died, so its lock is free) in `reclaimed`.
 */
export function reserve(name: string, options: RegistryOptions = {}): Reservation {
  validateNewName(name);
  const layout = openLayout(options.stateDir ?? resolveStateDir().path, true)!;
  const lock = acquireOrExplain(name, layout, options);
  const envDir = join(layout.envs, name);
  let created = false;
  try {
    let replaced: ReplacedEntry | undefined;
    let reclaimed: ReservationRecord | undefined;
    const found = inspectEntry(envDir);
    switch (found.kind) {
      case 'absent':
        break;
      case 'unreadable':
        throw unreadableError(name, envDir, found.message);
      case 'record': {
        const state = holderState(found.record, options);
        if (state === 'running' || state === 'pinned') throw existsError(name, found.record, state);
        // A destroy or holder that died before its NAT rules and cgroups were gone: they go
        // first, or this name would inherit them (the record is their only note).
        const released = releaseResourcesNow(found.record);
        if (released.failures.length > 0) throw new NsmError(`cannot replace dead environment ${name}: ${released.failures.join('; ')}`);
        removeNetnsLink(found.record, options);
        removeTree(envDir, options.procRoot);
        replaced = { record: found.record, state };
        break;
      }
      case 'reservation':
      case 'empty':
        // We hold the lock, so whoever reserved this is gone: flock dies with its holder.
        if (found.kind === 'reservation') undoInterruptedCreate(found.reservation, options);
        removeTree(envDir, options.procRoot);
        reclaimed = found.kind === 'reservation' ? found.reservation : undefined;
        break;
    }
    const reservation: ReservationRecord = {
      schemaVersion: ENV_RECORD_SCHEMA_VERSION,
      name,
      creator: processIdentity(process.pid, options),
      creatorUid: effectiveUid(),
      reservedAt: isoTimestamp(),
      nsmVersion: VERSION,
    };
    // Build the directory aside and rename it into place, so that a reader never finds
    // envs/NAME without reservation.json in it (and can name the creator's pid). The rename
    // is what makes it appear whole, so reservation.json is written in place and neither it
    // nor the rename is fsynced: see commit() for what durability is worth here.
    const staging = join(layout.envs, `.${name}.new-${process.pid}-${randomHex()}`);
    mkdirSync(staging, { mode: 0o700 });
    try {
      writeFileSync(join(staging, RESERVATION_FILE), `${JSON.stringify(reservation, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      renameSync(staging, envDir);
    } catch (err) {
      removeTree(staging, options.procRoot);
      throw SysError.fromNode(err, 'rename', envDir);
    }
    created = true;
    return new HeldReservation(name, envDir, layout.stateDir, lock, replaced, reclaimed, options, reservation);
  } catch (err) {
    try {
      if (created) removeTree(envDir, options.procRoot);
    } finally {
      // Leave no lock file behind for a name that has no entry.
      if (inspectEntry(envDir).kind === 'absent') lock.removeAndRelease();
      else lock.release();
    }
    throw err;
  }
}

class HeldReservation implements Reservation {
  private done = false;

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly stateDir: string,
    private readonly lock: FileLock,
    readonly replaced: ReplacedEntry | undefined,
    readonly reclaimed: ReservationRecord | undefined,
    private readonly options: RegistryOptions,
    private readonly reservation: ReservationRecord,
  ) {}

  pinPath(type: NsType): string {
    return join(this.dir, 'pins', type);
  }

  note(progress: CreateProgress): void {
    if (this.done) throw new Error(`reservation of ${this.name} was already committed or aborted`);
    const was = this.reservation.progress ?? {};
    this.reservation.progress = { ...was, ...progress, options: { ...was.options, ...progress.options } };
    // Not fsynced: what it notes (processes, cgroups, NAT rules, mounts) does not outlive a
    // reboot either, so a note lost in a crash leaves nothing to undo.
    writeFileAtomic(join(this.dir, RESERVATION_FILE), `${JSON.stringify(this.reservation, null, 2)}\n`, { durable: false });
  }

  commit(input: NewEnvRecord): EnvRecord {
    if (this.done) throw new Error(`reservation of ${this.name} was already committed or aborted`);
    const record: EnvRecord = {
      schemaVersion: ENV_RECORD_SCHEMA_VERSION,
      name: this.name,
      types: NS_TYPES.map((i) => i.name).filter((t) => input.types.includes(t)),
      options: input.options ?? {},
      holder: { pid: input.holder.pid, startTime: input.holder.startTime },
      namespaces: input.namespaces,
      ...(input.ids !== undefined && Object.keys(input.ids).length > 0 ? { ids: input.ids } : {}),
      pins: input.pins ?? {},
      ...(input.netnsLink !== undefined ? { netnsLink: input.netnsLink } : {}),
      ...(input.adopted !== undefined ? { adopted: input.adopted } : {}),
      creatorUid: effectiveUid(),
      createdAt: isoTimestamp(),
      nsmVersion: VERSION,
    };
    const text = `${JSON.stringify(record, null, 2)}\n`;
    parseEnvRecord(text); // a record the registry cannot read back is a bug in the caller
    // Durability, and what it is worth: the state directory is /run/nsm for root, which
    // most distributions mount as tmpfs (fsync is free there, and nothing survives a reboot),
    // and a record only describes a holder and mounts that die with the kernel anyway. After
    // a crash a record must still never be unreadable (a torn env.json would have to be
    // removed by hand), so env.json is fsynced before its rename; the directory is fsynced
    // once, after the rename and the unlink of reservation.json. Whatever a crash loses of
    // those two leaves a record or a reservation that gc and the next create handle.
    writeFileAtomic(join(this.dir, RECORD_FILE), text, { syncDir: false });
    this.done = true;
    try {
      unlinkSync(join(this.dir, RESERVATION_FILE));
      fsyncDir(this.dir);
    } finally {
      this.lock.release();
    }
    return record;
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      removeTree(this.dir, this.options.procRoot);
    } finally {
      this.lock.removeAndRelease();
    }
  }
}
