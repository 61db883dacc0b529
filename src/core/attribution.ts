/**
 * Attribution: whom a namespace belongs to, without asking any daemon.
 * Each source looks at the scan and adds {kind, id, name} records to namespaces.
 */
import { ContainerNames, type ContainerPaths } from '../sys/containers.js';
import { hasErrno } from '../sys/errors.js';
import { parseCgroup } from '../sys/parse.js';
import type { NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import { ownersFromCgroup, classifyCgroupPathAll, SHORT_ID_LENGTH } from './cgroup-owners.js';
import type { Attribution, HostScan, Namespace, ProcessInfo } from './model.js';
import { environmentNamesByInode } from './registry/attribution-names.js';

/** ip-netns(8) keeps named network namespaces as nsfs bind mounts under this directory. */
export const NETNS_RUN_DIR = '/run/netns';

export { OWNER_KINDS } from './owner-kinds.js';

export interface AttributionOptions {
  /** Root of procfs (default /proc). */
  procRoot?: string;
  /** Where runtimes keep their state; tests point these at a temp dir. */
  paths?: Partial<ContainerPaths>;
  /** nsm environments' names by inode, when the caller judged them already (judgeEnvironments). */
  environmentNames?: Map<number, string>;
}

/** Bind mounts at DIR/NAME of a net namespace: name it `kind:NAME` (ip netns, dockerd). */
function mountedNetnsNames(ns: Namespace, dir: string): string[] {
  const prefix = `${dir}/`;
  const names: string[] = [];
  for (const m of ns.mounts) {
    if (!m.visible || !m.path.startsWith(prefix)) continue;
    const name = m.path.slice(prefix.length);
    if (!name.includes('/')) names.push(name);
  }
  return names;
}

/** `ip netns` names: a net namespace bind-mounted at /run/netns/NAME is called NAME. */
function attributeIpNetns(scan: HostScan): void {
  for (const ns of scan.namespaces) {
    if (ns.type !== 'net') continue;
    for (const name of mountedNetnsNames(ns, NETNS_RUN_DIR)) ns.owners.push({ kind: 'netns', id: name, name });
  }
}

/**
 * dockerd's sandboxes: it bind-mounts each container's net namespace at
 * /run/docker/netns/<sandbox id>. The sandbox id is not the container id (the map lives in
 * dockerd's database), so when the namespace's processes already name the container
 * (run after attributeCgroups) that is the better name and the file adds nothing.
 */
function attributeDockerNetns(scan: HostScan, dir: string): void {
  for (const ns of scan.namespaces) {
    if (ns.type !== 'net' || ns.owners.some((o) => o.kind === 'docker')) continue;
    for (const name of mountedNetnsNames(ns, dir)) ns.owners.push({ kind: 'docker-netns', id: name, name });
  }
}

/**
 * Namespaces created by the kernel at boot have fixed inode numbers below the first one
 * procfs hands out (PROC_DYNAMIC_FIRST, 0xF0000000 in fs/proc/generic.c; the constants are
 * in include/linux/proc_ns.h). Since 6.18 that holds for all eight types; before, net and
 * mnt got dynamic numbers like any other.
 */
const PROC_DYNAMIC_FIRST = 0xf0000000;

/**
 * The host's own namespaces are nobody's: pid 1 and every host process is in them, and the
 * lowest pid's cgroup (init.scope, a login session) says nothing about the namespace.
 * Recognised by a boot-time inode, by pid 1 being in it, or, when pid 1's links are not
 * ours to read (not root), by nsm itself being in it.
 */
class HostNamespaces {
  private self?: Partial<Record<NsType, number>>;

  constructor(
    private readonly scan: HostScan,
    private readonly procfs: ProcFs,
  ) {}

  has(ns: Namespace): boolean {
    if (ns.inode < PROC_DYNAMIC_FIRST) return true;
    const init = this.scan.processes.get(1)?.ns[ns.type];
    if (init !== undefined) return init === ns.inode;
    return this.selfNs(ns.type) === ns.inode;
  }

  private selfNs(type: NsType): number | undefined {
    if (!this.self) {
      this.self = {};
      for (const ns of this.scan.namespaces) {
        if (this.self[ns.type] !== undefined) continue;
        try {
          this.self[ns.type] = this.procfs.readNsEntry('self', ns.type)?.inode;
        } catch (err) {
          if (!hasErrno(err, 'ENOENT')) throw err; // a type this kernel lacks
        }
      }
    }
    return this.self[type];
  }
}

/** Better names than the id, read from the runtime's files when readable. */
const NAME_RESOLVERS: Readonly<Record<string, (names: ContainerNames, id: string) => string | undefined>> = {
  docker: (names, id) => names.dockerName(id),
  podman: (names, id) => names.podmanName(id),
  kubernetes: (names, uid) => names.podName(uid),
};

/**
 * Owners from cgroup paths, with names resolved. Caches per pid and per path: the
 * namespaces of one container share its lowest pid, and its processes share paths.
 */
class CgroupAttributor {
  private readonly byPath = new Map<string, Attribution[]>();
  private readonly byPid = new Map<number, Attribution[]>();
  readonly names: ContainerNames;

  constructor(
    private readonly procfs: ProcFs = new ProcFs(),
    paths: Partial<ContainerPaths> = {},
  ) {
    this.names = new ContainerNames(paths);
  }

  /**
   * Owners named by the cgroups of `pid`: from `cgroupText` (the file as the scanner read it)
   * when given. Throws the fs error (ENOENT, ESRCH ...) if it cannot be read.
   */
  ofProcess(pid: number, cgroupText?: string): Attribution[] {
    let owners = this.byPid.get(pid);
    if (!owners) {
      const entries = cgroupText !== undefined ? parseCgroup(cgroupText) : this.procfs.readCgroup(pid);
      owners = ownersFromCgroup(entries, (path) => this.ofPath(path));
      this.byPid.set(pid, owners);
    }
    return owners.map((o) => ({ ...o }));
  }

  /** Owners named by one cgroup path (see classifyCgroupPathAll), names resolved. */
  ofPath(path: string): Attribution[] {
    let owners = this.byPath.get(path);
    if (!owners) {
      owners = classifyCgroupPathAll(path).map((o) => {
        const name = NAME_RESOLVERS[o.kind]?.(this.names, o.id);
        return name === undefined ? o : { ...o, name };
      });
      this.byPath.set(path, owners);
    }
    return owners;
  }

  /**
   * Owners of a namespace from its processes: the lowest pid's cgroup only, since the
   * processes of one container share its namespaces (and lowest is usually its init).
   * A pid that exited since the scan, or that we may not read, hands over to the next.
   */
  ofPids(pids: readonly number[], processes?: ReadonlyMap<number, ProcessInfo>): Attribution[] {
    for (const pid of pids) {
      try {
        return this.ofProcess(pid, processes?.get(pid)?.cgroup);
      } catch (err) {
        if (!hasErrno(err, 'ENOENT', 'ESRCH', 'EACCES')) throw err;
      }
    }
    return [];
  }
}

/** Containers, pods and units, from the cgroup of each namespace's lowest pid. */
function attributeCgroups(scan: HostScan, procfs: ProcFs, cgroups: CgroupAttributor): void {
  const host = new HostNamespaces(scan, procfs);
  for (const ns of scan.namespaces) {
    if (ns.pids.length === 0 || host.has(ns)) continue;
    ns.owners.push(...cgroups.ofPids(ns.pids, scan.processes));
  }
}

/** nsm environments: a namespace a live environment recorded is called nsm:NAME (records read once). */
function attributeNsmEnvironments(scan: HostScan, names = environmentNamesByInode(scan)): void {
  if (names.size === 0) return;
  for (const ns of scan.namespaces) {
    const name = names.get(ns.inode);
    if (name !== undefined) ns.owners.push({ kind: 'nsm', id: name, name });
  }
}

/** Fill `owners` of every namespace in the scan from every source nsm knows. */
export function attribute(scan: HostScan, options: AttributionOptions = {}): void {
  const procfs = new ProcFs(options.procRoot);
  const cgroups = new CgroupAttributor(procfs, options.paths);
  attributeIpNetns(scan);
  attributeNsmEnvironments(scan, options.environmentNames);
  attributeCgroups(scan, procfs, cgroups);
  attributeDockerNetns(scan, cgroups.names.dockerNetnsDir);
}

/**
 * Owners of one process (for inspect, ps, monitor): the container, pod or systemd unit its
 * cgroup names. Namespace-level names (netns:, nsm:) come from attribute() on a scan.
 * Throws the fs error (ENOENT/ESRCH when the process is gone).
 */
export function attributeProcess(pid: number, procRoot?: string, paths?: Partial<ContainerPaths>): Attribution[] {
  return new CgroupAttributor(new ProcFs(procRoot), paths).ofProcess(pid);
}

/** `--owner KIND` or `--owner KIND:NAME`. */
export interface OwnerFilter {
  kind: string;
  /** Matches the owner's name or id, or a prefix of a hex container id (as docker accepts). */
  name?: string;
}

const HEX_ID = new RegExp(`^[0-9a-f]{${SHORT_ID_LENGTH},}$`);

function ownerMatches(o: Attribution, f: OwnerFilter): boolean {
  if (o.kind !== f.kind) return false;
  if (f.name === undefined) return true;
  return o.name === f.name || o.id === f.name || (HEX_ID.test(o.id) && /^[0-9a-f]+$/.test(f.name) && o.id.startsWith(f.name));
}

/** True when any owner matches any filter; an empty filter list matches everything. */
export function matchesOwner(owners: readonly Attribution[], filters: readonly OwnerFilter[]): boolean {
  return filters.length === 0 || filters.some((f) => owners.some((o) => ownerMatches(o, f)));
}
