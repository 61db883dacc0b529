/**
 * What nsenter(1) takes from its target besides the namespaces, for `nsm exec`/`nsm enter`:
 * the root and working directory (opened before joining, as nsenter opens /proc/PID/root and
 * /proc/PID/cwd), the environment (/proc/PID/environ, nsenter 2.39 -e), the cgroup (nsenter
 * 2.40 --join-cgroup, on v1 and hybrid hosts too), and the ids of -S/-G follow. Everything is read or opened here, before
 * any namespace is joined: after the join /proc and the file system may be the target's.
 */
import { fstatSync } from 'node:fs';
import { cgroupDirsOf, parseCgroupMounts } from '../sys/cgroupfs.js';
import { errnoOf, EXIT_NSM_FAILED, NsmError, SysError, UsageError } from '../sys/errors.js';
import type { JoinOptions } from '../sys/helper.js';
import { selinuxEnabled } from '../sys/host.js';
import { openOwnerUserNs, openSocketNetns } from '../sys/libc.js';
import { closeFds, openDirectory } from '../sys/nsfile.js';
import type { NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import type { JoinNamespace } from './join.js';

/** nsenter's options beyond the namespaces (exec and enter take them for every target). */
export interface NsenterOptions {
  /** nsenter --net=FILE: this type from this namespace file, mixed with the target's others. */
  files?: Partial<Record<NsType, string>>;
  /** -S/-G: ids of the command (`follow`: the target process's, nsenter 2.40). */
  uid?: number | 'follow';
  gid?: number | 'follow';
  preserveCredentials?: boolean;
  keepCaps?: boolean;
  /** -r: chroot to the target's root (true), or to this directory as seen here. */
  root?: true | string;
  /** -w: work in the target's working directory (true), or in this directory as seen here. */
  workdir?: true | string;
  /** -e: the target's environment instead of ours. */
  targetEnv?: boolean;
  /** --join-cgroup: the command runs in the target's cgroup (cgroup v2). */
  joinCgroup?: boolean;
  /** -F: do not fork; a joined pid namespace then holds only the command's children. */
  noFork?: boolean;
  /** -N: the network namespace of this socket fd of the target process (nsenter master). */
  netSocket?: number;
  /** --user-parent: the parent of the user namespace joined (nsenter master). */
  userParent?: boolean;
  /** -Z: the target's SELinux context for the command (nsenter); nothing to do without SELinux. */
  followContext?: boolean;
}

/** What was read and opened: fds to close after the command ran. */
export interface NsenterExtras {
  join: Pick<JoinOptions, 'uid' | 'gid' | 'preserveCredentials' | 'keepCaps' | 'noFork' | 'rootFd' | 'wdFd'>;
  env?: NodeJS.ProcessEnv;
  cgroupDirs: string[];
  /** -N: the socket's network namespace, joined instead of the target's. */
  netns?: JoinNamespace;
  close(): void;
}

/**
 * Read and open what `o` asks of process `pid` (undefined: a target without a process, a
 * namespace file). `label` names the target in messages. Failures exit 125 (exec's own).
 */
export function openNsenterExtras(o: NsenterOptions, pid: number | undefined, label: string, procfs: ProcFs = new ProcFs(), startTime?: number): NsenterExtras {
  const fds: number[] = [];
  const close = (): void => closeFds(fds.splice(0));
  const needPid = (what: string, instead = `give ${what.split(' ')[0]}=DIR, or a PID or environment`): number => {
    if (pid === undefined) throw new UsageError(`${what} needs a process: ${label} is one namespace (${instead})`);
    return pid;
  };
  const fail = (what: string, err: unknown): NsmError => new NsmError(`${label}: cannot ${what}: ${errnoOf(err) ?? String(err)}`, { exitCode: EXIT_NSM_FAILED });
  const dir = (value: true | string, entry: 'root' | 'cwd', option: string): number => {
    const path = value === true ? procfs.path(needPid(option), entry) : value;
    try {
      const fd = openDirectory(path);
      fds.push(fd);
      return fd;
    } catch (err) {
      throw fail(`open ${value === true ? `its ${entry === 'cwd' ? 'working directory' : 'root'}` : path} (${option})`, err);
    }
  };
  try {
    // nsenter -Z: libselinux's setexeccon when SELinux is enabled, nothing when it is not
    // (nsenter of util-linux built with SELinux support, as Debian's, exits 0 there).
    if (o.followContext && selinuxEnabled()) {
      throw new NsmError(`${label}: --follow-context: SELinux is enabled here and nsm cannot set the command's SELinux context (use nsenter -Z)`, { exitCode: EXIT_NSM_FAILED });
    }
    const join: NsenterExtras['join'] = {};
    let netns: JoinNamespace | undefined;
    if (o.netSocket !== undefined) netns = socketNetns(needPid('--net-socket', 'give the PID that has the socket'), o.netSocket, label, procfs, startTime, fds);
    if (o.root !== undefined) join.rootFd = dir(o.root, 'root', '--root');
    if (o.workdir !== undefined) join.wdFd = dir(o.workdir, 'cwd', '--cwd');
    if (o.uid !== undefined || o.gid !== undefined) {
      // nsenter -S/-G follow: the owner of /proc/PID (the process's effective ids, proc(5)).
      let owner: { uid: number; gid: number } | undefined;
      const follow = (): { uid: number; gid: number } => {
        if (owner) return owner;
        const p = needPid('-S/-G follow');
        const status = procfs.readText(p, 'status');
        const field = (name: string): number => Number(new RegExp(`^${name}:\\s*\\d+\\s+(\\d+)`, 'm').exec(status)?.[1]);
        owner = { uid: field('Uid'), gid: field('Gid') };
        return owner;
      };
      if (o.uid !== undefined) join.uid = o.uid === 'follow' ? follow().uid : o.uid;
      if (o.gid !== undefined) join.gid = o.gid === 'follow' ? follow().gid : o.gid;
    }
    if (o.preserveCredentials) join.preserveCredentials = true;
    if (o.keepCaps) join.keepCaps = true;
    if (o.noFork) join.noFork = true;
    let env: NodeJS.ProcessEnv | undefined;
    if (o.targetEnv) {
      try {
        env = procfs.readEnviron(needPid('--env'));
      } catch (err) {
        if (err instanceof NsmError) throw err;
        throw fail('read its environment (/proc/PID/environ)', err);
      }
    }
    const cgroupDirs: string[] = [];
    if (o.joinCgroup) {
      const p = needPid('--join-cgroup');
      try {
        cgroupDirs.push(...cgroupDirsOf(parseCgroupMounts(procfs.readText('self', 'mountinfo')), procfs.readCgroup(p)));
      } catch (err) {
        throw fail('read its cgroups (/proc/PID/cgroup)', err);
      }
      if (cgroupDirs.length === 0) throw new NsmError(`${label}: none of its cgroups is in a hierarchy mounted here (--join-cgroup)`, { exitCode: EXIT_NSM_FAILED });
    }
    return { join, env, cgroupDirs, netns, close };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * nsenter -N FD: pidfd_getfd(2) copies the target's socket, SIOCGSKNS opens its network
 * namespace (as nsenter master does). The fd is pushed on `fds` for close().
 */
function socketNetns(pid: number, sockFd: number, label: string, procfs: ProcFs, startTime: number | undefined, fds: number[]): JoinNamespace {
  const fail = (message: string, hint?: string): NsmError => new NsmError(`${label}: ${message}`, { exitCode: EXIT_NSM_FAILED, hint });
  let fd: number;
  try {
    fd = openSocketNetns(pid, sockFd, () => {
      // The pidfd names whatever process has the pid now: it must be the one opened.
      if (startTime !== undefined && procfs.readStat(pid).startTime !== startTime) throw fail('exited (or its pid was reused) while nsm opened it: nothing joined');
    });
  } catch (err) {
    if (err instanceof NsmError && !(err instanceof SysError)) throw err;
    const errno = errnoOf(err);
    if (errno === 'ESRCH' || errno === 'ENOENT') throw fail('no such process (--net-socket)');
    if (errno === 'EBADF') throw fail(`it has no file descriptor ${sockFd} (--net-socket)`);
    if (errno === 'ENOTSOCK') throw fail(`its file descriptor ${sockFd} is not a socket (--net-socket)`);
    if (errno === 'EPERM' && err instanceof SysError && err.call === 'pidfd_getfd')
      throw fail(`cannot take its file descriptor ${sockFd}: permission denied: pidfd_getfd(2) needs ptrace attach access to the process (--net-socket)`, 'the same user, not made undumpable, and Yama ptrace_scope allowing it; or CAP_SYS_PTRACE');
    if (errno === 'EPERM') throw fail(`cannot open the network namespace of its socket ${sockFd}: permission denied: SIOCGSKNS needs CAP_NET_ADMIN over it (--net-socket)`);
    throw fail(`cannot open the network namespace of its socket ${sockFd}: ${err instanceof Error ? err.message : String(err)} (--net-socket)`);
  }
  fds.push(fd);
  return { type: 'net', fd, inode: fstatSync(fd).ino };
}

/**
 * nsenter --user-parent: the user namespace that owns `base` (NS_GET_USERNS: for a user
 * namespace, its parent; nsenter master asks the same of the user namespace it would join,
 * else of any other it joins). The new fd is pushed on `fds`. EPERM: `base` is at the top, or
 * its parent is outside ours.
 */
export function userParentOf(base: JoinNamespace, label: string, fds: number[]): JoinNamespace {
  let fd: number;
  try {
    fd = openOwnerUserNs(base.fd);
  } catch (err) {
    const what = base.type === 'user' ? `its user namespace (${base.inode})` : `its ${base.type} namespace (${base.inode})`;
    if (errnoOf(err) === 'EPERM') throw new NsmError(`${label}: --user-parent: ${what} has no parent user namespace nsm can see (the initial one, or outside ours)`, { exitCode: EXIT_NSM_FAILED });
    throw new NsmError(`${label}: --user-parent: ${err instanceof Error ? err.message : String(err)}`, { exitCode: EXIT_NSM_FAILED });
  }
  fds.push(fd);
  return { type: 'user', fd, inode: fstatSync(fd).ino };
}
