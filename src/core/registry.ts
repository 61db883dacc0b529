/**
 * The registry of named environments: the state directory, one record per environment,
 * reservations that make concurrent `create`s of one name safe, and the identity checks
 * that keep a dead holder's reused PID from leading anyone into a stranger's namespaces.
 *
 * Layout of the state directory (see src/sys/statefs.ts for where it is and why it is safe):
 *
 *   <state>/envs/NAME/env.json          the record (EnvRecord), written atomically
 *   <state>/envs/NAME/reservation.json  while NAME is being created: who is creating it
 *   <state>/envs/NAME/...               pins and anything else create puts there
 *   <state>/locks/NAME                  flock(2)ed while NAME is created, destroyed or collected
 *
 * A creator holds the lock from reserve() to commit()/abort(); the kernel drops it if the
 * creator dies, so a reservation whose lock is free is stale and the next reserve() of the
 * name reclaims it. Readers (list, attribution) take no lock: records are replaced atomically.
 *
 * Nothing here prints: warnings and outcomes are returned for the command to render.
 */
import { closeSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf, EXIT_NSM_FAILED, hasErrno, NsmError, quoteInput, SysError, UsageError } from '../sys/errors.js';
import { MNT_DETACH, umount2 } from '../sys/libc.js';
import { nsfsDevice, openNsFile, statNsFile, type OpenNsFile } from '../sys/nsfile.js';
import { NS_TYPES, isNsType, nsTypeInfo, type NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import {
  asUser,
  effectiveUid,
  ensurePrivateDir,
  FileLock,
  fsyncDir,
  mkdirIfMissing,
  privateDirProblem,
  randomHex,
  removeTree,
  resolveStateDir,
  usersTmpDir,
  writeFileAtomic,
} from '../sys/statefs.js';
import { VERSION } from '../version.js';
import { nsIdOfFd, nsRelations } from '../sys/libc.js';
import type { HostScan, Namespace } from './model.js';
import { plannedRelease, releaseResourcesNow } from './env-resources.js';
import { isAlive } from './processes.js';
import { limitsOf } from './limits.js';
import { vethOf } from './network.js';

/** Version of env.json and reservation.json; bump it when their meaning changes. */
export const ENV_RECORD_SCHEMA_VERSION = 1;

/** DESIGN.md "State": what an environment name may be. It is also a directory and file name. */
export const ENV_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME_RULE = "1 to 64 characters: letters, digits, '_', '.' and '-', starting with a letter or digit";

// ---------------------------------------------------------------------------------------------
// Records

/** What `create` was given. Open: later options (veth, cgroup limits ...) add keys. */
export interface EnvOptions {
  hostname?: string;
  /** User-namespace id mapping as create was asked for it (--map-root, --map-user ...). */
  map?: { root?: boolean; user?: number; group?: number; auto?: boolean; [key: string]: unknown };
  propagation?: 'private' | 'slave' | 'shared' | 'unchanged';
  mountProc?: boolean;
  mountSys?: boolean;
  loopback?: boolean;
  pin?: boolean;
  timeOffsets?: { monotonic?: number; boottime?: number };
  [key: string]: unknown;
}

/** A process across PID reuse: its pid and start time (/proc/PID/stat field 22, clock ticks after boot). */
export interface ProcessIdentity {
  pid: number;
  startTime: number;
}

/** <state>/envs/NAME/env.json. Documented in README "State and records". */
export interface EnvRecord {
  schemaVersion: typeof ENV_RECORD_SCHEMA_VERSION;
  name: string;
  /** The namespace types the environment created (nsenter join order). */
  types: NsType[];
  options: EnvOptions;
  holder: ProcessIdentity;
  /** Inode of each created namespace, read from the holder when it started. */
  namespaces: Partial<Record<NsType, number>>;
  /**
   * 64-bit ID (NS_GET_ID, Linux 6.18) of each created namespace, read from the same fds as
   * the inodes; absent on older kernels. Unlike an inode it is never reused, so the join-time
   * check compares it too.
   */
  ids?: Partial<Record<NsType, number>>;
  /** Bind mounts of namespace files that keep them alive without the holder (--pin). */
  pins: Partial<Record<NsType, string>>;
  /** /run/netns/NAME when the net namespace was linked there for ip-netns(8). */
  netnsLink?: string;
  creatorUid: number;
  /** ISO 8601. */
  createdAt: string;
  nsmVersion: string;
}

/** What a creator passes to Reservation.commit(); the registry adds name, uid, time, versions. */
export interface NewEnvRecord {
  types: NsType[];
  options?: EnvOptions;
  holder: ProcessIdentity;
  namespaces: Partial<Record<NsType, number>>;
  ids?: Partial<Record<NsType, number>>;
  pins?: Partial<Record<NsType, string>>;
  netnsLink?: string;
}

/** <state>/envs/NAME/reservation.json: who is creating NAME right now, and what it has made so far. */
export interface ReservationRecord {
  schemaVersion: typeof ENV_RECORD_SCHEMA_VERSION;
  name: string;
  creator: ProcessIdentity;
  creatorUid: number;
  reservedAt: string;
  nsmVersion: string;
  /** Written by Reservation.note() as the create goes on. */
  progress?: CreateProgress;
}

/**
 * What a create has made outside its directory, noted before (cgroups, the /run/netns link)
 * or right after (holder, NAT rules) it is made. A creator stopped by SIGINT/SIGTERM undoes
 * its own work; one killed by SIGKILL (or the OOM killer) cannot, so the next reserve() of
 * the name or a gc reads this and undoes it: kills the holder if it is still that process,
 * removes NAT rules, cgroups and the link (see undoInterruptedCreate()).
 */
export interface CreateProgress {
  holder?: ProcessIdentity;
  /** Inodes of the holder's namespaces: the /run/netns link is removed only if it is ours. */
  namespaces?: Partial<Record<NsType, number>>;
  /** As the record will hold them: veth (with NAT rules) and limits (with cgroups). */
  options?: EnvOptions;
  netnsLink?: string;
}

/**
 * running: the holder (pid + start time) is alive.
 * dead:    the holder is gone and no pin holds a namespace.
 * reused:  a different live process has the holder's pid now (its start time differs).
 * pinned:  the holder is gone (or its pid reused) but pins still hold the namespaces.
 */
export type HolderState = 'running' | 'dead' | 'reused' | 'pinned';

export interface RegistryOptions {
  /** State directory; default: $NSM_STATE_DIR, /run/nsm for root, $XDG_RUNTIME_DIR/nsm, /tmp/nsm-$UID. */
  stateDir?: string;
  /**
   * Set when the state directory is another user's and root acts on it (nsm destroy, exec,
   * gc of a rootless user's environment): that user's uid. The directory must belong to that
   * uid instead of the caller; its files are read, created and removed with that user's ids
   * (asUser), so root does there only what the user could and what it creates stays theirs;
   * and a record is used only if it looks like what that user's nsm makes (foreignRecordProblem).
   */
  stateDirOwner?: number;
  /** Root of procfs (default /proc). */
  procRoot?: string;
}

/** Where an environment's record is: a state directory, and its owner when not the caller. */
export interface EnvironmentLocation {
  stateDir: string;
  /** See RegistryOptions.stateDirOwner. */
  stateDirOwner?: number;
}

/**
 * Run `fn` (synchronous) on the files of `stateDir`: as `owner` with the directory's group
 * when it is another user's (RegistryOptions.stateDirOwner), else as we are.
 */
function inStateDir<T>(stateDir: string, owner: number | undefined, fn: () => T): T {
  if (owner === undefined) return fn();
  let gid: number;
  try {
    gid = lstatSync(stateDir).gid;
  } catch (err) {
    throw SysError.fromNode(err, 'lstat', stateDir);
  }
  return asUser(owner, gid, fn);
}

/**
 * The caller's own state directory. Root's, when it names a directory that belongs to a user
 * (NSM_STATE_DIR=/tmp/nsm-1000, to pick one user's environment of a name several have), is
 * that user's: found, entered, destroyed and collected as theirs; root never creates there.
 */
export function ownLocation(options: RegistryOptions = {}): EnvironmentLocation {
  const stateDir = options.stateDir ?? resolveStateDir().path;
  if (options.stateDirOwner !== undefined) return { stateDir, stateDirOwner: options.stateDirOwner };
  if (effectiveUid() === 0) {
    try {
      const st = lstatSync(stateDir);
      if (st.isDirectory() && st.uid !== 0) return { stateDir, stateDirOwner: st.uid };
    } catch {
      // missing: root's own, made on the first create
    }
  }
  return { stateDir };
}

/**
 * Why root must not act on `record`, found in the state directory of user `uid`, or undefined.
 * A user's nsm makes only rootless environments: the record names that user, a user namespace,
 * no pins, /run/netns link or veth (all need root), and cgroups that belong to the user. The
 * user can write anything into their directory, so anything else would have root kill,
 * unmount or remove what the record points at on the user's word.
 */
export function foreignRecordProblem(record: EnvRecord, uid: number): string | undefined {
  if (record.creatorUid !== uid) return `it says it was created by uid ${record.creatorUid}, in the directory of uid ${uid}`;
  if (!record.types.includes('user')) return 'it has no user namespace, which every environment of a user other than root has';
  if (Object.keys(record.pins).length > 0) return 'it has pins, which only root can make';
  if (record.netnsLink !== undefined) return 'it has a /run/netns link, which only root can make';
  if (vethOf(record)) return 'it has a veth pair, which only root can make';
  return cgroupOwnerProblem(limitsOf(record)?.cgroups ?? [], uid);
}

/** A cgroup of `cgroups` that exists and is not `uid`'s (a user's nsm makes only its own). */
function cgroupOwnerProblem(cgroups: ReadonlyArray<{ dir: string }>, uid: number): string | undefined {
  for (const c of cgroups) {
    let owner: number | undefined;
    try {
      owner = lstatSync(c.dir).uid;
    } catch {
      continue; // gone already
    }
    if (owner !== uid) return `its cgroup ${c.dir} belongs to uid ${owner}`;
  }
  return undefined;
}

function checkForeignRecord(record: EnvRecord, dir: string, uid: number | undefined): void {
  if (uid === undefined) return;
  const problem = foreignRecordProblem(record, uid);
  if (problem !== undefined) {
    throw new NsmError(`refusing environment ${record.name} of uid ${uid}: ${problem}`, {
      hint: `its record ${join(dir, RECORD_FILE)} is not one nsm wrote; uid ${uid} can remove it`,
    });
  }
}

/**
 * Now as ISO 8601 in UTC ("2026-12-03T10:00:00.000Z"), as Date#toISOString() writes it.
 * Built from the UTC getters because V8 loads the local time zone (/etc/localtime, ICU) on
 * the first toISOString(), about 1 ms of `nsm create` for a zone it does not use.
 */
export function isoTimestamp(date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const year = date.getUTCFullYear();
  const y = year >= 0 && year <= 9999 ? p(year, 4) : `${year < 0 ? '-' : '+'}${p(Math.abs(year), 6)}`;
  return `${y}-${p(date.getUTCMonth() + 1)}-${p(date.getUTCDate())}T${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())}.${p(date.getUTCMilliseconds(), 3)}Z`;
}

const RECORD_FILE = 'env.json';
const RESERVATION_FILE = 'reservation.json';

interface Layout {
  stateDir: string;
  envs: string;
  locks: string;
}

function layoutOf(stateDir: string): Layout {
  return { stateDir, envs: join(stateDir, 'envs'), locks: join(stateDir, 'locks') };
}

/**
 * Names recorded under the state directory `stateDir` (subdirectories of envs/ with a valid
 * name and an env.json), sorted, without opening any record: shell completion calls this
 * on every TAB. A missing or unreadable directory has none.
 */
export function environmentNamesIn(stateDir: string): string[] {
  const { envs } = layoutOf(stateDir);
  let entries;
  try {
    entries = readdirSync(envs, { withFileTypes: true });
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ENOTDIR', 'EACCES')) return [];
    throw err;
  }
  return entries
    .filter((e) => e.isDirectory() && ENV_NAME_PATTERN.test(e.name) && existsSync(join(envs, e.name, RECORD_FILE)))
    .map((e) => e.name)
    .sort();
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

/** Throw UsageError unless `name` is a valid environment name; returns it. */
export function validateName(name: string): string {
  if (!ENV_NAME_PATTERN.test(name)) {
    throw new UsageError(`invalid environment name ${quoteInput(name)}: use ${ENV_NAME_RULE}`);
  }
  return name;
}

/**
 * validateName, and for a name to be created: not all digits. Targets (inspect, diff) read an
 * all-digit word as a PID, so such an environment could never be named there.
 */
export function validateNewName(name: string): string {
  validateName(name);
  if (/^[0-9]+$/.test(name)) throw new UsageError(`invalid environment name ${quoteInput(name)}: all-digit words are PIDs; use a letter too`);
  return name;
}

/**
 * The caller's state directory, checked to be private (see ensurePrivateDir) and created
 * with its envs/ and locks/ subdirectories when `create` is set (default true).
 */
export function stateDirectory(options: RegistryOptions & { create?: boolean } = {}): string {
  const dir = options.stateDir ?? resolveStateDir().path;
  openLayout(dir, options.create ?? true);
  return dir;
}

/**
 * Check (and with `create`, make) the state directory; undefined when missing and not created.
 * `owner`: the uid it must belong to when not the caller (RegistryOptions.stateDirOwner).
 */
function openLayout(stateDir: string, create: boolean, owner?: number): Layout | undefined {
  if (!ensurePrivateDir(stateDir, { create, euid: owner })) return undefined;
  const layout = layoutOf(stateDir);
  if (create) {
    for (const sub of [layout.envs, layout.locks]) mkdirIfMissing(sub, 0o700);
  }
  return layout;
}

function isInt(v: unknown, min = 0): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
}

/** Parse and check env.json text; throws Error (not NsmError) naming what is wrong. */
export function parseEnvRecord(text: string): EnvRecord {
  const r = JSON.parse(text) as EnvRecord;
  const bad = (what: string): never => {
    throw new Error(`bad record: ${what}`);
  };
  if (typeof r !== 'object' || r === null) bad('not an object');
  if (r.schemaVersion !== ENV_RECORD_SCHEMA_VERSION) {
    bad(`schemaVersion ${String(r.schemaVersion)}${isInt(r.schemaVersion) && r.schemaVersion > ENV_RECORD_SCHEMA_VERSION ? ' (written by a newer nsm)' : ''}`);
  }
  if (typeof r.name !== 'string' || !ENV_NAME_PATTERN.test(r.name)) bad('name');
  if (!Array.isArray(r.types) || !r.types.every((t) => typeof t === 'string' && isNsType(t))) bad('types');
  if (typeof r.holder !== 'object' || !isInt(r.holder?.pid, 1) || !isInt(r.holder?.startTime)) bad('holder');
  if (typeof r.namespaces !== 'object' || r.namespaces === null) bad('namespaces');
  for (const t of r.types) if (!isInt(r.namespaces[t], 1)) bad(`namespaces.${t}`);
  if (r.ids !== undefined) {
    if (typeof r.ids !== 'object' || r.ids === null) bad('ids');
    for (const t of r.types) if (r.ids[t] !== undefined && !isInt(r.ids[t], 1)) bad(`ids.${t}`);
  }
  if (typeof r.pins !== 'object' || r.pins === null) bad('pins');
  if (!isInt(r.creatorUid)) bad('creatorUid');
  if (typeof r.createdAt !== 'string') bad('createdAt');
  if (typeof r.options !== 'object' || r.options === null) bad('options');
  return r;
}

function parseReservation(text: string): ReservationRecord | undefined {
  try {
    const r = JSON.parse(text) as ReservationRecord;
    return isInt(r?.creator?.pid, 1) ? r : undefined;
  } catch {
    return undefined;
  }
}

function readIfExists(path: string): string | undefined {
  try {
    // Missing is the common case (create's first look): a stat that may return undefined
    // spares building an exception for it.
    if (statSync(path, { throwIfNoEntry: false }) === undefined) return undefined;
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw SysError.fromNode(err, 'read', path);
  }
}

/** What is in <state>/envs/NAME right now. */
type Entry =
  | { kind: 'absent' }
  | { kind: 'record'; record: EnvRecord }
  | { kind: 'unreadable'; message: string }
  | { kind: 'reservation'; reservation: ReservationRecord | undefined }
  | { kind: 'empty' };

function inspectEntry(envDir: string): Entry {
  const text = readIfExists(join(envDir, RECORD_FILE));
  if (text !== undefined) {
    try {
      return { kind: 'record', record: parseEnvRecord(text) };
    } catch (err) {
      return { kind: 'unreadable', message: (err as Error).message };
    }
  }
  const res = readIfExists(join(envDir, RESERVATION_FILE));
  if (res !== undefined) return { kind: 'reservation', reservation: parseReservation(res) };
  try {
    if (lstatSync(envDir, { throwIfNoEntry: false }) === undefined) return { kind: 'absent' };
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return { kind: 'absent' };
    throw SysError.fromNode(err, 'lstat', envDir);
  }
  // A creator that died between mkdir and writing reservation.json, or a removal in progress.
  return { kind: 'empty' };
}

// ---------------------------------------------------------------------------------------------
// Processes and namespace files

/** (pid, start time) of a live process; throws NsmError when there is none. */
export function processIdentity(pid: number, options: Pick<RegistryOptions, 'procRoot'> = {}): ProcessIdentity {
  try {
    return { pid, startTime: new ProcFs(options.procRoot).readStat(pid).startTime };
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ESRCH')) throw new NsmError(`no process with PID ${pid}`);
    throw SysError.fromNode(err, 'read', `/proc/${pid}/stat`);
  }
}

/** Inode of each of `types` namespaces of process `pid` (what a record's `namespaces` holds). */
export function readNamespaceInodes(
  pid: number,
  types: readonly NsType[],
  options: Pick<RegistryOptions, 'procRoot'> = {},
): Partial<Record<NsType, number>> {
  const proc = new ProcFs(options.procRoot);
  const result: Partial<Record<NsType, number>> = {};
  for (const type of types) {
    try {
      const ref = proc.readNsEntry(pid, nsTypeInfo(type).procEntry);
      if (ref) result[type] = ref.inode;
    } catch (err) {
      throw SysError.fromNode(err, 'readlink', proc.path(pid, 'ns', type));
    }
  }
  return result;
}

/** Is the holder alive: same process, gone, or its pid taken by another process? */
function holderLiveness(proc: ProcFs, holder: ProcessIdentity): 'same' | 'gone' | 'other' {
  let stat;
  try {
    stat = proc.readStat(holder.pid);
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ESRCH')) return 'gone';
    throw SysError.fromNode(err, 'read', proc.path(holder.pid, 'stat'));
  }
  if (stat.startTime !== holder.startTime) return 'other';
  // A zombie has already left its namespaces (exit_task_namespaces runs before it is reaped).
  return stat.state === 'Z' || stat.state === 'X' ? 'gone' : 'same';
}

/** The pinned types whose pin still holds the recorded namespace (nsfs, same inode). */
export function livePins(record: EnvRecord, options: Pick<RegistryOptions, 'procRoot'> = {}): NsType[] {
  const pinned = Object.entries(record.pins) as Array<[NsType, string]>;
  if (pinned.length === 0) return [];
  const nsfs = nsfsDevice(options.procRoot);
  const live: NsType[] = [];
  for (const [type, path] of pinned) {
    const id = statNsFile(path);
    // An unmounted pin is an empty regular file: another device, so it never matches.
    if (id && id.dev === nsfs && id.ino === record.namespaces[type]) live.push(type);
  }
  return live;
}

/** Whether the environment's holder runs, died, had its pid reused, or left pins behind. */
export function holderState(record: EnvRecord, options: Pick<RegistryOptions, 'procRoot'> = {}): HolderState {
  const liveness = holderLiveness(new ProcFs(options.procRoot), record.holder);
  if (liveness === 'same') return 'running';
  if (livePins(record, options).length > 0) return 'pinned';
  return liveness === 'other' ? 'reused' : 'dead';
}

/** One namespace of an environment, open and verified against the record. */
export interface VerifiedNamespace {
  type: NsType;
  /** Open fd (O_CLOEXEC) on the namespace file: pass it to setns(2) or to the helper. */
  fd: number;
  /** The recorded inode, which fstat(fd) matched. */
  inode: number;
  /** The path it was opened through (/proc/PID/ns/TYPE or a pin). */
  path: string;
}

export interface VerifiedNamespaces {
  /** In nsenter join order (NS_TYPES): user first, time last. */
  namespaces: VerifiedNamespace[];
  /** Opened through the live holder's /proc/PID/ns or, holder gone, through the pins. */
  via: 'holder' | 'pins';
  /** Close every fd; safe to call twice. */
  close(): void;
}

/** The refusal when a recorded holder pid now belongs to another process. */
export class HolderReusedError extends NsmError {
  constructor(readonly envName: string, readonly pid: number) {
    super(`holder PID ${pid} is not this environment's holder any more: it died and the PID was reused`, {
      hint: 'run nsm gc',
      exitCode: EXIT_NSM_FAILED,
    });
    this.name = 'HolderReusedError';
  }
}

function deadError(record: EnvRecord): NsmError {
  return new NsmError(`environment ${record.name} is dead: its holder PID ${record.holder.pid} has exited`, {
    hint: `run nsm gc, or nsm create ${record.name} to make it again`,
  });
}

/**
 * Open the namespace files of `types` (default: all the environment's) and check each
 * one's inode against the record. The caller joins through the returned fds, so a holder
 * that dies and whose pid is reused after this check cannot redirect it: an fd keeps
 * naming the namespace it was opened on.
 *
 * Order of checks: open first, then confirm the holder's start time, then compare inodes.
 * A pid reused before the open fails the start-time check; one reused after it does not
 * matter, because the fds are already open.
 *
 * Throws HolderReusedError (exit 125) when the pid now belongs to someone else or the
 * inodes differ; NsmError when the environment is dead; UsageError for a type it lacks.
 * With `stateDirOwner` (another user's environment, opened by root) also NsmError unless
 * the namespaces are that user's (checkOwnedNamespaces).
 */
export function openVerified(
  record: EnvRecord,
  types: readonly NsType[] = record.types,
  options: Pick<RegistryOptions, 'procRoot' | 'stateDirOwner'> = {},
): VerifiedNamespaces {
  for (const t of types) {
    if (!record.types.includes(t)) {
      throw new UsageError(`environment ${record.name} has no ${t} namespace of its own (it has: ${record.types.join(', ')})`);
    }
  }
  const proc = new ProcFs(options.procRoot);
  const state = holderState(record, options);
  if (state === 'reused') throw new HolderReusedError(record.name, record.holder.pid);
  if (state === 'dead') throw deadError(record);
  const via = state === 'running' ? 'holder' : 'pins';
  const ordered = NS_TYPES.map((i) => i.name).filter((t) => types.includes(t));
  const opened: OpenNsFile[] = [];
  const closeAll = (): void => {
    for (const f of opened.splice(0)) closeSync(f.fd);
  };
  try {
    for (const type of ordered) {
      const path = via === 'holder' ? proc.path(record.holder.pid, 'ns', nsTypeInfo(type).procEntry) : record.pins[type];
      if (path === undefined) {
        throw new NsmError(`environment ${record.name}: its holder PID ${record.holder.pid} has exited and its ${type} namespace is not pinned`, {
          hint: `nsm exec -t ${livePins(record, options).join(',')} ${record.name} ... joins the pinned ones`,
        });
      }
      try {
        opened.push(openNsFile(path));
      } catch (err) {
        // The holder exited after holderState() looked: dead now (or reused, which the next call reports).
        if (via === 'holder' && hasErrno(err, 'ENOENT', 'ESRCH')) throw deadError(record);
        if (hasErrno(err, 'EACCES', 'EPERM')) {
          throw new SysError('open', (err as SysError).errno, path, {
            hint: `environment ${record.name} belongs to uid ${record.creatorUid}: enter it as that user or as root`,
          });
        }
        throw err;
      }
    }
    if (via === 'holder') {
      const after = holderLiveness(proc, record.holder);
      if (after === 'gone') throw deadError(record);
      if (after === 'other') throw new HolderReusedError(record.name, record.holder.pid);
    }
    const nsfs = nsfsDevice(options.procRoot);
    for (const [i, f] of opened.entries()) {
      const type = ordered[i]!;
      // NS_GET_ID where recorded and the kernel answers: an inode alone may have been reused.
      const recordedId = record.ids?.[type];
      const idNow = recordedId === undefined ? undefined : nsIdOfFd(f.fd);
      if (f.dev !== nsfs || f.ino !== record.namespaces[type] || (idNow !== undefined && idNow !== recordedId)) {
        if (via === 'holder') throw new HolderReusedError(record.name, record.holder.pid);
        throw new NsmError(`environment ${record.name}: pin ${f.path} no longer holds its ${type} namespace`, { hint: 'run nsm gc' });
      }
    }
    if (options.stateDirOwner !== undefined) checkOwnedNamespaces(record, opened, ordered, options.stateDirOwner);
  } catch (err) {
    closeAll();
    throw err;
  }
  const namespaces = opened.map((f, i) => ({ type: ordered[i]!, fd: f.fd, inode: f.ino, path: f.path }));
  return { namespaces, via, close: closeAll };
}

/**
 * Root acting on user `uid`'s environment: its namespaces must be that user's, or a record the
 * user wrote could point root's destroy at any process and its pid namespace (the host's
 * included) and root's exec at any namespaces. The environment's user namespace was created
 * by `uid` (NS_GET_OWNER_UID), and every other namespace is owned by it (NS_GET_USERNS):
 * what a rootless create makes (ioctl_ns(2)). Checked on the open fds, so on what is joined.
 */
function checkOwnedNamespaces(record: EnvRecord, opened: readonly OpenNsFile[], ordered: readonly NsType[], uid: number): void {
  const refuse = (why: string): never => {
    throw new NsmError(`refusing environment ${record.name} of uid ${uid}: ${why}`, { hint: `uid ${uid} can enter or destroy it; root does so only in that user's namespaces` });
  };
  const userAt = ordered.indexOf('user');
  if (userAt < 0) refuse('its user namespace is not among those opened');
  const user = opened[userAt]!;
  const userRel = nsRelations(`/proc/self/fd/${user.fd}`);
  if (userRel.ownerUid !== uid) refuse(`its user namespace ${user.ino} was created by uid ${userRel.ownerUid ?? '?'}`);
  for (const [i, f] of opened.entries()) {
    if (i === userAt) continue;
    const owner = nsRelations(`/proc/self/fd/${f.fd}`).owner;
    if (owner !== user.ino) refuse(`its ${ordered[i]} namespace ${f.ino} is not owned by its user namespace ${user.ino}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Reservation (create)

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

function existsError(name: string, record: EnvRecord, state: HolderState): EnvironmentExistsError {
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
function acquireOrExplain(name: string, layout: Layout, options: RegistryOptions): FileLock {
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

function unreadableError(name: string, envDir: string, message: string): NsmError {
  return new NsmError(`record of environment ${name} is unreadable: ${message}`, {
    hint: `inspect ${join(envDir, RECORD_FILE)}; remove ${envDir} by hand once its holder is gone`,
  });
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

// ---------------------------------------------------------------------------------------------
// Reading, locking, listing

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

/** The message of an error met while reading a user-writable state directory (for a warning). */
function problemMessage(err: unknown, call: string, path: string): string {
  if (err instanceof NsmError) return err.message;
  if (errnoOf(err) !== undefined) return SysError.fromNode(err, call, path).message;
  throw err;
}

export interface EnvironmentListing {
  /** Sorted by name (then owner). */
  environments: ListedEnvironment[];
  creating: CreatingEnvironment[];
  /** Records nsm could not read (corrupt, from a newer nsm, unsafe directory). */
  problems: RegistryProblem[];
}

export interface ListEnvironmentsOptions extends RegistryOptions {
  /**
   * As root, also list other users' environments from their state directories
   * (/run/user/UID/nsm and /tmp/nsm-UID, each checked to belong to that UID). Default: true
   * for root unless a state directory is given (option or NSM_STATE_DIR).
   */
  allUsers?: boolean;
}

/** The record and state of `name`, or undefined when there is none. No lock taken. */
export function findEnvironment(name: string, options: RegistryOptions = {}): ListedEnvironment | undefined {
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
  return { name, dir, record: entry.record, state: holderState(entry.record, options), ...(stateDirOwner !== undefined ? { stateDirOwner } : {}) };
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
  remove(): Partial<GcRemoved>;
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
        release: () => held.release(),
      };
    } catch (err) {
      held.removeAndRelease();
      throw err;
    }
  });
}

/**
 * Other users' state directories root may list and act on: /run/user/UID/nsm and
 * /tmp/nsm-UID (where a user's nsm keeps its records), each only when it belongs to that UID
 * alone. `own` (the caller's) is left out.
 */
export function otherUsersStateDirs(own: string = ownLocation().stateDir): Array<Required<EnvironmentLocation>> {
  const dirs: Array<Required<EnvironmentLocation>> = [];
  const candidates: Array<[string, number]> = [];
  const tmp = usersTmpDir();
  const runUser = ['/run/user', (e: string) => (/^[0-9]+$/.test(e) ? Number(e) : undefined)] as const;
  const tmpNsm = [tmp, (e: string) => (/^nsm-[0-9]+$/.test(e) ? Number(e.slice(4)) : undefined)] as const;
  // With NSM_TMPDIR set (usersTmpDir), only there: the users of a test share nothing with the host's.
  for (const [parent, match] of process.env.NSM_TMPDIR ? [tmpNsm] : [runUser, tmpNsm]) {
    let entries: string[];
    try {
      entries = readdirSync(parent);
    } catch {
      continue;
    }
    for (const e of entries) {
      const uid = match(e);
      if (uid === undefined || uid === 0) continue;
      candidates.push([parent === tmp ? join(parent, e) : join(parent, e, 'nsm'), uid]);
    }
  }
  // By uid (then /run/user before /tmp): a stable order for messages and listings.
  candidates.sort((a, b) => a[1] - b[1]);
  for (const [path, uid] of candidates) {
    if (path === own) continue;
    try {
      // Only a directory that belongs to that uid alone is that uid's: a planted one is skipped.
      if (privateDirProblem(path, uid) === undefined) dirs.push({ stateDir: path, stateDirOwner: uid });
    } catch {
      // missing (no nsm state for that user)
    }
  }
  return dirs;
}

interface LoadedRecord {
  name: string;
  dir: string;
  record: EnvRecord;
  stateDirOwner?: number;
}

interface LoadedDir {
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

/**
 * Whether root's listing (and gc) covers other users' state directories too: by default yes,
 * unless a state directory was given (option or NSM_STATE_DIR), which names the one to use.
 */
function listsAllUsers(options: ListEnvironmentsOptions): boolean {
  const explicit = options.stateDir !== undefined || Boolean(process.env.NSM_STATE_DIR);
  return effectiveUid() === 0 && (options.allUsers ?? !explicit);
}

/** Records without their state: what attribution needs (it checks liveness against its scan). */
function loadRecords(options: ListEnvironmentsOptions): LoadedDir {
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
  const loaded = loadRecords(options);
  const environments = loaded.records
    .map(({ name, dir, record, stateDirOwner }) => ({ name, dir, record, state: holderState(record, options), ...(stateDirOwner !== undefined ? { stateDirOwner } : {}) }))
    .sort((a, b) => (a.name === b.name ? a.record.creatorUid - b.record.creatorUid : a.name < b.name ? -1 : 1));
  return { environments, creating: loaded.creating, problems: loaded.problems };
}

/** `nsm ls --json` `environments[]` element (schemaVersion of the enclosing document). */
export interface EnvironmentSummary {
  name: string;
  types: NsType[];
  /** The holder's pid (for a create in progress or interrupted: its holder's, when noted). */
  pid: number | null;
  /**
   * A record's HolderState; creating: a create in progress; interrupted: a create that was
   * killed (destroy or gc undoes what it made); unreadable: a record nsm cannot read.
   */
  state: HolderState | 'creating' | 'interrupted' | 'unreadable';
  createdAt: string | null;
  uid: number;
  namespaces: Partial<Record<NsType, number>>;
  pins: Partial<Record<NsType, string>>;
  netnsLink: string | null;
  /** unreadable: why. */
  message?: string;
}

/**
 * Every entry of a listing as a summary, sorted by name: the environments, then, so that
 * they can be found and cleaned, creates in progress or interrupted and unreadable records.
 */
export function listingSummaries(listing: EnvironmentListing): EnvironmentSummary[] {
  const euid = effectiveUid();
  const empty = { types: [] as NsType[], namespaces: {}, pins: {}, netnsLink: null };
  const others: EnvironmentSummary[] = [
    ...listing.creating.map((c) => ({
      ...empty,
      name: c.name,
      pid: c.holderPid ?? null,
      state: c.interrupted ? ('interrupted' as const) : ('creating' as const),
      createdAt: c.reservedAt ?? null,
      uid: c.stateDirOwner ?? euid,
    })),
    ...listing.problems
      .filter((p) => p.name !== '')
      .map((p) => ({ ...empty, name: p.name, pid: null, state: 'unreadable' as const, createdAt: null, uid: p.stateDirOwner ?? euid, message: p.message })),
  ];
  return [...listing.environments.map(environmentSummary), ...others].sort((a, b) => (a.name === b.name ? a.uid - b.uid : a.name < b.name ? -1 : 1));
}

export function environmentSummary(env: ListedEnvironment): EnvironmentSummary {
  const r = env.record;
  return {
    name: env.name,
    types: r.types,
    pid: r.holder.pid,
    state: env.state,
    createdAt: r.createdAt,
    uid: r.creatorUid,
    namespaces: r.namespaces,
    pins: r.pins,
    netnsLink: r.netnsLink ?? null,
  };
}

/**
 * For attribution: inode -> environment name for every namespace a *live* environment
 * recorded. Liveness is judged against `scan` (holder pid + start time in the scan and
 * still in that namespace, or the namespace bind-mounted at the recorded pin), so this
 * reads the records once and makes no further syscalls. A dead environment's inodes may
 * already belong to new namespaces, so they are never attributed.
 */
export function environmentNamesByInode(scan: HostScan, options: ListEnvironmentsOptions = {}): Map<number, string> {
  const result = new Map<number, string>();
  let loaded: LoadedDir;
  try {
    loaded = loadRecords(options);
  } catch (err) {
    // A listing must not fail because the state directory cannot be read; nothing to attribute.
    if (err instanceof NsmError) return result;
    throw err;
  }
  if (loaded.records.length === 0) return result;
  const byInode = new Map<number, Namespace>(scan.namespaces.map((ns) => [ns.inode, ns]));
  for (const { name, record, stateDirOwner } of loaded.records) {
    const holder = scan.processes.get(record.holder.pid);
    const holderLive = holder !== undefined && holder.startTime === record.holder.startTime;
    // A user's record names only that user's namespaces (see userRecordNamesOwn).
    if (stateDirOwner !== undefined && !(holderLive && userRecordNamesOwn(record, holder, stateDirOwner, options))) continue;
    for (const type of record.types) {
      const inode = record.namespaces[type]!;
      const ns = byInode.get(inode);
      if (!ns || ns.type !== type) continue;
      // Pins are root's (a user's nsm makes none): a user's record naming one is not believed.
      const pinned = stateDirOwner === undefined && ns.mounts.some((m) => m.path === record.pins[type]);
      const held = (holderLive && holder.ns[type] === inode) || pinned;
      if (held) result.set(inode, name);
    }
  }
  return result;
}

/**
 * Whether a record from user `uid`'s directory, whose holder `holder` is live, names that
 * user's own namespaces: the holder runs as `uid`, its user namespace is the recorded one and
 * was created by `uid`, and every other namespace it has of the record's types is owned by it
 * (ioctl_ns(2) NS_GET_OWNER_UID, NS_GET_USERNS), as a rootless create makes them. Otherwise
 * the user could have root's listing call root's (or the host's) namespaces nsm:ANYTHING.
 */
function userRecordNamesOwn(record: EnvRecord, holder: { pid: number; uid: number; ns: Partial<Record<NsType, number>> }, uid: number, options: RegistryOptions): boolean {
  const userNs = record.namespaces.user;
  if (holder.uid !== uid || userNs === undefined || holder.ns.user !== userNs) return false;
  const proc = new ProcFs(options.procRoot);
  try {
    if (nsRelations(proc.path(holder.pid, 'ns', nsTypeInfo('user').procEntry)).ownerUid !== uid) return false;
    for (const type of record.types) {
      if (type === 'user') continue;
      if (nsRelations(proc.path(holder.pid, 'ns', nsTypeInfo(type).procEntry)).owner !== userNs) return false;
    }
  } catch {
    return false; // gone meanwhile, or not ours to look at: not attributed
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Garbage collection

/** Why root must not undo `progress` found in the directory of user `uid` (as foreignRecordProblem). */
function foreignProgressProblem(progress: CreateProgress, uid: number, options: RegistryOptions): string | undefined {
  if (progress.netnsLink !== undefined || progress.options?.veth !== undefined) return 'it notes a /run/netns link or a veth, which only root can make';
  const holder = progress.holder;
  if (holder) {
    let realUid: number | undefined;
    try {
      realUid = new ProcFs(options.procRoot).readStatus(holder.pid).uid[0];
    } catch {
      // gone: nothing to stop
    }
    if (realUid !== undefined && realUid !== uid) return `its holder PID ${holder.pid} runs as uid ${realUid}`;
  }
  const limits = progress.options?.limits as { cgroups?: Array<{ dir: string }> } | undefined;
  return cgroupOwnerProblem(limits?.cgroups ?? [], uid);
}

/** How long undoInterruptedCreate() waits for a killed holder to leave its cgroups. */
const HOLDER_EXIT_WAIT_MS = 2000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Undo what a create killed half-way had made (its CreateProgress): SIGKILL its holder if it
 * is still that process (start time checked), then remove its NAT rules, cgroups and
 * /run/netns link (only if the link still names its net namespace). The veth pair needs
 * nothing: it went with the holder's net namespace (veth(4)). Pins are below the
 * environment's directory, which the caller removes. Throws NsmError when something stays.
 */
function undoInterruptedCreate(reservation: ReservationRecord | undefined, options: RegistryOptions, stateDirOwner?: number): Partial<GcRemoved> {
  const progress = reservation?.progress;
  if (!progress) return {};
  if (stateDirOwner !== undefined) {
    // Root in a user's directory: the user wrote this file, and could have named anyone's
    // process or cgroup in it. (kill(2) as that user is no guard: seteuid keeps real uid 0.)
    const problem = foreignProgressProblem(progress, stateDirOwner, options);
    if (problem) {
      throw new NsmError(`refusing the reservation of ${reservation!.name} of uid ${stateDirOwner}: ${problem}`, {
        hint: `uid ${stateDirOwner} can remove it`,
      });
    }
  }
  const out: Partial<GcRemoved> = {};
  const holder = progress.holder;
  if (holder && isAlive(holder)) {
    try {
      process.kill(holder.pid, 'SIGKILL'); // PID 1 of its pid namespace: SIGKILL from outside works
      out.holderStopped = holder.pid;
    } catch (err) {
      if (!hasErrno(err, 'ESRCH')) throw SysError.fromNode(err, 'kill', `PID ${holder.pid}`);
    }
    // Its cgroups empty once it has exited (a zombie has left them: cgroups(7)).
    const until = Date.now() + HOLDER_EXIT_WAIT_MS;
    while (isAlive(holder) && Date.now() < until) sleepSync(10);
  }
  const partial = partialRecord(reservation!);
  const released = releaseResourcesNow(partial);
  if (released.nat) out.nat = true;
  if (released.cgroups.length > 0) out.cgroups = released.cgroups;
  if (removeNetnsLink(partial, options)) out.netnsLink = progress.netnsLink;
  if (released.failures.length > 0) throw new NsmError(released.failures.join('; '));
  return out;
}


/** What a killed create noted, as a record for releaseResourcesNow() and removeNetnsLink(). */
function partialRecord(reservation: ReservationRecord): EnvRecord {
  const progress = reservation.progress ?? {};
  return {
    name: reservation.name,
    namespaces: progress.namespaces ?? {},
    options: progress.options ?? {},
    ...(progress.netnsLink ? { netnsLink: progress.netnsLink } : {}),
  } as EnvRecord;
}

/** Whether the record's /run/netns link is there and names its net namespace. */
function netnsLinkIsOurs(record: EnvRecord, options: Pick<RegistryOptions, 'procRoot'>): boolean {
  if (!record.netnsLink) return false;
  const id = statNsFile(record.netnsLink);
  return id !== undefined && id.dev === nsfsDevice(options.procRoot) && id.ino === record.namespaces.net;
}

/**
 * Remove the /run/netns/NAME link of a record if it still refers to the recorded net
 * namespace: detach the bind mount, then unlink. A link that now names another namespace
 * (someone's `ip netns add` of the same name) is left alone. Returns true if removed.
 */
export function removeNetnsLink(record: EnvRecord, options: Pick<RegistryOptions, 'procRoot'> = {}): boolean {
  const link = record.netnsLink;
  if (!link || !netnsLinkIsOurs(record, options)) return false;
  umount2(link, MNT_DETACH);
  try {
    unlinkSync(link);
  } catch (err) {
    if (!hasErrno(err, 'ENOENT')) throw SysError.fromNode(err, 'unlink', link);
  }
  return true;
}

/**
 * Detach the pins of `record` that still hold its namespaces, leaving the record: destroy
 * removes the record only after everything it notes is gone. Returns the pins detached.
 */
export function unmountPins(record: EnvRecord, options: Pick<RegistryOptions, 'procRoot'> = {}): string[] {
  const detached: string[] = [];
  for (const type of livePins(record, options)) {
    const pin = record.pins[type]!;
    umount2(pin, MNT_DETACH);
    detached.push(pin);
  }
  return detached;
}

export interface GcRemoved {
  name: string;
  /** dead/reused: holder gone and no pins; stale-reservation: a creator died before committing. */
  reason: 'dead' | 'reused' | 'stale-reservation';
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
  /** Root's gc: the user whose state directory it was in, when not root's own. */
  uid?: number;
}

export interface GcKept {
  name: string;
  reason: 'busy' | 'unreadable' | 'failed';
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
    const partial = partialRecord(reservation!);
    const planned = plannedRelease(partial, true);
    if (planned.nat) removed.nat = true;
    if (planned.cgroups.length > 0) removed.cgroups = planned.cgroups;
    if (netnsLinkIsOurs(partial, options)) removed.netnsLink = progress.netnsLink;
  }
  return { removed };
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
