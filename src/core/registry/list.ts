/**
 * Listing: every environment the caller may see, read from its own state directory and, as
 * root, from other users' (each read as that user, each problem a warning, never an error).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hasErrno, NsmError } from '../../sys/errors.js';
import { effectiveUid } from '../../sys/statefs.js';
import { isAlive } from '../processes.js';
import { ENV_NAME_PATTERN, isInt, type EnvRecord, type ReservationRecord } from '../record.js';
import { holderState, type HolderState } from './holder.js';
import {
  environmentNamesIn,
  inspectEntry,
  inStateDir,
  layoutOf,
  listsAllUsers,
  openLayout,
  otherUsersStateDirs,
  ownLocation,
  problemMessage,
  type Entry,
  type EnvironmentLocation,
  type ListEnvironmentsOptions,
} from './layout.js';
import type { ListedEnvironment } from './lookup.js';

/** A name reserved by a create still in progress (no record yet), or left by a killed one. */
export interface CreatingEnvironment {
  name: string;
  creatorPid?: number;
  dir: string;
  /** The creating nsm is gone (killed): what it had made stays until destroy or gc undoes it. */
  interrupted?: boolean;
  /** The holder the create had started, when its reservation noted one. */
  holderPid?: number;
  reservedAt?: string;
  /** Set when it is in another user's state directory (root's view): that user's uid. */
  stateDirOwner?: number;
}

export interface RegistryProblem {
  /** The environment's name; '' for a whole state directory that could not be read. */
  name: string;
  dir: string;
  message: string;
  /** Set when it is in another user's state directory (root's view): that user's uid. */
  stateDirOwner?: number;
}

export interface EnvironmentListing {
  /** Sorted by name (then owner). */
  environments: ListedEnvironment[];
  creating: CreatingEnvironment[];
  /** Records nsm could not read (corrupt, from a newer nsm, unsafe directory). */
  problems: RegistryProblem[];
  /** The caller's effective uid: whose the entries without a stateDirOwner are. */
  uid: number;
}

/**
 * Names of every environment the caller's listing shows (ListEnvironmentsOptions.allUsers:
 * for root also other users'), sorted and without repeats, for shell completion.
 */
export function reachableEnvironmentNames(options: ListEnvironmentsOptions = {}): string[] {
  const own = ownLocation(options);
  const names = new Set<string>();
  for (const { stateDir, stateDirOwner } of [own, ...(listsAllUsers(options) ? otherUsersStateDirs(own.stateDir) : [])]) {
    try {
      for (const n of inStateDir(stateDir, stateDirOwner, () => environmentNamesIn(stateDir))) names.add(n);
    } catch (err) {
      if (!(err instanceof NsmError)) throw err; // a directory that went away meanwhile
    }
  }
  return [...names].sort();
}

export interface LoadedRecord {
  name: string;
  dir: string;
  record: EnvRecord;
  stateDirOwner?: number;
}

export interface LoadedDir {
  records: LoadedRecord[];
  creating: CreatingEnvironment[];
  problems: RegistryProblem[];
}

/**
 * Read one state directory. Whatever its owner put there (an entry it cannot read, a file
 * where a directory belongs) becomes a problem of that entry or directory, never an error:
 * one user's directory must not hide the rest of root's listing.
 */
function loadStateDir({ stateDir, stateDirOwner }: EnvironmentLocation): LoadedDir {
  let loaded: LoadedDir;
  try {
    loaded = inStateDir(stateDir, stateDirOwner, () => loadStateDirFiles(stateDir));
  } catch (err) {
    loaded = { records: [], creating: [], problems: [{ name: '', dir: stateDir, message: problemMessage(err, 'read', stateDir) }] };
  }
  if (stateDirOwner === undefined) return loaded;
  return {
    records: loaded.records,
    creating: loaded.creating.map((c) => ({ ...c, stateDirOwner })),
    problems: loaded.problems.map((p) => ({ ...p, stateDirOwner })),
  };
}

function loadStateDirFiles(stateDir: string): LoadedDir {
  const out: LoadedDir = { records: [], creating: [], problems: [] };
  const envs = layoutOf(stateDir).envs;
  let names: string[];
  try {
    names = readdirSync(envs);
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return out;
    out.problems.push({ name: '', dir: envs, message: problemMessage(err, 'readdir', envs) });
    return out;
  }
  for (const name of names.sort()) {
    if (!ENV_NAME_PATTERN.test(name)) continue; // not an environment (temp files start with '.')
    const dir = join(envs, name);
    let found: Entry;
    try {
      found = inspectEntry(dir);
    } catch (err) {
      out.problems.push({ name, dir, message: problemMessage(err, 'read', dir) });
      continue;
    }
    if (found.kind === 'record') out.records.push({ name, dir, record: found.record });
    else if (found.kind === 'unreadable') out.problems.push({ name, dir, message: found.message });
    else if (found.kind === 'reservation') out.creating.push(creatingEntry(name, dir, found.reservation));
    else if (found.kind === 'empty') out.creating.push({ name, dir });
  }
  return out;
}

/** A reservation as listed: interrupted when its creator (pid and start time) is gone. */
function creatingEntry(name: string, dir: string, reservation: ReservationRecord | undefined): CreatingEnvironment {
  const out: CreatingEnvironment = { name, dir };
  if (!reservation) return out;
  out.creatorPid = reservation.creator.pid;
  if (typeof reservation.reservedAt === 'string') out.reservedAt = reservation.reservedAt;
  const holder = reservation.progress?.holder;
  if (holder && isInt(holder.pid, 1)) out.holderPid = holder.pid;
  if (isInt(reservation.creator.startTime) && !isAlive(reservation.creator)) out.interrupted = true;
  return out;
}

/** Every state directory to read for a listing, own first (left out when it is missing). */
function listingDirs(options: ListEnvironmentsOptions): { dirs: EnvironmentLocation[]; problems: RegistryProblem[] } {
  const own = ownLocation(options);
  const problems: RegistryProblem[] = [];
  const dirs: EnvironmentLocation[] = [];
  try {
    if (inStateDir(own.stateDir, own.stateDirOwner, () => openLayout(own.stateDir, false, own.stateDirOwner))) dirs.push(own);
  } catch (err) {
    // An unsafe state directory is not read (it may be someone else's plant); say so.
    if (!(err instanceof NsmError)) throw err;
    problems.push({ name: '', dir: own.stateDir, message: err.message });
  }
  if (listsAllUsers(options)) dirs.push(...otherUsersStateDirs(own.stateDir));
  return { dirs, problems };
}

/** Records without their state: what attribution needs (it checks liveness against its scan). */
export function loadRecords(options: ListEnvironmentsOptions): LoadedDir {
  const { dirs, problems } = listingDirs(options);
  const all: LoadedDir = { records: [], creating: [], problems };
  const euid = effectiveUid();
  for (const location of dirs) {
    const loaded = loadStateDir(location);
    // The state directory is per user; a record of another uid in it is not this user's to
    // list, nor (root's view of another user's directory) that user's.
    const uid = location.stateDirOwner ?? euid;
    const mine = loaded.records.filter((r) => (euid === 0 && location.stateDirOwner === undefined) || r.record.creatorUid === uid);
    all.records.push(...mine.map((r) => (location.stateDirOwner !== undefined ? { ...r, stateDirOwner: location.stateDirOwner } : r)));
    all.creating.push(...loaded.creating);
    all.problems.push(...loaded.problems);
  }
  return all;
}

/**
 * Every environment the caller may see, with its holder state: the caller's own state
 * directory, and as root also other users' (see ListEnvironmentsOptions.allUsers).
 */
export function listEnvironments(options: ListEnvironmentsOptions = {}): EnvironmentListing {
  return listingOf(loadRecords(options), (record) => holderState(record, options));
}

/** A listing of the records `loaded`, each environment in the state `stateOf` judges. */
export function listingOf(loaded: LoadedDir, stateOf: (record: EnvRecord) => HolderState): EnvironmentListing {
  const environments = loaded.records
    .map(({ name, dir, record, stateDirOwner }) => ({ name, dir, record, state: stateOf(record), ...(stateDirOwner !== undefined ? { stateDirOwner } : {}) }))
    .sort((a, b) => (a.name === b.name ? a.record.creatorUid - b.record.creatorUid : a.name < b.name ? -1 : 1));
  return { environments, creating: loaded.creating, problems: loaded.problems, uid: effectiveUid() };
}
