/**
 * `nsm ps` as a library call: processes grouped by the namespace of one type they are in.
 */
import type { ContainerPaths } from '../sys/containers.js';
import { hasErrno } from '../sys/errors.js';
import type { NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import { userName } from '../sys/users.js';
import { attribute, matchesOwner, type OwnerFilter } from './attribution.js';
import { heldBy, type Attribution, type HeldBy, type ScanStats } from './model.js';
import { hiddenProcesses } from './listing.js';
import { scanHost } from './scan.js';
import { concrete, namespaceFileOf, readTargetNamespaces, resolveTarget, type Target, type TargetSpec } from './target.js';

export interface GroupedProcess {
  pid: number;
  ppid: number;
  uid: number;
  user: string;
  comm: string;
  /** Command line; the comm in brackets for kernel threads and zombies (as ps shows them). */
  command: string;
}

export interface NamespaceGroup {
  type: NsType;
  ns: number;
  nprocs: number;
  /** Ascending by pid. */
  processes: GroupedProcess[];
  held: HeldBy[];
  /** Whom the namespace belongs to (ip netns name, nsm environment ...). */
  owners: Attribution[];
  /** No process of it is visible, and some processes' namespaces could not be read (EACCES). */
  processesHidden: boolean;
}

export interface ProcessGrouping {
  type: NsType;
  /** Set when the grouping was limited to the namespace of one target (no pid for a namespace file). */
  target?: Target | { label: string; pid?: undefined };
  /** The `--owner` filters applied, when any (not part of the JSON document). */
  owners?: OwnerFilter[];
  /** Ascending by inode, as ls sorts. */
  groups: NamespaceGroup[];
  stats: ScanStats;
  /** Processes whose namespaces could not be read (listing.ts hiddenProcesses()): in no group. */
  hiddenProcesses: number;
}

export interface PsOptions {
  procRoot?: string;
  /** Namespace type to group by (default pid). */
  type?: NsType;
  /** Only the namespace (of `type`) this target is in. */
  target?: TargetSpec;
  /** Include namespaces no process is in (held by an fd or a mount only); default true. */
  empty?: boolean;
  /**
   * Only namespaces (of `type`) with an owner matching one of these (`--owner`, as ls
   * takes it); empty or absent: all. A process is kept with its namespace, so
   * `ps --owner docker` shows the processes of docker's pid namespaces, and `-t net` those
   * of docker's net namespaces (a `--pid=host` container has none of the first kind).
   */
  owners?: readonly OwnerFilter[];
  /** Where container runtimes keep their state (default: their standard paths). */
  containerPaths?: Partial<ContainerPaths>;
}

export async function processesByNamespace(options: PsOptions = {}): Promise<ProcessGrouping> {
  const type = options.type ?? 'pid';
  const procfs = new ProcFs(options.procRoot);
  let target: ProcessGrouping['target'];
  let only: number | undefined;
  const spec = options.target && concrete(options.target);
  if (spec?.kind === 'file') {
    // netns:NAME or a namespace file: its inode, when it is of this type (ip netns pids NAME).
    const file = namespaceFileOf(spec, type);
    target = { label: file.label };
    only = file.inode;
  } else if (spec) {
    target = resolveTarget(spec, procfs);
    only = readTargetNamespaces(target, [{ entry: type, type }], procfs)[0]!.inode;
  }
  const scan = await scanHost({ procRoot: options.procRoot, types: [type], threads: false, allCmdlines: true });
  attribute(scan, { procRoot: options.procRoot, paths: options.containerPaths });
  const groups: NamespaceGroup[] = [];
  const hidden = hiddenProcesses(scan.stats);
  for (const ns of scan.namespaces) {
    if (only !== undefined && ns.inode !== only) continue;
    if (options.owners && !matchesOwner(ns.owners, options.owners)) continue;
    const processes: GroupedProcess[] = [];
    for (const pid of ns.pids) {
      const p = scan.processes.get(pid)!;
      let args: string[];
      try {
        // The scanner read it in its walk (too long a command line for its record: read here).
        args = p.cmdline !== undefined ? (p.cmdline === '' ? [] : [p.cmdline]) : procfs.readCmdline(pid);
      } catch (err) {
        // Exited since the scan (ENOENT/ESRCH): it is no longer in the namespace, leave it out.
        // Not permitted (EACCES, hidepid=1 mounts): it exists, show it by its comm.
        if (hasErrno(err, 'ENOENT', 'ESRCH')) {
          scan.stats.gone++;
          continue;
        }
        if (!hasErrno(err, 'EACCES', 'EPERM')) throw err;
        args = [];
      }
      processes.push({ pid, ppid: p.ppid, uid: p.uid, user: userName(p.uid), comm: p.comm, command: args.length > 0 ? args.join(' ').trimEnd() : `[${p.comm}]` });
    }
    const held = heldBy(ns).filter((h) => h !== 'procs' || processes.length > 0);
    if (processes.length === 0 && (options.empty === false || held.length === 0)) continue;
    groups.push({ type, ns: ns.inode, nprocs: processes.length, processes, held, owners: ns.owners, processesHidden: processes.length === 0 && hidden > 0 });
  }
  const owners = options.owners && options.owners.length > 0 ? [...options.owners] : undefined;
  return { type, target, ...(owners ? { owners } : {}), groups, stats: scan.stats, hiddenProcesses: hidden };
}

