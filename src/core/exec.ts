/**
 * `nsm enter` / `nsm exec`: run a command in an environment's namespaces, or any target's
 * (execTarget: a process, a namespace file).
 * The record names the namespaces; openEnvironment() opens them and checks every inode against
 * it, and the join goes through those fds (src/core/join.ts), so a holder that died and
 * whose pid was reused cannot lead anyone into a stranger's namespaces.
 */
import type { StdioTarget } from '../sys/helper.js';
import { EXIT_NSM_FAILED, NsmError, UsageError } from '../sys/errors.js';
import { noteInheritedFds } from '../sys/inherited-fds.js';
import { closeFds, openNsFile } from '../sys/nsfile.js';
import type { NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import { effectiveUid } from '../sys/statefs.js';
import { openEnvironment } from './environments.js';
import { limitsOf } from './limits.js';
import { runJoined, type JoinNamespace, type JoinPath } from './join.js';
import { openNsenterExtras, userParentOf, type NsenterExtras, type NsenterOptions } from './nsenter.js';
import type { RegistryOptions } from './registry/layout.js';
import { concrete, NETNS_DIR, openTarget, type OpenedTarget, type TargetSpec } from './target.js';

export interface ExecInEnvironmentOptions extends RegistryOptions {
  /** Join only these of the environment's namespaces (default: all of them). */
  types?: NsType[];
  /** Working directory inside (default: ours if it exists there, else /). */
  cwd?: string;
  /** Environment of the command (default: ours); NSM_ENV=NAME is added. */
  env?: NodeJS.ProcessEnv;
  stdio?: [StdioTarget, StdioTarget, StdioTarget];
  /** Force a join path (tests); default: in-process unless a user or time namespace is joined. */
  path?: JoinPath;
}

/**
 * Run `argv` in environment `name`; resolves with its exit status (128+N after signal N).
 * @throws NsmError for an unknown or dead environment; HolderReusedError (exit 125) when the
 *   recorded holder is not the environment's any more; SysError 126/127 when the command
 *   cannot be executed; SysError/NsmError 125 for a failed join.
 */
export async function execInEnvironment(name: string, argv: readonly string[], options: ExecInEnvironmentOptions & NsenterOptions = {}): Promise<number> {
  noteInheritedFds(); // if the entry has not (a library caller): before anything is opened
  const files = openFiles(options.files);
  let opened: ReturnType<typeof openEnvironment> | undefined;
  let extras: NsenterExtras | undefined;
  const parentFds: number[] = [];
  try {
    opened = openEnvironment(name, options.types, options);
    const { env, verified } = opened;
    const record = env.record;
    const holder = verified.via === 'holder' ? record.holder.pid : undefined;
    extras = openNsenterExtras(options, holder, `environment ${name}`);
    let namespaces = withSocketNetns(mixFiles(verified.namespaces, files), extras);
    if (options.userParent) {
      const base = namespaces.find((n) => n.type === 'user') ?? (holder !== undefined ? holderUser(holder, parentFds) : namespaces[0]);
      namespaces = withUserParent(namespaces, base, `environment ${name}`, parentFds);
    }
    return await runJoined({
      namespaces,
      argv,
      cwd: options.cwd,
      env: { ...(extras.env ?? options.env ?? process.env), NSM_ENV: name },
      stdio: options.stdio,
      rootPid: holder,
      path: options.path,
      // Everything run in the environment is under its limits, whichever namespaces it joins.
      cgroups: limitsOf(record)?.cgroups,
      cgroupDirs: extras.cgroupDirs,
      nsenter: extras.join,
      // An adopted environment is someone else's namespaces: joined as they are, as a process target's.
      netnsExec: record.adopted ? undefined : netnsExecFor(namespaces, name),
    });
  } finally {
    extras?.close();
    opened?.verified.close();
    for (const f of files) f.close();
    closeFds(parentFds.splice(0));
  }
}

/** nsenter --net=FILE and its kind: each file opened and checked to be a namespace of that type. */
function openFiles(files: NsenterOptions['files']): OpenedTarget[] {
  const opened: OpenedTarget[] = [];
  try {
    for (const [type, path] of Object.entries(files ?? {}) as Array<[NsType, string]>) {
      opened.push(openTarget({ kind: 'file', path }, { types: [type] }));
    }
  } catch (err) {
    for (const f of opened) f.close();
    throw err;
  }
  return opened;
}

/** The target's namespaces with those of the same types replaced by (or added from) `files`. */
function mixFiles(namespaces: readonly JoinNamespace[], files: readonly OpenedTarget[]): JoinNamespace[] {
  const fromFiles = files.flatMap((f) => f.namespaces);
  return [...namespaces.filter((n) => !fromFiles.some((f) => f.type === n.type)), ...fromFiles];
}

/** nsenter -N: the socket's network namespace instead of any other. */
function withSocketNetns(namespaces: JoinNamespace[], extras: NsenterExtras): JoinNamespace[] {
  const netns = extras.netns;
  return netns ? [...namespaces.filter((n) => n.type !== 'net'), netns] : namespaces;
}

/**
 * nsenter --user-parent: the parent of `base`'s user namespace joined instead of any other
 * user namespace; none when that parent is our own (setns(2): EINVAL; nsm never joins its own).
 */
function withUserParent(namespaces: JoinNamespace[], base: JoinNamespace | undefined, label: string, fds: number[]): JoinNamespace[] {
  if (!base) throw new UsageError('--user-parent needs a namespace to start from');
  const parent = userParentOf(base, label, fds);
  const others = namespaces.filter((n) => n.type !== 'user');
  return parent.inode === new ProcFs().readNsEntry('self', 'user')?.inode ? others : [...others, parent];
}

/** The user namespace of an environment's holder, opened (the fd is pushed on `fds`). */
function holderUser(pid: number, fds: number[]): JoinNamespace {
  const file = openNsFile(new ProcFs().path(pid, 'ns', 'user'));
  fds.push(file.fd);
  return { type: 'user', fd: file.fd, inode: file.ino };
}

/**
 * ip-netns(8) exec: a network namespace joined without a mount namespace gets a private one
 * with a /sys of its own (and, named, /etc/netns/NAME over /etc), so that /sys/class/net
 * agrees with ip link. `name`: the ip netns or environment name ('' for none).
 */
function netnsExecFor(namespaces: readonly JoinNamespace[], name: string): string | undefined {
  return namespaces.some((n) => n.type === 'net') && !namespaces.some((n) => n.type === 'mnt') ? name : undefined;
}

export type ExecTargetOptions = ExecInEnvironmentOptions & NsenterOptions & { procfs?: ProcFs };

/**
 * Run `argv` in a target's namespaces (src/core/target.ts): an environment exactly as
 * execInEnvironment; a process as nsenter(1) -a does: every namespace of it that differs
 * from ours (or those of `types`); a namespace file: that one namespace.
 *
 * User namespaces, setns(2): joining our own is EINVAL, so it is skipped; an unprivileged
 * caller needs CAP_SYS_ADMIN over the target's other namespaces, which it has only after
 * joining the user namespace that owns them: it comes along even when `types` leaves it out.
 * Joining one goes through the native helper (a multi-threaded process cannot: EINVAL).
 * @throws NsmError 125 for a target that cannot be opened or changed under us (openTarget).
 */
export async function execTarget(given: TargetSpec, argv: readonly string[], options: ExecTargetOptions = {}): Promise<number> {
  if (given.kind === 'env') return execInEnvironment(given.name, argv, options);
  const spec = concreteForExec(given);
  if (spec.kind === 'env') return execInEnvironment(spec.name, argv, options);
  noteInheritedFds();
  const procfs = options.procfs ?? new ProcFs();
  const asked = options.types && options.types.length > 0 ? options.types : undefined;
  const root = effectiveUid() === 0;
  const files = openFiles(options.files);
  let opened: OpenedTarget | undefined;
  let extras: NsenterExtras | undefined;
  const parentFds: number[] = [];
  try {
    // A process: open all its namespaces (the user one is needed to decide), join a choice of them.
    opened = openTarget(spec, { types: spec.kind === 'pid' ? undefined : asked, procfs, joinChecksType: true });
    let joined = opened.namespaces;
    if (spec.kind === 'pid') {
      const ours = (type: NsType): number | undefined => procfs.readNsEntry('self', type)?.inode;
      const differs = (n: JoinNamespace): boolean => n.inode !== ours(n.type);
      joined = opened.namespaces.filter((n) => (n.type === 'user' ? differs(n) : asked ? asked.includes(n.type) : differs(n)));
      const user = joined.find((n) => n.type === 'user');
      if (user && asked && !asked.includes('user') && root) joined = joined.filter((n) => n !== user);
      // Nothing left but a user namespace it was not asked for: nothing to join.
      if (asked && joined.every((n) => n.type === 'user' && !asked.includes('user'))) joined = [];
    }
    extras = openNsenterExtras(options, opened.pid, opened.label, procfs, opened.startTime);
    joined = withSocketNetns(mixFiles(joined, files), extras);
    if (options.userParent) {
      // The user namespace joined (-U FILE's, or the target's, even when it is ours), else any other joined.
      const base = joined.find((n) => n.type === 'user') ?? opened.namespaces.find((n) => n.type === 'user') ?? joined[0] ?? opened.namespaces[0]!;
      joined = withUserParent(joined, base, opened.label, parentFds);
    }
    return await runJoined({
      namespaces: joined,
      argv,
      cwd: options.cwd,
      env: extras.env ?? options.env ?? process.env,
      stdio: options.stdio,
      rootPid: opened.pid,
      path: options.path,
      cgroupDirs: extras.cgroupDirs,
      nsenter: extras.join,
      // ip netns exec's mounts for a namespace file (netns:NAME); a process keeps nsenter's join.
      netnsExec: spec.kind === 'file' ? netnsExecFor(joined, netnsName(spec)) : undefined,
    });
  } finally {
    extras?.close();
    opened?.close();
    for (const f of files) f.close();
    closeFds(parentFds.splice(0));
  }
}

/** The ip netns name of a file target (netns:NAME or /run/netns/NAME), else ''. */
function netnsName(spec: TargetSpec & { kind: 'file' }): string {
  if (spec.netns !== undefined) return spec.netns;
  const m = new RegExp(`^${NETNS_DIR}/([^/]+)$`).exec(spec.path);
  return m && m[1] !== '.' && m[1] !== '..' ? m[1]! : '';
}

/** concrete(), its failures exec's own (125), as the rest of the lookup's; ambiguity stays a usage error. */
function concreteForExec(spec: TargetSpec): ReturnType<typeof concrete> {
  try {
    return concrete(spec);
  } catch (err) {
    if (err instanceof NsmError && !(err instanceof UsageError) && err.exitCode < EXIT_NSM_FAILED) throw new NsmError(err.message, { exitCode: EXIT_NSM_FAILED, hint: err.hint });
    throw err;
  }
}
