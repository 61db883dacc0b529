/**
 * `nsm inspect TARGET` as a library call: everything about one process's namespaces.
 */
import { hasErrno, NsmError } from '../sys/errors.js';
import { nsChain, nsRelations } from '../sys/libc.js';
import { NS_TYPES, type NsType } from '../sys/nstypes.js';
import { isIdentityMap, type CgroupEntry, type IdMapRange } from '../sys/parse.js';
import { ProcFs } from '../sys/procfs.js';
import { userName } from '../sys/users.js';
import { attribute } from './attribution.js';
import { environmentResources, type EnvironmentResources } from './env-resources.js';
import { resolveEnvironment } from './environments.js';
import { hostReference, type HostReference } from './host-reference.js';
import type { Attribution } from './model.js';
import { scanHost } from './scan.js';
import { readTargetNamespaces, resolveTarget, type Target, type TargetSpec } from './target.js';

/** A /proc/PID/ns entry: a type, or the namespace the process's future children get. */
export type NsEntryName = NsType | 'pid_for_children' | 'time_for_children';

/** Every entry inspect reports, in nsenter's join order, *_for_children after its type. */
export const NS_ENTRIES: ReadonlyArray<{ entry: NsEntryName; type: NsType }> = NS_TYPES.flatMap((t) =>
  t.forChildrenEntry ? [{ entry: t.name, type: t.name }, { entry: t.forChildrenEntry as NsEntryName, type: t.name }] : [{ entry: t.name, type: t.name }],
);

/** host: the same namespace as the reference; isolated: another one; unknown: unreadable or no reference. */
export type Sharing = 'host' | 'isolated' | 'unknown';

export interface InspectedNamespace {
  entry: NsEntryName;
  type: NsType;
  /** Undefined when the link could not be read (`error` says why). */
  inode?: number;
  /** 64-bit namespace ID (NS_GET_ID, Linux 6.18) beside the inode; undefined on older kernels. */
  id?: number;
  error?: string;
  sharing: Sharing;
  /** The reference ("host") namespace of this type. */
  reference?: number;
  /** Owning user namespace (NS_GET_USERNS); undefined when outside our view. */
  owner?: number;
  /** Whom the namespace belongs to (ip netns name, nsm environment ...). */
  owners: Attribution[];
}

/** One level of the NSpid chain: the process's pid as seen in one pid namespace. */
export interface NsPidLevel {
  pid: number;
  /** That pid namespace's inode, where the NS_GET_PARENT walk could see it. */
  ns?: number;
}

export interface Inspection {
  target: Target;
  pid: number;
  ppid: number;
  comm: string;
  args: string[];
  /** The command line joined with spaces; the comm in brackets for kernel threads and zombies. */
  command: string;
  uid: number;
  user: string;
  /** Process state from stat field 3: R, S, D, Z (zombie: only its user and pid namespaces remain) ... */
  state: string;
  startTime: number;
  reference: HostReference;
  namespaces: InspectedNamespace[];
  /** Outermost (our own pid namespace) first, as /proc/PID/status lists NSpid. */
  nspid: NsPidLevel[];
  /** uid_map/gid_map of its user namespace; undefined when it is the identity map. */
  uidMap?: IdMapRange[];
  gidMap?: IdMapRange[];
  cgroups: CgroupEntry[];
  /** Every owner of any of its namespaces (each also listed per namespace). */
  owners: Array<Attribution & { type: NsType; ns: number }>;
  /** When the target is an environment: its veth and resource limits, with current usage. */
  environment?: EnvironmentResources;
}

export interface InspectOptions {
  procRoot?: string;
  /** Find owners (ip netns names, environments) with a host scan (default true). */
  attribution?: boolean;
  /** Ask ioctl_ns(2) for owner user namespaces and the pid namespace chain (default true; loads koffi). */
  relations?: boolean;
}

export async function inspect(spec: TargetSpec, options: InspectOptions = {}): Promise<Inspection> {
  const procfs = new ProcFs(options.procRoot);
  const target = resolveTarget(spec, procfs);
  const pid = target.pid;
  const host = hostReference(procfs);

  const namespaces: InspectedNamespace[] = readTargetNamespaces(target, NS_ENTRIES, procfs).map((r) => {
    const reference = host.ns[r.type];
    const sharing: Sharing = r.inode === undefined || reference === undefined ? 'unknown' : r.inode === reference ? 'host' : 'isolated';
    return { ...r, sharing, reference, owners: [] };
  });

  const status = readOrGone(() => procfs.readStatus(pid), target);
  const stat = readOrGone(() => procfs.readStat(pid), target);
  const args = readOrGone(() => procfs.readCmdline(pid), target);
  const uid = readOrGone(() => procfs.ownerUid(pid), target);
  const uidMap = readOrGone(() => procfs.readIdMap(pid, 'uid_map'), target);
  const gidMap = readOrGone(() => procfs.readIdMap(pid, 'gid_map'), target);
  const cgroups = readOrGone(() => procfs.readCgroup(pid), target);

  const nspid: NsPidLevel[] = status.nspid.map((p) => ({ pid: p }));
  if (options.relations !== false) addRelations(procfs, pid, namespaces, nspid);
  const inspection: Inspection = {
    target,
    pid,
    ppid: stat.ppid,
    comm: stat.comm,
    args,
    command: args.length > 0 ? args.join(' ') : `[${stat.comm}]`,
    uid,
    user: userName(uid),
    state: stat.state,
    startTime: stat.startTime,
    reference: host,
    namespaces,
    nspid,
    uidMap: isIdentityMap(uidMap) ? undefined : uidMap,
    gidMap: isIdentityMap(gidMap) ? undefined : gidMap,
    cgroups,
    owners: [],
  };
  if (options.attribution !== false) await addOwners(options.procRoot, inspection);
  if (target.env !== undefined) inspection.environment = environmentResources(resolveEnvironment(target.env).record);
  return inspection;
}

/** Read something about the target; if it exited meanwhile, say so in one line. */
function readOrGone<T>(read: () => T, target: Target): T {
  try {
    return read();
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ESRCH')) throw new NsmError(`${target.label}: exited while being inspected`);
    throw err;
  }
}

/**
 * Owner user namespaces (NS_GET_USERNS), and the pid namespace of each NSpid level:
 * the last NSpid entry is in the process's own pid namespace, each earlier one in the
 * parent of the next (pid_namespaces(7)); NS_GET_PARENT walks the same chain upwards.
 */
function addRelations(procfs: ProcFs, pid: number, namespaces: InspectedNamespace[], nspid: NsPidLevel[]): void {
  for (const item of namespaces) {
    if (item.inode === undefined) continue;
    try {
      const rel = nsRelations(procfs.path(pid, 'ns', item.entry));
      item.owner = rel.owner;
      item.id = rel.id;
    } catch (err) {
      if (!hasErrno(err, 'ENOENT', 'ESRCH', 'EACCES', 'EPERM')) throw err;
    }
  }
  const pidNs = namespaces.find((n) => n.entry === 'pid')?.inode;
  if (pidNs === undefined) return;
  let chain: number[] = [pidNs];
  try {
    chain = [pidNs, ...nsChain(procfs.path(pid, 'ns', 'pid'), 'parent').map((l) => l.inode)];
  } catch (err) {
    if (!hasErrno(err, 'ENOENT', 'ESRCH', 'EACCES', 'EPERM')) throw err;
  }
  // chain is innermost first; nspid is outermost first.
  for (let i = 0; i < nspid.length && i < chain.length; i++) nspid[nspid.length - 1 - i]!.ns = chain[i];
}

async function addOwners(procRoot: string | undefined, inspection: Inspection): Promise<void> {
  const scan = await scanHost({ procRoot });
  attribute(scan);
  const byInode = new Map(scan.namespaces.map((ns) => [ns.inode, ns]));
  const seen = new Set<number>();
  for (const item of inspection.namespaces) {
    if (item.inode === undefined) continue;
    item.owners = byInode.get(item.inode)?.owners ?? [];
    if (seen.has(item.inode)) continue;
    seen.add(item.inode);
    for (const o of item.owners) inspection.owners.push({ ...o, type: item.type, ns: item.inode });
  }
}
