/**
 * Trust, for root in a user's state directory: the user can write anything there, so a
 * record, a reservation's notes or a listed environment is acted on (killed, unmounted,
 * removed, entered, named) only if it looks like what that user's nsm makes and its
 * namespaces are that user's.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { NsmError } from '../../sys/errors.js';
import { nsRelations } from '../../sys/libc.js';
import type { OpenNsFile } from '../../sys/nsfile.js';
import { nsTypeInfo, type NsType } from '../../sys/nstypes.js';
import { ProcFs } from '../../sys/procfs.js';
import { limitsOf } from '../limits.js';
import { vethOf } from '../network.js';
import type { CreateProgress, EnvRecord, EnvResources } from '../record.js';
import { userNetOf, userNetProcess } from '../user-net.js';
import { RECORD_FILE, type RegistryOptions } from './layout.js';

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
  return userNetOwnerProblem(record, uid) ?? cgroupOwnerProblem(limitsOf(record)?.cgroups ?? [], uid);
}

/**
 * A user-mode network process (pasta) that `record` names and that is not `uid`'s: a user's
 * nsm starts it as that user, so root stops only a process of that uid on the user's word.
 */
function userNetOwnerProblem(record: Pick<EnvResources, 'options'>, uid: number, procRoot?: string): string | undefined {
  const net = userNetOf(record);
  if (!net) return undefined;
  const p = userNetProcess(net, 0, procRoot);
  if (!p) return undefined;
  let realUid: number | undefined;
  try {
    realUid = new ProcFs(procRoot).readStatus(p.pid).uid[0];
  } catch {
    return undefined; // gone meanwhile
  }
  return realUid !== uid ? `its network process PID ${p.pid} runs as uid ${realUid}` : undefined;
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

export function checkForeignRecord(record: EnvRecord, dir: string, uid: number | undefined): void {
  if (uid === undefined) return;
  const problem = foreignRecordProblem(record, uid);
  if (problem !== undefined) {
    throw new NsmError(`refusing environment ${record.name} of uid ${uid}: ${problem}`, {
      hint: `its record ${join(dir, RECORD_FILE)} is not one nsm wrote; uid ${uid} can remove it`,
    });
  }
}

/** Why root must not undo `progress` found in the directory of user `uid` (as foreignRecordProblem). */
export function foreignProgressProblem(progress: CreateProgress, uid: number, options: RegistryOptions): string | undefined {
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
  const netProblem = userNetOwnerProblem({ options: progress.options ?? {} }, uid, options.procRoot);
  if (netProblem) return netProblem;
  return cgroupOwnerProblem(progress.options?.limits?.cgroups ?? [], uid);
}

/**
 * Root acting on user `uid`'s environment: its namespaces must be that user's, or a record the
 * user wrote could point root's destroy at any process and its pid namespace (the host's
 * included) and root's exec at any namespaces. The environment's user namespace was created
 * by `uid` (NS_GET_OWNER_UID), and every other namespace is owned by it (NS_GET_USERNS):
 * what a rootless create makes (ioctl_ns(2)). Checked on the open fds, so on what is joined.
 */
export function checkOwnedNamespaces(record: EnvRecord, opened: readonly OpenNsFile[], ordered: readonly NsType[], uid: number): void {
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

/**
 * Whether a record from user `uid`'s directory, whose holder `holder` is live, names that
 * user's own namespaces: the holder runs as `uid`, its user namespace is the recorded one and
 * was created by `uid`, and every other namespace it has of the record's types is owned by it
 * (ioctl_ns(2) NS_GET_OWNER_UID, NS_GET_USERNS), as a rootless create makes them. Otherwise
 * the user could have root's listing call root's (or the host's) namespaces nsm:ANYTHING.
 */
export function userRecordNamesOwn(record: EnvRecord, holder: { pid: number; uid: number; ns: Partial<Record<NsType, number>> }, uid: number, options: RegistryOptions): boolean {
  const userNs = record.namespaces.user;
  if (holder.uid !== uid || userNs === undefined) return false;
  const proc = new ProcFs(options.procRoot);
  try {
    // A scan of some types only (monitor -t uts) did not read the user namespace: read it now.
    if ((holder.ns.user ?? proc.readNsEntry(holder.pid, 'user')?.inode) !== userNs) return false;
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
