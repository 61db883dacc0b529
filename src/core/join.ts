/**
 * Joining an environment's namespaces and running a command there, by one of two paths:
 *
 * - native (the default): the helper's join mode (src/sys/helper.ts joinAndExec) checks the
 *   fds, joins and execs the command in place (it forks only for a pid or time namespace,
 *   which setns(2) applies to children only). It can join what a multi-threaded process
 *   cannot: a user namespace (setns(2): EINVAL with more than one thread) and a time
 *   namespace (EUSERS with more than one thread; checked on 6.18). nsm's own process makes
 *   no libc call of its own on this path, so `nsm exec` never loads koffi for it.
 * - in-process (a library caller's choice, `path`): unshare(CLONE_FS), then setns(2) on
 *   Node's main thread for each namespace in nsenter's order, then spawn the command, which
 *   inherits them.
 *
 * Both paths join through file descriptors the caller opened and checked against the
 * record (src/core/registry.ts openVerified), never through a path looked up again.
 *
 * Credentials: setns(2) into anything but a user namespace changes none, so the in-process
 * path runs the command as exactly the caller. Only the native path can change the uid (to
 * 0 of a joined user namespace), and it drops the caller's supplementary groups first, as
 * nsenter(1) does (native/helper-run.c do_join). Root's join of another user's environment
 * always includes that user's namespace (src/core/exec.ts), so always goes that way; and
 * its command never gets root's terminal, only a pty of nsm's (src/sys/pty.ts).
 */
import { statSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { runCommand } from '../sys/command.js';
import { echoInput, errnoOf, EXIT_NSM_FAILED, NsmError, SysError } from '../sys/errors.js';
import { joinAndExec, type JoinOptions, type StdioTarget } from '../sys/helper.js';
import { inheritedFds, noteInheritedFds } from '../sys/inherited-fds.js';
import { nsIdOfFd, setns, unshareFs, userNsOwnerUid } from '../sys/libc.js';
import { NS_TYPES, nsTypeByFlag, type NsType } from '../sys/nstypes.js';
import { hasTerminal, relayTerminal } from '../sys/pty.js';
import { effectiveUid } from '../sys/statefs.js';
import { visitCgroups, type EnvCgroup } from './limits.js';

/** One namespace to join: an open, verified fd. */
export interface JoinNamespace {
  type: NsType;
  fd: number;
  inode: number;
  /** Its recorded NS_GET_ID, still to be checked at the join (openVerified's `idsAtJoin`). */
  id?: number;
}

export interface JoinRequest {
  namespaces: readonly JoinNamespace[];
  argv: readonly string[];
  /** Working directory inside; it must exist there. Default: ours if it exists inside, else /. */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  stdio?: [StdioTarget, StdioTarget, StdioTarget];
  /**
   * A process whose /proc/PID/root shows the environment's file system (its holder): lets
   * the native path check `cwd` before it starts. Without it an explicit cwd missing inside
   * falls back to / there.
   */
  rootPid?: number;
  /** Force a path (tests cover both); default: native. */
  path?: JoinPath;
  /** The environment's cgroups (resource limits): the command runs in them. */
  cgroups?: readonly EnvCgroup[];
  /** More cgroup directories the command runs in (nsenter --join-cgroup). */
  cgroupDirs?: readonly string[];
  /** nsenter's credential, root, directory and fork options (src/core/nsenter.ts): native only. */
  nsenter?: Pick<JoinOptions, 'uid' | 'gid' | 'preserveCredentials' | 'keepCaps' | 'noFork' | 'rootFd' | 'wdFd'>;
  /** ip netns exec's private mounts after the join (a net namespace without a mount namespace): native only. */
  netnsExec?: string;
}

export type JoinPath = 'in-process' | 'native';

/** Types a multi-threaded process cannot setns(2) into. */
const NATIVE_ONLY: ReadonlySet<NsType> = new Set(['user', 'time']);

/**
 * The path `types` need: native when a user or time namespace is among them, and for an
 * environment with cgroups: there the command's own process joins them before it execs,
 * while in-process all of Node's threads would pass through them (and count against pids.max).
 * runJoined() takes the native path unless told otherwise; this says when in-process could do.
 */
export function joinPathFor(types: readonly NsType[], withCgroups = false): JoinPath {
  return withCgroups || types.some((t) => NATIVE_ONLY.has(t)) ? 'native' : 'in-process';
}

/** The in-process path's NS_GET_ID check (the helper makes its own): a reused inode is refused. */
function checkIds(namespaces: readonly JoinNamespace[]): void {
  for (const n of namespaces) {
    if (n.id === undefined) continue;
    const now = nsIdOfFd(n.fd);
    if (now !== undefined && now !== n.id) {
      throw new NsmError(`the ${n.type} namespace open to join is not the recorded one (ID ${now}, recorded ${n.id}): nothing joined`, { exitCode: EXIT_NSM_FAILED });
    }
  }
}

function isDirectory(path: string): boolean {
  return wdProblem(path) === undefined;
}

/** Why `path` cannot be a working directory: undefined when it can. */
function wdProblem(path: string): string | undefined {
  try {
    return statSync(path).isDirectory() ? undefined : 'is not a directory';
  } catch (err) {
    const errno = errnoOf(err);
    return errno === 'ENOENT' ? 'does not exist' : errno === 'ENOTDIR' ? 'is not a directory' : `cannot be reached (${errno ?? 'error'})`;
  }
}

/** The error for a --wd that `checked` (the path as seen from here) cannot be. */
/**
 * fork(2) into a PID namespace whose init has exited fails with ENOMEM (pid_namespaces(7): no
 * process may join it any more), which reads as "Not enough memory" and names the wrong step.
 */
function deadPidNamespace(err: unknown, joined: readonly { type: NsType }[]): unknown {
  if (errnoOf(err) !== 'ENOMEM' || !joined.some((n) => n.type === 'pid')) return err;
  return new NsmError('cannot start the command in the PID namespace: its init (the first process, e.g. the holder) has exited, and the kernel lets no process join a PID namespace after that', {
    exitCode: EXIT_NSM_FAILED,
    hint: 'join the other namespaces only (-t TYPES without pid), or nsm destroy it',
  });
}

/**
 * The helper's type check before setns(2) (a `netns:NAME` whose /run/netns file is a bind
 * mount of another kind of namespace: ip-netns(8) names network namespaces only).
 */
function wrongType(err: unknown): unknown {
  const m = err instanceof SysError ? /^fd \d+ is a namespace of type 0x([0-9a-f]+), not (\w+)$/.exec(err.call) : null;
  if (!m) return err;
  const found = nsTypeByFlag(parseInt(m[1]!, 16)) ?? `0x${m[1]}`;
  return new NsmError(`not a ${m[2]} namespace: the file to join is a ${found} namespace; nothing was joined`, { exitCode: EXIT_NSM_FAILED });
}

/** The helper's chdir(2) of a --wd nsm could not check before joining (no process shows that root). */
function missingWd(err: unknown, cwd: string | undefined): unknown {
  if (cwd === undefined || !(err instanceof SysError) || !err.call.startsWith('chdir(')) return err;
  const problem = err.errno === 'ENOENT' ? 'does not exist' : err.errno === 'ENOTDIR' ? 'is not a directory' : `cannot be reached (${err.errno})`;
  return new NsmError(`working directory ${echoInput(cwd)} ${problem} in the environment`, { exitCode: EXIT_NSM_FAILED });
}

function badWd(cwd: string, checked: string): NsmError {
  return new NsmError(`working directory ${echoInput(cwd)} ${wdProblem(checked) ?? 'is not a directory'} in the environment`, { exitCode: EXIT_NSM_FAILED });
}

/**
 * Join `req.namespaces` and run `req.argv` there; resolves with its exit status.
 * The in-process path changes the namespaces of this process's main thread for good:
 * call it last, and use only synchronous fs calls afterwards (setns(2) moves the calling
 * thread only; libuv's worker threads stay where they were).
 */
export async function runJoined(req: JoinRequest): Promise<number> {
  const ordered = NS_TYPES.map((i) => req.namespaces.find((n) => n.type === i.name)).filter((n): n is JoinNamespace => n !== undefined);
  const cgroups = req.cgroups ?? [];
  const cgroupDirs = [...cgroups.map((c) => c.dir), ...(req.cgroupDirs ?? [])];
  const extras = req.nsenter ?? {};
  const needsNative = (req.cgroupDirs ?? []).length > 0 || req.netnsExec !== undefined || Object.values(extras).some((v) => v !== undefined);
  // Nothing to join (a target whose namespaces are all ours): the command as it is, in-process.
  const path = req.path ?? (ordered.length === 0 && !needsNative && cgroups.length === 0 ? 'in-process' : 'native');
  // Read before joining: setns(CLONE_NEWNS) moves our cwd to the new root (setns(2)).
  const here = process.cwd();
  noteInheritedFds(); // reads /proc/self/fd: ours only until we join a mount namespace
  const joinsMnt = ordered.some((n) => n.type === 'mnt');

  if (path === 'native') {
    // nsenter -r/-w: the directories are fds; without --wd the helper keeps its own (nsenter's rule).
    const dirFds = extras.rootFd !== undefined || extras.wdFd !== undefined;
    let cwd: string | undefined = req.cwd ?? (dirFds ? undefined : here);
    if (req.cwd !== undefined && extras.rootFd !== undefined) {
      // Inside a root of the caller's choosing: the helper's chdir decides (falls back to /).
    } else if (req.cwd !== undefined && joinsMnt && req.rootPid !== undefined) {
      // /proc/PID/root resolves paths in that process's root and mount namespace (proc(5)).
      const seen = joinPath(`/proc/${req.rootPid}/root`, req.cwd);
      if (!isDirectory(seen)) throw badWd(req.cwd, seen);
    } else if (req.cwd !== undefined && !joinsMnt && !isDirectory(req.cwd)) {
      throw badWd(req.cwd, req.cwd);
    }
    if (cwd !== undefined && !joinsMnt && extras.rootFd === undefined && !isDirectory(cwd)) cwd = '/';
    // Another user's command never gets our terminal, only a pty of ours (src/sys/pty.ts).
    // Terminals first: without one there is nothing to protect, and no need to ask the
    // kernel whose user namespace it is (NS_GET_OWNER_UID, through koffi).
    const foreign = () => ordered.some((n) => n.type === 'user' && userNsOwnerUid(n.fd) !== effectiveUid());
    const pty = hasTerminal(req.stdio) && foreign() ? relayTerminal(req.stdio) : undefined;
    try {
      return await joinAndExec(
        ordered.map((n) => ({ type: n.type, fd: n.fd, inode: BigInt(n.inode), ...(n.id !== undefined ? { id: BigInt(n.id) } : {}) })),
        req.argv,
        {
          cwd,
          ...(req.cwd !== undefined ? { cwdAsked: true } : {}),
          env: req.env,
          stdio: pty?.stdio ?? req.stdio,
          ...(pty ? { newSession: true } : {}),
          ...extras,
          ...(cgroupDirs.length > 0 ? { cgroupDirs } : {}),
          ...(req.netnsExec !== undefined ? { netnsExec: req.netnsExec } : {}),
        },
      );
    } catch (err) {
      throw wrongType(missingWd(deadPidNamespace(err, ordered), req.cwd));
    } finally {
      await pty?.finish();
    }
  }

  if (needsNative) throw new NsmError('these join options need the native helper, not the in-process path', { exitCode: EXIT_NSM_FAILED });
  if (ordered.some((n) => NATIVE_ONLY.has(n.type))) {
    throw new NsmError(`a ${ordered.filter((n) => NATIVE_ONLY.has(n.type)).map((n) => n.type).join(' or ')} namespace cannot be joined in-process`, {
      exitCode: EXIT_NSM_FAILED,
    });
  }
  checkIds(ordered);
  // Into the cgroups first, by path, while /sys/fs/cgroup is still ours to see.
  const leaveCgroups = visitCgroups(cgroups);
  try {
    // setns(2): joining a mount namespace needs a thread that does not share its filesystem
    // attributes (root, cwd, umask) with other threads: unshare(CLONE_FS) first.
    if (joinsMnt) unshareFs();
    for (const n of ordered) setns(n.fd, n.type, `${n.type}:[${n.inode}]`);
    // From here on only synchronous fs calls: they run on this thread, which is inside. And
    // nothing that starts a thread (libuv's pool, a worker): once this thread has joined a
    // pid namespace, clone(CLONE_THREAD) fails with EINVAL (a thread group cannot span pid
    // namespaces: kernel/fork.c copy_process), and libuv aborts when its pool cannot start.
    let cwd: string;
    if (req.cwd !== undefined) {
      if (!isDirectory(req.cwd)) throw badWd(req.cwd, req.cwd);
      cwd = req.cwd;
    } else {
      cwd = isDirectory(here) ? here : '/';
    }
    // The command was forked inside the cgroups: we leave them as soon as it runs.
    // The fds nsm inherited pass on to the command, as nsenter's do (noted before the join:
    // /proc may be the environment's by now).
    return await runCommand(req.argv, { cwd, env: req.env, stdio: req.stdio, onStarted: leaveCgroups, pass: inheritedFds() });
  } catch (err) {
    throw deadPidNamespace(err, ordered);
  } finally {
    leaveCgroups();
  }
}
