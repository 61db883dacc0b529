/**
 * Lookup and lock of one environment by name: its record and holder state (find, get), whether
 * a state directory has it (hasEntry), and the exclusive hold destroy takes (lockEnvironment).
 */
import { join } from 'node:path';
import { hasErrno, NsmError } from '../../sys/errors.js';
import { FileLock, fsyncDir, removeTree, writeFileAtomic } from '../../sys/statefs.js';
import { parseEnvRecord, validateName, type EnvRecord } from '../record.js';
import { holderState, type HolderState } from './holder.js';
import { inspectEntry, inStateDir, layoutOf, openLayout, ownLocation, RECORD_FILE, unreadableError, type EnvironmentLocation, type RegistryOptions } from './layout.js';
import { acquireOrExplain } from './reservations.js';
import { checkForeignRecord } from './trust.js';
import { undoInterruptedCreate, type UndoneCreate } from './undo.js';

/** One environment as the registry sees it now. */
export interface ListedEnvironment {
  name: string;
  state: HolderState;
  record: EnvRecord;
  /** <state>/envs/NAME */
  dir: string;
  /** Set when it is in another user's state directory (root's view): that user's uid. */
  stateDirOwner?: number;
}

/** One environment's record, found by name, before its holder is looked at. */
export type FoundRecord = Omit<ListedEnvironment, 'state'>;

/** The record and state of `name`, or undefined when there is none. No lock taken. */
export function findEnvironment(name: string, options: RegistryOptions = {}): ListedEnvironment | undefined {
  const found = findRecord(name, options);
  return found && withState(found, holderState(found.record, options));
}

/** `found` with its holder state, as findEnvironment returns it. */
export function withState(found: FoundRecord, state: HolderState): ListedEnvironment {
  const { name, dir, record, stateDirOwner } = found;
  return { name, dir, record, state, ...(stateDirOwner !== undefined ? { stateDirOwner } : {}) };
}

/**
 * The record of `name`, or undefined when there is none: findEnvironment without the holder
 * state, for a caller that judges the holder itself (openEnvironment). No lock taken.
 */
export function findRecord(name: string, options: RegistryOptions = {}): FoundRecord | undefined {
  validateName(name);
  const { stateDir, stateDirOwner } = ownLocation(options);
  const found = inStateDir(stateDir, stateDirOwner, () => {
    const layout = openLayout(stateDir, false, stateDirOwner);
    if (!layout) return undefined;
    const dir = join(layout.envs, name);
    return { dir, entry: inspectEntry(dir) };
  });
  if (!found) return undefined;
  const { dir, entry } = found;
  if (entry.kind === 'unreadable') throw unreadableError(name, dir, entry.message);
  if (entry.kind !== 'record') return undefined;
  checkForeignRecord(entry.record, dir, stateDirOwner);
  return { name, dir, record: entry.record, ...(stateDirOwner !== undefined ? { stateDirOwner } : {}) };
}

/**
 * Whether the state directory at `location` has an entry for `name`: a record (readable or
 * not), or with `reservations` also a create in progress or left by a killed one. For finding
 * which user's directory holds a name. With `tolerant` (the default) a directory nsm refuses
 * (unsafe) or cannot read has none; otherwise that is thrown.
 */
export function hasEntry(name: string, location: EnvironmentLocation, opts: { reservations?: boolean; tolerant?: boolean } = {}): boolean {
  const { stateDir, stateDirOwner } = location;
  try {
    return inStateDir(stateDir, stateDirOwner, () => {
      if (!openLayout(stateDir, false, stateDirOwner)) return false;
      const kind = inspectEntry(join(layoutOf(stateDir).envs, name)).kind;
      return kind === 'record' || kind === 'unreadable' || (Boolean(opts.reservations) && kind !== 'absent');
    });
  } catch (err) {
    if (opts.tolerant !== false && err instanceof NsmError) return false;
    throw err;
  }
}

/** Like findEnvironment, but a missing name is an error (exit 1). */
export function getEnvironment(name: string, options: RegistryOptions = {}): ListedEnvironment {
  const env = findEnvironment(name, options);
  if (!env) throw new NsmError(`no environment named ${name}`, { hint: 'nsm ls lists the environments' });
  return env;
}

/** Exclusive hold on one environment, for destroy: no create, gc or other destroy of it meanwhile. */
export interface EnvironmentLock {
  readonly name: string;
  readonly dir: string;
  /** The user whose state directory it is in, when not the caller's (RegistryOptions.stateDirOwner). */
  readonly stateDirOwner?: number;
  /** Undefined when only a stale reservation was found (a creator died); remove() clears it. */
  readonly record: EnvRecord | undefined;
  state(): HolderState | undefined;
  /**
   * Remove the entry (detaching any mounts below its directory, e.g. pins) and the lock file;
   * releases. For a stale reservation it first undoes what the killed create had made, and
   * returns what that was (holder stopped, cgroups, NAT rules, netns link).
   */
  remove(): UndoneCreate;
  /** Replace the record (atomically) with `record`, keeping the hold: destroy marks a held one. */
  update(record: EnvRecord): void;
  /** Release without removing. Safe to call after remove(). */
  release(): void;
}

/**
 * Lock `name` for a destroy. Throws "no environment named NAME" when there is none, and
 * EnvironmentExistsError ("being created" / "busy") when another nsm holds it.
 */
export function lockEnvironment(name: string, options: RegistryOptions = {}): EnvironmentLock {
  validateName(name);
  const { stateDir, stateDirOwner } = ownLocation(options);
  // In another user's directory, every file step is that user's (inStateDir); the lock fd
  // stays held across, and the signals destroy sends in between are root's.
  const inDir = <T>(fn: () => T): T => inStateDir(stateDir, stateDirOwner, fn);
  return inDir(() => {
    const layout = openLayout(stateDir, false, stateDirOwner);
    const missing = (): NsmError => new NsmError(`no environment named ${name}`, { hint: 'nsm ls lists the environments' });
    if (!layout) throw missing();
    const dir = join(layout.envs, name);
    if (inspectEntry(dir).kind === 'absent') throw missing();
    let held: FileLock;
    try {
      held = acquireOrExplain(name, layout, options);
    } catch (err) {
      if (hasErrno(err, 'ENOENT')) throw missing(); // locks/ missing: nothing was ever created here
      throw err;
    }
    try {
      const found = inspectEntry(dir);
      if (found.kind === 'absent') throw missing();
      if (found.kind === 'unreadable') throw unreadableError(name, dir, found.message);
      const record = found.kind === 'record' ? found.record : undefined;
      if (record) checkForeignRecord(record, dir, stateDirOwner);
      return {
        name,
        dir,
        record,
        stateDirOwner,
        state: () => (record ? holderState(record, options) : undefined),
        remove: () => {
          if (!held.held) return {};
          return inDir(() => {
            try {
              const undone = found.kind === 'reservation' ? undoInterruptedCreate(found.reservation, options, stateDirOwner) : {};
              removeTree(dir, options.procRoot);
              fsyncDir(layout.envs);
              return undone;
            } finally {
              held.removeAndRelease();
            }
          });
        },
        update: (record: EnvRecord) => {
          const text = `${JSON.stringify(record, null, 2)}\n`;
          parseEnvRecord(text); // what the registry cannot read back must not be written
          inDir(() => writeFileAtomic(join(dir, RECORD_FILE), text));
        },
        release: () => held.release(),
      };
    } catch (err) {
      held.removeAndRelease();
      throw err;
    }
  });
}
