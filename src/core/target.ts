/**
 * What `exec`, `enter`, `inspect`, `diff` and `ps -p` point at: a "target", one grammar for all:
 *
 *   NAME | env:NAME     an nsm environment (its holder: PID 1 of its pid namespace)
 *   PID  | pid:PID      a process (an all-digit word is always a PID)
 *   netns:NAME          /run/netns/NAME, as ip-netns(8) names it: one namespace
 *   /PATH               a namespace file (/run/netns/X, /proc/PID/ns/TYPE, a pin, any nsfs
 *                       bind mount): that one namespace, its type read from the file
 *
 * resolveTarget() finds the process a target stands for (what inspect, diff and ps read);
 * openTarget() opens its namespace files and checks them (what exec and enter join).
 */
import { closeSync, existsSync } from 'node:fs';
import { echoInput, errnoOf, errnoText, EXIT_NSM_FAILED, hasErrno, NsmError, UsageError } from '../sys/errors.js';
import { nsTypeOfFd } from '../sys/libc.js';
import { closeFds, nsfsDevice, openNsFile } from '../sys/nsfile.js';
import { NS_TYPES, type NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import { resolveEnvironment } from './environments.js';
import { OWNER_KINDS } from './owner-kinds.js';
import { ENV_NAME_PATTERN } from './record.js';
import { resolveScanned } from './target-scan.js';
import type { JoinNamespace } from './join.js';
import { HolderReusedError } from './registry/holder.js';
import type { RegistryOptions } from './registry/layout.js';

/** A target as the user wrote it, checked for syntax only. */
export type TargetSpec =
  /** `via`: the owner form it was found from (docker:web), for messages. */
  | { kind: 'pid'; pid: number; via?: string }
  | { kind: 'env'; name: string }
  /** One namespace file; `netns` when written netns:NAME; `inode` when it must be that namespace (ns:INODE). */
  | { kind: 'file'; path: string; netns?: string; inode?: number; via?: string }
  /** ns:INODE or nsid:ID: found by a scan (src/core/target-scan.ts). */
  | { kind: 'ns'; inode?: number; id?: number; text: string }
  /** An owner as `ls --owner` prints it (docker:web, kubernetes:NS/POD): found by a scan. */
  | { kind: 'owner'; owner: string; name: string; text: string };

/** A target resolved to a live process. */
export interface Target {
  spec: TargetSpec;
  pid: number;
  /** Start time (stat field 22): with pid, identifies the process across PID reuse. */
  startTime: number;
  /** How to name it in messages and output: "PID 1234", "environment web (holder PID 1234)". */
  label: string;
  /** The environment's name when the target was one. */
  env?: string;
}

/** Largest pid the kernel hands out (pid_max may be raised to 2^22, proc(5)). */
const PID_MAX_LIMIT = 4194304;

/** Where ip-netns(8) keeps its named network namespaces. */
export const NETNS_DIR = '/run/netns';

/**
 * Parse a target argument (the grammar above); anything else is a usage error (exit 2).
 * With `anyName`, a word of no other form is an environment name left for the registry to
 * judge (exec and enter: their "invalid environment name" refusal, exit 125, as before).
 */
export function parseTarget(text: string, anyName = false): TargetSpec {
  const pid = /^(?:pid:)?([0-9]+)$/.exec(text);
  if (pid) {
    if (!/^[1-9][0-9]{0,9}$/.test(pid[1]!) || Number(pid[1]) > PID_MAX_LIMIT) throw new UsageError(`not a process id: ${echoInput(text)}`);
    return { kind: 'pid', pid: Number(pid[1]) };
  }
  if (text.startsWith('pid:')) throw new UsageError(`not a process id: ${echoInput(text)}`);
  if (text.startsWith('env:')) {
    const name = text.slice(4);
    if (!ENV_NAME_PATTERN.test(name)) throw new UsageError(`not an environment name: ${echoInput(text)}`);
    return { kind: 'env', name };
  }
  const ns = /^(ns|nsid):([0-9]+)$/.exec(text);
  if (ns) return ns[1] === 'ns' ? { kind: 'ns', inode: Number(ns[2]), text } : { kind: 'ns', id: Number(ns[2]), text };
  const owner = /^([a-z][a-z-]*):(.+)$/.exec(text);
  if (owner && OWNER_KINDS.includes(owner[1]!) && owner[1] !== 'netns' && owner[1] !== 'nsm') return { kind: 'owner', owner: owner[1]!, name: owner[2]!, text };
  if (text.startsWith('netns:')) {
    const name = text.slice(6);
    // ip-netns(8) names are file names in /run/netns.
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new UsageError(`not an ip netns name: ${echoInput(text)}`);
    return { kind: 'file', path: `${NETNS_DIR}/${name}`, netns: name };
  }
  // Absolute only: a relative word with a slash stays a bad name (as before).
  if (text.startsWith('/')) return { kind: 'file', path: text };
  if (!anyName && !ENV_NAME_PATTERN.test(text)) throw new UsageError(`not a process id or an environment name: ${echoInput(text)}`);
  return { kind: 'env', name: text };
}

/** A pid, environment or file target: scan-found forms (ns:, nsid:, owners) resolved. */
export type ConcreteSpec = Exclude<TargetSpec, { kind: 'ns' | 'owner' }>;

export function concrete(spec: TargetSpec): ConcreteSpec {
  return spec.kind === 'ns' || spec.kind === 'owner' ? resolveScanned(spec) : spec;
}

/** How a target is named in messages. */
export function targetLabel(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'pid':
      return spec.via !== undefined ? `${spec.via} (PID ${spec.pid})` : `PID ${spec.pid}`;
    case 'ns':
    case 'owner':
      return spec.text;
    case 'env':
      return `environment ${spec.name}`;
    case 'file':
      return spec.via ?? (spec.netns !== undefined ? `netns:${spec.netns}` : spec.path);
  }
}

/**
 * Resolve a target to a live process. A pid that does not exist, or whose /proc entry
 * we may not read, is a one-line runtime error (exit 1). An environment resolves to its
 * holder while that runs; a dead or pinned one (no holder) is an error, and so is one whose
 * holder pid now belongs to another process (with the same words as exec's refusal).
 */
export function resolveTarget(given: TargetSpec, procfs: ProcFs = new ProcFs(), registry: RegistryOptions = {}): Target {
  const spec = concrete(given);
  if (spec.kind === 'env') return resolveEnvironmentTarget(spec, registry);
  if (spec.kind === 'file') throw new NsmError(`${targetLabel(spec)} is one namespace, not a process: there is no process to look at`, { hint: 'nsm exec and nsm ps -p take it' });
  const label = targetLabel(spec);
  try {
    const stat = procfs.readStat(spec.pid);
    return { spec, pid: spec.pid, startTime: stat.startTime, label };
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ESRCH')) throw new NsmError(`${label}: no such process`);
    if (hasErrno(err, 'EACCES', 'EPERM')) throw new NsmError(`${label}: permission denied`, { hint: accessHint() });
    throw err;
  }
}

function resolveEnvironmentTarget(spec: { kind: 'env'; name: string }, registry: RegistryOptions): Target {
  const env = resolveEnvironment(spec.name, registry);
  const { pid, startTime } = env.record.holder;
  switch (env.state) {
    case 'running':
      return { spec, pid, startTime, label: `environment ${spec.name} (holder PID ${pid})`, env: spec.name };
    case 'reused': {
      // The refusal exec gives (there with exit 125); here an ordinary failure, exit 1.
      const refusal = new HolderReusedError(spec.name, pid);
      throw new NsmError(refusal.message, { hint: refusal.hint });
    }
    default:
      throw new NsmError(`environment ${spec.name} has no running holder (it is ${env.state}): there is no process to look at`, {
        hint: env.state === 'pinned' ? 'its pinned namespaces are listed by: nsm ls -o +NSFS' : `run nsm gc, or nsm create ${spec.name}`,
      });
  }
}

/** One /proc/PID/ns entry of a target, or why it could not be read. */
export interface EntryReading<E extends string = string> {
  entry: E;
  type: NsType;
  inode?: number;
  /** Errno name when the link could not be read. */
  error?: string;
}

/**
 * Read /proc/PID/ns entries of a target. One unreadable entry (a kernel without that type:
 * ENOENT; a zombie; not permitted: EACCES) is reported in that entry; none readable at all
 * is a one-line error, exit 1.
 */
export function readTargetNamespaces<E extends string>(
  target: Target,
  entries: ReadonlyArray<{ entry: E; type: NsType }>,
  procfs: ProcFs = new ProcFs(),
): Array<EntryReading<E>> {
  const readings = entries.map(({ entry, type }): EntryReading<E> => {
    try {
      return { entry, type, inode: procfs.readNsEntry(target.pid, entry)?.inode };
    } catch (err) {
      if (!hasErrno(err, 'ENOENT', 'ESRCH', 'EACCES', 'EPERM')) throw err;
      return { entry, type, error: errnoOf(err) };
    }
  });
  if (readings.length > 0 && readings.every((r) => r.inode === undefined)) {
    const errno = readings[0]!.error ?? 'EIO';
    if (errno === 'ENOENT' || errno === 'ESRCH') {
      // A zombie keeps its /proc entry but has left its namespaces (proc(5)).
      if (isZombie(procfs, target.pid)) throw new NsmError(`${target.label}: a zombie (exited, not yet reaped): it has left these namespaces`);
      throw new NsmError(`${target.label}: no such process`);
    }
    throw new NsmError(`${target.label}: cannot read its namespaces: ${errno}: ${errnoText(errno)}`, { hint: accessHint() });
  }
  return readings;
}

function isZombie(procfs: ProcFs, pid: number): boolean {
  try {
    return procfs.readStat(pid).state === 'Z';
  } catch {
    return false;
  }
}

/**
 * /proc/PID/ns links need ptrace read access to the process (proc(5)): another user's
 * process needs root; a few (a sandbox's init) refuse even root.
 */
function accessHint(): string {
  return process.geteuid?.() === 0
    ? 'the process denies ptrace read access to its /proc entries, even to root (proc(5))'
    : "run nsm as root to see other users' processes";
}

/** A target's namespaces, open and checked: what exec and enter join. */
export interface OpenedTarget {
  spec: TargetSpec;
  label: string;
  /** The process, for a process target; with startTime, checked after the files were opened. */
  pid?: number;
  startTime?: number;
  /** Every namespace of the target that could be opened (of the types asked for), in NS_TYPES order. */
  namespaces: JoinNamespace[];
  close(): void;
}

export interface OpenTargetOptions {
  /** Only these types (default: all the kernel has). */
  types?: readonly NsType[];
  procfs?: ProcFs;
  /** The caller joins through nsm-helper, which checks each fd's type: netns:NAME is then taken as net unasked. */
  joinChecksType?: boolean;
}

/**
 * Open the namespace files of a process or file target, checked so that what is joined is
 * what was named (errors exit 125: exec's own failures):
 * - a process: /proc/PID/ns/TYPE opened, then /proc/PID/stat read again: a process that
 *   exited, or whose pid was reused, since the first read is refused (the fds would name a
 *   stranger's namespaces). Another user's process: EACCES (ptrace access mode, proc(5)).
 * - a file: opened, fstat() on the nsfs device, its type from NS_GET_NSTYPE (ioctl_ns(2)).
 * Environments are opened by openEnvironment (src/core/environments.ts), against their record.
 */
export function openTarget(given: TargetSpec, options: OpenTargetOptions = {}): OpenedTarget {
  const spec = concrete(given);
  if (spec.kind === 'env') throw new NsmError('openTarget: environments are opened by openEnvironment', { exitCode: EXIT_NSM_FAILED });
  return spec.kind === 'pid' ? openProcessTarget(spec, options) : openFileTarget(spec, options);
}

/** openTarget for the commands that run nothing (ls, ps, inspect): its refusals exit 1 there, not exec's 125. */
export function openTargetToRead(given: TargetSpec, options: OpenTargetOptions = {}): OpenedTarget {
  try {
    return openTarget(given, options);
  } catch (err) {
    if (err instanceof NsmError && err.exitCode === EXIT_NSM_FAILED) throw new NsmError(err.message, { hint: err.hint });
    throw err;
  }
}

/** The label and inode of the namespace a file target names (`type`: the one it must be), opened and closed again; refusals exit 1. */
export function namespaceFileOf(spec: TargetSpec, type?: NsType): { label: string; inode: number } {
  const opened = openTargetToRead(spec, type ? { types: [type] } : {});
  try {
    return { label: opened.label, inode: opened.namespaces[0]!.inode };
  } finally {
    opened.close();
  }
}

function closeAll(namespaces: readonly JoinNamespace[]): void {
  closeFds(namespaces.map((n) => n.fd));
}

function openProcessTarget(spec: TargetSpec & { kind: 'pid' }, options: OpenTargetOptions): OpenedTarget {
  const procfs = options.procfs ?? new ProcFs();
  const label = targetLabel(spec);
  const fail = (message: string, hint?: string): NsmError => new NsmError(`${label}: ${message}`, { exitCode: EXIT_NSM_FAILED, hint });
  const readStart = (): number | undefined => {
    try {
      const stat = procfs.readStat(spec.pid);
      // A zombie keeps its /proc entry but has left its namespaces (proc(5)).
      return stat.state === 'Z' ? undefined : stat.startTime;
    } catch (err) {
      if (hasErrno(err, 'ENOENT', 'ESRCH')) return undefined;
      if (hasErrno(err, 'EACCES', 'EPERM')) throw fail('permission denied', accessHint());
      throw err;
    }
  };
  const startTime = readStart();
  if (startTime === undefined) throw fail('no such process');
  const namespaces: JoinNamespace[] = [];
  try {
    for (const info of NS_TYPES) {
      if (options.types && !options.types.includes(info.name)) continue;
      let file;
      try {
        file = openNsFile(procfs.path(spec.pid, 'ns', info.procEntry));
      } catch (err) {
        // A kernel without this type has no entry: skip it unless it was asked for.
        if (hasErrno(err, 'ENOENT') && !options.types && existsSync(procfs.path(spec.pid))) continue;
        if (hasErrno(err, 'ENOENT', 'ESRCH')) throw fail(`exited while nsm opened its namespaces: nothing joined`);
        if (hasErrno(err, 'EACCES', 'EPERM'))
          throw fail(`permission denied: its namespaces are another user's (ptrace access, proc(5))`);
        throw err;
      }
      namespaces.push({ type: info.name, fd: file.fd, inode: file.ino });
    }
    // The check that matters: the same process after the files are open, so the fds name its namespaces.
    if (readStart() !== startTime) throw fail('exited (or its pid was reused) while nsm opened its namespaces: nothing joined');
    if (namespaces.length === 0) throw fail('none of its namespaces could be opened');
  } catch (err) {
    closeAll(namespaces);
    throw err;
  }
  return { spec, label, pid: spec.pid, startTime, namespaces, close: () => closeAll(namespaces) };
}

function openFileTarget(spec: TargetSpec & { kind: 'file' }, options: OpenTargetOptions): OpenedTarget {
  const label = targetLabel(spec);
  const fail = (message: string, hint?: string): NsmError => new NsmError(`${label}: ${message}`, { exitCode: EXIT_NSM_FAILED, hint });
  let file;
  try {
    file = openNsFile(spec.path);
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) throw fail(spec.netns !== undefined ? 'no such ip netns name' : 'no such file', spec.netns !== undefined ? 'ip netns list lists them' : undefined);
    throw fail(`cannot open: ${errnoOf(err) ?? 'error'}: ${errnoText(errnoOf(err) ?? 'EIO')}`);
  }
  const namespaces: JoinNamespace[] = [];
  try {
    // netns:NAME must be a network namespace (ip-netns(8)'s rule). nsm exec leaves that check
    // to the join (the helper's NS_GET_NSTYPE, setns(2) with CLONE_NEWNET): no ioctl, so no
    // koffi, there. Everyone else (adopt records the type and links it in /run/netns) asks.
    const type = file.dev !== nsfsDevice() ? undefined : spec.netns !== undefined && options.joinChecksType ? 'net' : nsTypeOfFd(file.fd);
    if (type === undefined) throw fail('not a namespace file (nsfs: /proc/PID/ns/TYPE or a bind mount of one)');
    if (spec.netns !== undefined && type !== 'net') throw fail(`not a network namespace (a ${type} namespace is mounted there)`);
    // Found by a scan: the holder may have exited and its pid or fd been reused since.
    if (spec.inode !== undefined && file.ino !== spec.inode) throw fail(`its holder ${spec.path} changed while nsm opened it: nothing joined`);
    if (options.types && !options.types.includes(type)) throw new UsageError(`${label} is a ${type} namespace, not ${options.types.join(' or ')}`);
    namespaces.push({ type, fd: file.fd, inode: file.ino });
  } catch (err) {
    closeSync(file.fd);
    throw err;
  }
  return { spec, label, namespaces, close: () => closeAll(namespaces) };
}
