/**
 * Holder identity and verified opens: whether an environment's holder (pid + start time) is
 * still the process the record names, and opening its namespace files so that a holder that
 * died and whose pid was reused cannot lead anyone into a stranger's namespaces.
 */
import { closeSync } from 'node:fs';
import { EXIT_NSM_FAILED, hasErrno, NsmError, SysError, UsageError } from '../../sys/errors.js';
import { nsIdOfFd } from '../../sys/libc.js';
import { nsfsDevice, openNsFile, statNsFile, type OpenNsFile } from '../../sys/nsfile.js';
import { NS_TYPES, nsTypeInfo, type NsType } from '../../sys/nstypes.js';
import { ProcFs } from '../../sys/procfs.js';
import type { EnvRecord, ProcessIdentity } from '../record.js';
import type { RegistryOptions } from './layout.js';
import { checkOwnedNamespaces } from './trust.js';

/**
 * running: the holder (pid + start time) is alive.
 * dead:    the holder is gone and no pin holds a namespace.
 * reused:  a different live process has the holder's pid now (its start time differs).
 * pinned:  the holder is gone (or its pid reused) but pins still hold the namespaces.
 * held:    destroyed, but something else still held its namespaces then (EnvRecord.destroyed):
 *          the record stays for destroy --force and gc (src/core/held.ts).
 */
export type HolderState = 'running' | 'dead' | 'reused' | 'pinned' | 'held';


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
export function holderLiveness(proc: ProcFs, holder: ProcessIdentity): 'same' | 'gone' | 'other' {
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
  if (record.destroyed) return 'held';
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
  /** With `idsAtJoin`: the recorded NS_GET_ID, which whoever joins must check (the helper does). */
  id?: number;
}

/** Options of openVerified and openNamespaces. */
export type OpenNamespacesOptions = Pick<RegistryOptions, 'procRoot' | 'stateDirOwner'> & {
  /**
   * Leave the NS_GET_ID comparison to the join (native/helper-run.c check_ns_fd): each
   * namespace carries its recorded ID instead. nsm exec's own process then needs no ioctl,
   * so no koffi (bench/RESULTS.md).
   */
  idsAtJoin?: boolean;
};

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

/** The refusal to join (or look into) an environment that was destroyed but is still held. */
export function heldError(record: EnvRecord): NsmError {
  return new NsmError(`environment ${record.name} was destroyed: its holder is gone, but something still holds its namespaces`, {
    hint: `nsm destroy ${record.name} says what, and nsm destroy --force ${record.name} ends the processes among it`,
  });
}

function deadError(record: EnvRecord): NsmError {
  return new NsmError(`environment ${record.name} is dead: its holder PID ${record.holder.pid} has exited`, {
    hint: `run nsm gc, or nsm create ${record.name} to make it again`,
  });
}

/** An environment's holder state and, while it runs or is pinned, its namespaces open and verified. */
export type OpenedNamespaces =
  | { state: 'running' | 'pinned'; verified: VerifiedNamespaces }
  | { state: 'dead' | 'reused' | 'held'; verified?: undefined };

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
  options: OpenNamespacesOptions = {},
): VerifiedNamespaces {
  for (const t of types) {
    if (!record.types.includes(t)) {
      throw new UsageError(`environment ${record.name} has no ${t} namespace of its own (it has: ${record.types.join(', ')})`);
    }
  }
  const opened = openNamespaces(record, types, options);
  if (opened.verified) return opened.verified;
  if (opened.state === 'held') throw heldError(record);
  throw opened.state === 'reused' ? new HolderReusedError(record.name, record.holder.pid) : deadError(record);
}

/**
 * The holder state of `record`, judged from one read of the holder's /proc/PID/stat, and
 * (running or pinned) its namespaces open and verified as openVerified() does: `types`
 * through the live holder, or through the pins (`types`, default the live pins) once it is
 * gone. Dead or reused: nothing is opened and nothing thrown. For destroy, which acts on
 * every state.
 */
export function openNamespaces(
  record: EnvRecord,
  types: readonly NsType[] | undefined,
  options: OpenNamespacesOptions = {},
): OpenedNamespaces {
  // Its holder was ended by the destroy that marked it: src/core/held.ts opens what is left.
  if (record.destroyed) return { state: 'held' };
  const proc = new ProcFs(options.procRoot);
  const ordered = (wanted: readonly NsType[]) => NS_TYPES.map((i) => i.name).filter((t) => wanted.includes(t));
  // Through the holder first: the fds are opened before its start time is read, so the one
  // read of /proc/PID/stat below is the check against pid reuse (see openVerified).
  const viaHolder = ordered(types ?? record.types);
  const opened: OpenNsFile[] = [];
  let openError: unknown;
  for (const type of viaHolder) {
    try {
      opened.push(openNsFile(proc.path(record.holder.pid, 'ns', nsTypeInfo(type).procEntry)));
    } catch (err) {
      openError = err;
      break;
    }
  }
  let liveness: ReturnType<typeof holderLiveness>;
  try {
    liveness = holderLiveness(proc, record.holder);
  } catch (err) {
    closeFiles(opened);
    throw err;
  }
  if (liveness === 'same') {
    if (openError !== undefined) {
      closeFiles(opened);
      const path = proc.path(record.holder.pid, 'ns', nsTypeInfo(viaHolder[opened.length]!).procEntry);
      // It exited between the open and the read of its stat (a zombie's ns files are gone).
      if (hasErrno(openError, 'ENOENT', 'ESRCH')) throw deadError(record);
      throw accessError(record, openError, path);
    }
    return { state: 'running', verified: verify(record, opened, viaHolder, 'holder', options) };
  }
  closeFiles(opened);
  const pins = livePins(record, options);
  if (pins.length === 0) return { state: liveness === 'other' ? 'reused' : 'dead' };
  const viaPins = ordered(types ?? pins);
  try {
    for (const type of viaPins) {
      const path = record.pins[type];
      if (path === undefined) {
        throw new NsmError(`environment ${record.name}: its holder PID ${record.holder.pid} has exited and its ${type} namespace is not pinned`, {
          hint: `nsm exec -t ${pins.join(',')} ${record.name} ... joins the pinned ones`,
        });
      }
      try {
        opened.push(openNsFile(path));
      } catch (err) {
        throw accessError(record, err, path);
      }
    }
  } catch (err) {
    closeFiles(opened);
    throw err;
  }
  return { state: 'pinned', verified: verify(record, opened, viaPins, 'pins', options) };
}

function closeFiles(files: OpenNsFile[]): void {
  for (const f of files.splice(0)) closeSync(f.fd);
}

/** A refused open of a namespace file says whose the environment is; other errors pass. */
function accessError(record: EnvRecord, err: unknown, path: string): unknown {
  if (!hasErrno(err, 'EACCES', 'EPERM')) return err;
  return new SysError('open', (err as SysError).errno, path, {
    hint: `environment ${record.name} belongs to uid ${record.creatorUid}: enter it as that user or as root`,
  });
}

/** Compare the open files' inodes with the record (and, for root in a user's directory, their owner). */
function verify(
  record: EnvRecord,
  opened: OpenNsFile[],
  ordered: readonly NsType[],
  via: 'holder' | 'pins',
  options: OpenNamespacesOptions,
): VerifiedNamespaces {
  try {
    const nsfs = nsfsDevice(options.procRoot);
    for (const [i, f] of opened.entries()) {
      const type = ordered[i]!;
      // NS_GET_ID where recorded and the kernel answers: an inode alone may have been reused.
      const recordedId = record.ids?.[type];
      const idNow = recordedId === undefined || options.idsAtJoin ? undefined : nsIdOfFd(f.fd);
      if (f.dev !== nsfs || f.ino !== record.namespaces[type] || (idNow !== undefined && idNow !== recordedId)) {
        if (via === 'holder') throw new HolderReusedError(record.name, record.holder.pid);
        throw new NsmError(`environment ${record.name}: pin ${f.path} no longer holds its ${type} namespace`, { hint: 'run nsm gc' });
      }
    }
    if (options.stateDirOwner !== undefined) checkOwnedNamespaces(record, opened, ordered, options.stateDirOwner);
  } catch (err) {
    closeFiles(opened);
    throw err;
  }
  const namespaces = opened.map((f, i) => {
    const id = options.idsAtJoin ? record.ids?.[ordered[i]!] : undefined;
    return { type: ordered[i]!, fd: f.fd, inode: f.ino, path: f.path, ...(id !== undefined ? { id } : {}) };
  });
  return { namespaces, via, close: () => closeFiles(opened) };
}
