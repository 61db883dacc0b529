/**
 * `nsm tree` as a library call: namespaces arranged by ownership (each user namespace with
 * the namespaces it owns), by hierarchy (pid and user parents), or with their processes.
 *
 * Relations come from ioctl_ns(2) (NS_GET_USERNS, NS_GET_PARENT). Walking them also finds
 * namespaces no process, fd or mount holds: a user namespace is kept alive by the
 * namespaces it owns (user_namespaces(7)), a pid namespace by its children; those appear
 * with `discovered` set.
 */
import { hasErrno } from '../sys/errors.js';
import { nsChain, type NsLink } from '../sys/libc.js';
import { NS_TYPE_NAMES, nsTypeInfo, type NsType } from '../sys/nstypes.js';
import { userName } from '../sys/users.js';
import { listNamespaces, type NamespaceSummary } from './listing.js';
import type { Attribution, HeldBy, ProcessInfo } from './model.js';

export type TreeView = 'owner' | 'parent' | 'process';

/** One namespace in a tree. */
export interface TreeNode {
  type: NsType;
  ns: number;
  /** 64-bit namespace ID (NS_GET_ID, Linux 6.18) beside the inode. */
  id?: number;
  nprocs: number;
  pid?: number;
  command?: string;
  user?: string;
  held: HeldBy[];
  owners: Attribution[];
  /** Owning user namespace (ONS) and parent (PNS, pid and user only) where visible. */
  ons?: number;
  pns?: number;
  /** For a user namespace: uid of its creator. */
  creatorUid?: number;
  /**
   * Set when no process, fd or mount nsm can see holds it and it was found only as the
   * owner ('owner') or parent ('parent') of another namespace, which keeps it alive.
   */
  discovered?: 'owner' | 'parent';
  /** owner view: the user namespaces and other namespaces it owns; parent view: child namespaces. */
  children: TreeNode[];
  /** process view: its processes as a parent/child forest. */
  processes?: TreeProcess[];
}

export interface TreeProcess {
  pid: number;
  ppid: number;
  comm: string;
  children: TreeProcess[];
}

export interface NamespaceTree {
  view: TreeView;
  /** owner: the top user namespaces; parent: the top pid and user namespaces; process: per the type asked. */
  roots: TreeNode[];
  /** How many namespaces of each type exist (discovered ones included), for the count bars. */
  counts: Record<NsType, number>;
}

export interface TreeOptions {
  procRoot?: string;
  view?: TreeView;
  /** process view: the namespace type to show processes under (default pid). */
  type?: NsType;
}

export async function namespaceTree(options: TreeOptions = {}): Promise<NamespaceTree> {
  const view = options.view ?? 'owner';
  const listing = await listNamespaces({ procRoot: options.procRoot, relations: true });
  const nodes = new Map<number, TreeNode>();
  for (const row of listing.namespaces) nodes.set(row.ns, nodeOf(row));
  discover(listing.namespaces, nodes);

  const counts = Object.fromEntries(NS_TYPE_NAMES.map((t) => [t, 0])) as Record<NsType, number>;
  for (const n of nodes.values()) counts[n.type]++;

  const all = [...nodes.values()].sort((a, b) => a.ns - b.ns);
  let roots: TreeNode[];
  if (view === 'owner') {
    // Roots: the top user namespace(s), and any namespace whose owner we may not see.
    roots = link(all, (n) => (n.type === 'user' ? n.pns ?? n.ons : n.ons), nodes);
    // Within a user namespace: nested user namespaces first, then the rest in nsenter order.
    const order = (n: TreeNode): number => NS_TYPE_NAMES.indexOf(n.type);
    for (const n of all) n.children.sort((a, b) => order(a) - order(b) || a.ns - b.ns);
  } else if (view === 'parent') {
    const hierarchical = all.filter((n) => nsTypeInfo(n.type).hierarchical);
    roots = link(hierarchical, (n) => n.pns, nodes);
  } else {
    const type = options.type ?? 'pid';
    const ofType = all.filter((n) => n.type === type);
    roots = nsTypeInfo(type).hierarchical ? link(ofType, (n) => n.pns, nodes) : ofType;
    const byNs = new Map(listing.namespaces.map((r) => [r.ns, r]));
    for (const n of ofType) n.processes = processForest(byNs.get(n.ns)?.detail.pids ?? [], listing.scan.processes);
  }
  return { view, roots, counts };
}

function nodeOf(row: NamespaceSummary): TreeNode {
  return {
    type: row.type,
    ns: row.ns,
    id: row.detail.id,
    nprocs: row.nprocs,
    pid: row.pid,
    command: row.command,
    user: row.user,
    held: row.held,
    owners: row.owners,
    ons: row.ons,
    pns: row.pns,
    creatorUid: row.detail.creatorUid,
    children: [],
  };
}

/**
 * Follow ONS and PNS links that lead to namespaces the scan did not see, and add them.
 * Each walk stops at the first namespace already known, so the cost is one ioctl per
 * link of the forest, not per namespace times depth.
 */
function discover(rows: readonly NamespaceSummary[], nodes: Map<number, TreeNode>): void {
  const known = (inode: number): boolean => nodes.has(inode);
  const add = (chain: NsLink[], type: NsType, how: 'owner' | 'parent'): void => {
    chain.forEach((l, i) => {
      if (nodes.has(l.inode)) return;
      const parent = chain[i + 1]?.inode;
      nodes.set(l.inode, {
        type,
        ns: l.inode,
        id: l.id,
        nprocs: 0,
        held: [],
        owners: [],
        pns: parent,
        // A user namespace's owner is its parent (NS_GET_USERNS on it returns the parent).
        ons: type === 'user' ? parent : undefined,
        creatorUid: l.ownerUid,
        user: l.ownerUid === undefined ? undefined : userName(l.ownerUid),
        discovered: how,
        children: [],
      });
    });
  };
  for (const row of rows) {
    try {
      if (row.ons !== undefined && !known(row.ons)) add(nsChain(row.path, 'owner', known), 'user', 'owner');
      if (row.pns !== undefined && !known(row.pns)) add(nsChain(row.path, 'parent', known), row.type, 'parent');
    } catch (err) {
      // The namespace's last holder went away since the scan: nothing more to learn from it.
      if (!hasErrno(err, 'ENOENT', 'ESRCH', 'EACCES')) throw err;
    }
  }
}

/** Attach each node to the node `parentOf` names; return those with no visible parent. */
function link(nodes: readonly TreeNode[], parentOf: (n: TreeNode) => number | undefined, all: Map<number, TreeNode>): TreeNode[] {
  const roots: TreeNode[] = [];
  for (const n of nodes) {
    const p = parentOf(n);
    const parent = p === undefined ? undefined : all.get(p);
    if (parent && parent !== n) parent.children.push(n);
    else roots.push(n);
  }
  return roots;
}

/** The processes of one namespace as a forest by ppid: a process whose parent is elsewhere is a root. */
function processForest(pids: readonly number[], processes: Map<number, ProcessInfo>): TreeProcess[] {
  const inside = new Map<number, TreeProcess>();
  for (const pid of pids) {
    const p = processes.get(pid);
    if (p) inside.set(pid, { pid, ppid: p.ppid, comm: p.comm, children: [] });
  }
  const roots: TreeProcess[] = [];
  for (const p of inside.values()) {
    const parent = inside.get(p.ppid);
    if (parent) parent.children.push(p);
    else roots.push(p);
  }
  return roots;
}
