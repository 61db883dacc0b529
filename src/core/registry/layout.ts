/**
 * The state directory: where it is, its layout and who owns it. One record per environment:
 *
 *   <state>/envs/NAME/env.json          the record (EnvRecord), written atomically
 *   <state>/envs/NAME/reservation.json  while NAME is being created: who is creating it
 *   <state>/envs/NAME/...               pins and anything else create puts there
 *   <state>/locks/NAME                  flock(2)ed while NAME is created, destroyed or collected
 *
 * See src/sys/statefs.ts for where it is and why it is safe. As root, other users' state
 * directories are read and changed with that user's ids (inStateDir). Readers (list,
 * attribution) take no lock: records are replaced atomically. Nothing here prints.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf, hasErrno, NsmError, SysError } from '../../sys/errors.js';
import { asUser, effectiveUid, ensurePrivateDir, mkdirIfMissing, privateDirProblem, resolveStateDir, usersTmpDir } from '../../sys/statefs.js';
import { ENV_NAME_PATTERN, parseEnvRecord, parseReservation, type EnvRecord, type ReservationRecord } from '../record.js';

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

export interface ListEnvironmentsOptions extends RegistryOptions {
  /**
   * As root, also list other users' environments from their state directories
   * (/run/user/UID/nsm and /tmp/nsm-UID, each checked to belong to that UID). Default: true
   * for root unless a state directory is given (option or NSM_STATE_DIR).
   */
  allUsers?: boolean;
}

/**
 * Run `fn` (synchronous) on the files of `stateDir`: as `owner` with the directory's group
 * when it is another user's (RegistryOptions.stateDirOwner), else as we are.
 */
export function inStateDir<T>(stateDir: string, owner: number | undefined, fn: () => T): T {
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

export const RECORD_FILE = 'env.json';
export const RESERVATION_FILE = 'reservation.json';

export interface Layout {
  stateDir: string;
  envs: string;
  locks: string;
}

export function layoutOf(stateDir: string): Layout {
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
export function openLayout(stateDir: string, create: boolean, owner?: number): Layout | undefined {
  if (!ensurePrivateDir(stateDir, { create, euid: owner })) return undefined;
  const layout = layoutOf(stateDir);
  if (create) {
    for (const sub of [layout.envs, layout.locks]) mkdirIfMissing(sub, 0o700);
  }
  return layout;
}

/**
 * Whether root's listing (and gc) covers other users' state directories too: by default yes,
 * unless a state directory was given (option or NSM_STATE_DIR), which names the one to use.
 */
export function listsAllUsers(options: ListEnvironmentsOptions): boolean {
  const explicit = options.stateDir !== undefined || Boolean(process.env.NSM_STATE_DIR);
  return effectiveUid() === 0 && (options.allUsers ?? !explicit);
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
export type Entry =
  | { kind: 'absent' }
  | { kind: 'record'; record: EnvRecord }
  | { kind: 'unreadable'; message: string }
  | { kind: 'reservation'; reservation: ReservationRecord | undefined }
  | { kind: 'empty' };

export function inspectEntry(envDir: string): Entry {
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

export function unreadableError(name: string, envDir: string, message: string): NsmError {
  return new NsmError(`record of environment ${name} is unreadable: ${message}`, {
    hint: `inspect ${join(envDir, RECORD_FILE)}; remove ${envDir} by hand once its holder is gone`,
  });
}

/** The message of an error met while reading a user-writable state directory (for a warning). */
export function problemMessage(err: unknown, call: string, path: string): string {
  if (err instanceof NsmError) return err.message;
  if (errnoOf(err) !== undefined) return SysError.fromNode(err, call, path).message;
  throw err;
}
