/**
 * What nsenter(1) takes from its target besides the namespaces, for `nsm exec`/`nsm enter`:
 * the root and working directory (opened before joining, as nsenter opens /proc/PID/root and
 * /proc/PID/cwd), the environment (/proc/PID/environ, nsenter 2.39 -e), the cgroup (nsenter
 * 2.40 --join-cgroup, on v1 and hybrid hosts too), and the ids of -S/-G follow. Everything is read or opened here, before
 * any namespace is joined: after the join /proc and the file system may be the target's.
 */
import { closeSync } from 'node:fs';
import { cgroupDirsOf, parseCgroupMounts } from '../sys/cgroupfs.js';
import { errnoOf, EXIT_NSM_FAILED, NsmError, UsageError } from '../sys/errors.js';
import type { JoinOptions } from '../sys/helper.js';
import { openDirectory } from '../sys/nsfile.js';
import type { NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';

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
}

/** What was read and opened: fds to close after the command ran. */
export interface NsenterExtras {
  join: Pick<JoinOptions, 'uid' | 'gid' | 'preserveCredentials' | 'keepCaps' | 'noFork' | 'rootFd' | 'wdFd'>;
  env?: NodeJS.ProcessEnv;
  cgroupDirs: string[];
  close(): void;
}

/**
 * Read and open what `o` asks of process `pid` (undefined: a target without a process, a
 * namespace file). `label` names the target in messages. Failures exit 125 (exec's own).
 */
export function openNsenterExtras(o: NsenterOptions, pid: number | undefined, label: string, procfs: ProcFs = new ProcFs()): NsenterExtras {
  const fds: number[] = [];
  const close = (): void => {
    for (const fd of fds.splice(0)) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  };
  const needPid = (what: string): number => {
    if (pid === undefined) throw new UsageError(`${what} needs a process: ${label} is one namespace (give ${what.split(' ')[0]}=DIR, or a PID or environment)`);
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
    const join: NsenterExtras['join'] = {};
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
    return { join, env, cgroupDirs, close };
  } catch (err) {
    close();
    throw err;
  }
}
