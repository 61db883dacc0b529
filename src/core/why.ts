/**
 * `nsm why NS` as a library call: everything that keeps one namespace alive (namespaces(7):
 * a process or thread in it, an open fd, a bind mount in any mount namespace, a socket of a
 * net namespace, an owned namespace for a user namespace, a child for a pid namespace) and
 * the commands that would release it.
 *
 * The facts come from one host scan that records every socket (SIOCGSKNS) and, for user and
 * pid namespaces, ioctl_ns(2) relations; namespaces that nothing but ownership or a child
 * holds are found by walking those links, as `nsm tree` does.
 */
import { readFileSync } from 'node:fs';
import { NsmError, UsageError } from '../sys/errors.js';
import { nsChain } from '../sys/libc.js';
import type { NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import { addRelations, listNamespaces, type NamespaceSummary } from './listing.js';
import type { Attribution, HostScan } from './model.js';
import { resolveTarget, targetLabel, type TargetSpec } from './target.js';

/** What the user names: an inode, a 64-bit id, or the namespace of one type of a process or environment. */
export type WhySpec = { kind: 'inode'; inode: number } | { kind: 'id'; id: number } | { kind: 'target'; target: TargetSpec; type: NsType };

/** Largest pid the kernel hands out (proc(5)); namespace inodes are far above it. */
const PID_MAX_LIMIT = 4194304;

/** `nsid:ID`, `ns:INODE` or a bare inode (a number above any pid); anything else is a target (PID or environment). */
export function parseWhySpec(text: string, type: NsType | undefined, parseTarget: (t: string) => TargetSpec): WhySpec {
  const id = /^nsid:([1-9][0-9]{0,15})$/.exec(text);
  if (id) return { kind: 'id', id: Number(id[1]) };
  const ino = /^(?:ns:)?([1-9][0-9]{0,15})$/.exec(text);
  if (ino && (text.startsWith('ns:') || Number(ino[1]) > PID_MAX_LIMIT)) return { kind: 'inode', inode: Number(ino[1]) };
  if (text.startsWith('nsid:') || text.startsWith('ns:')) throw new UsageError(`not a namespace: ${text} (nsid:ID or ns:INODE)`);
  if (type === undefined) throw new UsageError(`${text}: which of its namespaces? give -t TYPE (or an inode, ns:INODE, nsid:ID)`);
  return { kind: 'target', target: parseTarget(text), type };
}

export interface WhoProcess {
  pid: number;
  command: string;
}

export interface WhyHolders {
  type: NsType;
  inode: number;
  /** NS_GET_ID (Linux 6.18); undefined on older kernels. */
  id?: number;
  /** Found only as the owner or parent of another namespace (nothing else holds it). */
  discovered?: 'owner' | 'parent';
  names: Attribution[];
  /** Every process in it (count), the first few with their commands. */
  nprocs: number;
  processes: WhoProcess[];
  /** Threads in it whose process is in another namespace of this type. */
  threads: Array<WhoProcess & { tid: number }>;
  fds: Array<WhoProcess & { fd: number }>;
  /** Sockets in it (net only; SIOCGSKNS needs root). */
  sockets: Array<WhoProcess & { fd: number }>;
  /** Bind mounts, in every mount namespace: which one (inode, and a process in it). */
  mounts: Array<{ path: string; mntNs?: number; mntNsPid?: number; ours: boolean }>;
  /** user: the namespaces it owns; pid: its child pid namespaces. Each keeps it alive. */
  owned: Array<{ type: NsType; inode: number; id?: number }>;
  children: Array<{ type: NsType; inode: number; id?: number }>;
}

/** One step of the release plan: a command line, and what it releases. */
export interface ReleaseStep {
  argv: string[];
  why: string;
  /** Processes it signals, mount paths it removes: what a careful caller checks first. */
  pids: number[];
  paths: string[];
}

export interface WhyReport extends WhyHolders {
  plan: ReleaseStep[];
  /** Why the plan cannot be carried out (e.g. nsm itself is in the namespace). */
  refusal?: string;
}

const SHOWN_PROCESSES = 5;

interface HostView {
  listing: NamespaceSummary[];
  scan: HostScan;
  /** Namespaces found only through ONS/PNS links. */
  discovered: Map<number, { type: NsType; inode: number; id?: number; ownerUid?: number; how: 'owner' | 'parent'; ons?: number; pns?: number }>;
  relations: boolean;
}

async function look(withRelations: boolean): Promise<HostView> {
  const { namespaces: listing, scan } = await listNamespaces({ allSockets: true });
  const view: HostView = { listing, scan, discovered: new Map(), relations: withRelations };
  if (withRelations) relate(view);
  return view;
}

/** ONS/PNS of every row, and namespaces alive only as an owner or a parent (tree's discover()). */
function relate(view: HostView): void {
  view.relations = true;
  const known = (inode: number): boolean => view.listing.some((r) => r.ns === inode) || view.discovered.has(inode);
  for (const row of view.listing) {
    if (row.held.length === 1 && row.held[0] === 'socket') continue;
    addRelations(row);
  }
  for (const row of view.listing) {
    for (const [from, type, when] of [['owner', 'user', row.ons], ['parent', row.type, row.pns]] as const) {
      if (when === undefined || known(when) || (from === 'parent' && row.type !== 'pid' && row.type !== 'user')) continue;
      try {
        const chain = nsChain(row.path, from, known);
        chain.forEach((l, i) => {
          if (known(l.inode)) return;
          const up = chain[i + 1]?.inode;
          view.discovered.set(l.inode, { type, inode: l.inode, id: l.id, ownerUid: l.ownerUid, how: from, pns: up, ons: type === 'user' ? up : undefined });
        });
      } catch {
        // its holder went away since the scan
      }
    }
  }
}

function commandOf(scan: HostScan, pid: number): string {
  const p = scan.processes.get(pid);
  if (!p) return '?';
  return p.cmdline && p.cmdline !== '' ? p.cmdline : p.comm;
}

/** Find the namespace `spec` names in a view; undefined when it does not exist (or is not visible). */
function find(view: HostView, spec: WhySpec, procfs: ProcFs): { row?: NamespaceSummary; inode: number; type?: NsType } | undefined {
  if (spec.kind === 'target') {
    const target = resolveTarget(spec.target, procfs);
    const ref = procfs.readNsEntry(target.pid, spec.type);
    if (!ref) return undefined;
    return { row: view.listing.find((r) => r.ns === ref.inode), inode: ref.inode, type: spec.type };
  }
  const row = view.listing.find((r) => (spec.kind === 'id' ? r.detail.id === spec.id : r.ns === spec.inode));
  if (row) return { row, inode: row.ns, type: row.type };
  for (const d of view.discovered.values()) if (spec.kind === 'id' ? d.id === spec.id : d.inode === spec.inode) return { inode: d.inode, type: d.type };
  return undefined;
}

function holders(view: HostView, inode: number): WhyHolders | undefined {
  const row = view.listing.find((r) => r.ns === inode);
  const d = view.discovered.get(inode);
  if (!row && !d) return undefined;
  const scan = view.scan;
  const type = row?.type ?? d!.type;
  const rel = (r: { ns: number; type: NsType; detail: { id?: number } }) => ({ type: r.type, inode: r.ns, ...(r.detail.id !== undefined ? { id: r.detail.id } : {}) });
  const relD = (x: { type: NsType; inode: number; id?: number }) => ({ type: x.type, inode: x.inode, ...(x.id !== undefined ? { id: x.id } : {}) });
  const owned = type === 'user' ? [...view.listing.filter((r) => r.ns !== inode && (r.ons === inode || (r.type === 'user' && r.pns === inode))).map(rel), ...[...view.discovered.values()].filter((x) => x.ons === inode || (x.type === 'user' && x.pns === inode)).map(relD)] : [];
  const children = type === 'pid' ? [...view.listing.filter((r) => r.type === 'pid' && r.pns === inode).map(rel), ...[...view.discovered.values()].filter((x) => x.type === 'pid' && x.pns === inode).map(relD)] : [];
  const selfMnt = scan.processes.get(process.pid)?.ns.mnt ?? new ProcFs().readNsEntry('self', 'mnt')?.inode;
  const mntPid = (mntNs: number | undefined): number | undefined => (mntNs === undefined ? undefined : view.listing.find((r) => r.type === 'mnt' && r.ns === mntNs)?.pid ?? [...scan.processes.values()].find((p) => p.ns.mnt === mntNs)?.pid);
  const ns = row?.detail;
  return {
    type,
    inode,
    ...(ns?.id !== undefined ? { id: ns.id } : d?.id !== undefined ? { id: d.id } : {}),
    ...(d ? { discovered: d.how } : {}),
    names: row?.owners ?? [],
    nprocs: ns?.pids.length ?? 0,
    processes: (ns?.pids ?? []).slice(0, SHOWN_PROCESSES).map((pid) => ({ pid, command: commandOf(scan, pid) })),
    threads: (ns?.threads ?? []).map((t) => ({ pid: t.pid, tid: t.tid, command: commandOf(scan, t.pid) })),
    fds: (ns?.fds ?? []).map((f) => ({ pid: f.pid, fd: f.fd, command: commandOf(scan, f.pid) })),
    sockets: (ns?.sockets ?? []).map((f) => ({ pid: f.pid, fd: f.fd, command: commandOf(scan, f.pid) })),
    mounts: (ns?.mounts ?? []).map((m) => ({ path: m.path, mntNs: m.mntNs, mntNsPid: m.mntNs === selfMnt ? undefined : mntPid(m.mntNs), ours: m.mntNs === selfMnt || m.visible })),
    owned,
    children,
  };
}

/**
 * The release plan: names first (nsm destroy, ip netns del: they also stop holders and remove
 * their mounts), then the other mounts (umount, in a foreign mount namespace through
 * nsenter(1)), then the processes (kill), then, for a user or pid namespace, what it owns or
 * parents, recursively. A pid is signalled once.
 */
function planFor(view: HostView, h: WhyHolders, seen = new Set<number>(), killed = new Set<number>(), depth = 0): ReleaseStep[] {
  seen.add(h.inode);
  const steps: ReleaseStep[] = [];
  const coveredPaths = new Set<string>();
  const coveredPids = new Set<number>();
  for (const o of h.names) {
    if (o.kind === 'nsm') {
      steps.push({ argv: ['nsm', 'destroy', o.name], why: `environment ${o.name}`, pids: [], paths: [] });
      // destroy stops the holder and removes the pins and the /run/netns link.
      for (const m of h.mounts) if (m.ours && (m.path.includes(`/${o.name}/`) || m.path === `/run/netns/${o.name}`)) coveredPaths.add(m.path);
    } else if (o.kind === 'netns') {
      steps.push({ argv: ['ip', 'netns', 'delete', o.name], why: `ip netns name ${o.name}`, pids: [], paths: [`/run/netns/${o.name}`] });
      coveredPaths.add(`/run/netns/${o.name}`);
    }
  }
  for (const m of h.mounts) {
    if (m.ours && coveredPaths.has(m.path)) continue;
    if (m.ours) {
      steps.push({ argv: ['umount', m.path], why: 'bind mount', pids: [], paths: [m.path] });
    } else if (m.mntNsPid !== undefined) {
      steps.push({ argv: ['nsenter', '-t', String(m.mntNsPid), '-m', 'umount', m.path], why: `bind mount in mnt:[${m.mntNs}]`, pids: [m.mntNsPid], paths: [m.path] });
    }
    coveredPaths.add(m.path);
  }
  const kill = (pid: number, why: string): void => {
    if (killed.has(pid) || coveredPids.has(pid)) return;
    killed.add(pid);
    steps.push({ argv: ['kill', '-KILL', String(pid)], why, pids: [pid], paths: [] });
  };
  const ns = view.listing.find((r) => r.ns === h.inode)?.detail;
  for (const pid of ns?.pids ?? []) kill(pid, 'process in it');
  for (const t of h.threads) kill(t.pid, `thread ${t.tid} in it`);
  for (const f of h.fds) kill(f.pid, `fd ${f.fd} on it`);
  for (const s of h.sockets) kill(s.pid, `socket fd ${s.fd} in it`);
  if (depth < 8) {
    for (const r of [...h.owned, ...h.children]) {
      if (seen.has(r.inode)) continue;
      const sub = holders(view, r.inode);
      if (sub) steps.push(...planFor(view, sub, seen, killed, depth + 1));
    }
  }
  return steps;
}

export interface WhyOptions {
  procRoot?: string;
}

/** Facts and plan for one namespace; NsmError (exit 1) when it does not exist. */
export async function why(spec: WhySpec, options: WhyOptions = {}): Promise<WhyReport> {
  const procfs = new ProcFs(options.procRoot);
  const knownType = spec.kind === 'target' ? spec.type : undefined;
  let view = await look(knownType === 'user' || knownType === 'pid');
  let found = find(view, spec, procfs);
  if (!view.relations && (!found || found.type === 'user' || found.type === 'pid')) {
    relate(view);
    found = find(view, spec, procfs);
  }
  const h = found && holders(view, found.inode);
  if (!h) throw new NsmError(`namespace ${specText(spec)} not found`, { hint: 'nsm ls lists the namespaces nsm can see' });
  const plan = planFor(view, h);
  const report: WhyReport = { ...h, plan };
  const own = procfs.readNsEntry('self', h.type)?.inode;
  if (own === h.inode) report.refusal = `nsm itself is in ${h.type}:[${h.inode}]: releasing it would mean stopping this host's processes`;
  else if (plan.some((s) => s.pids.includes(process.pid) || s.pids.includes(1))) report.refusal = 'the plan would signal PID 1 or nsm itself';
  return report;
}

export function specText(spec: WhySpec): string {
  return spec.kind === 'id' ? `nsid:${spec.id}` : spec.kind === 'inode' ? `ns:${spec.inode}` : `${spec.type} of ${spec.target.kind === 'env' ? spec.target.name : targetLabel(spec.target)}`;
}

/** After a release: whether the namespace is still there (by id where the kernel has one, else inode). */
export async function stillThere(report: WhyReport, waitMs = 3000): Promise<boolean> {
  const spec: WhySpec = report.id !== undefined ? { kind: 'id', id: report.id } : { kind: 'inode', inode: report.inode };
  // A killed process holds its namespaces until it has exited: look again for a while.
  for (const until = Date.now() + waitMs; ; ) {
    const view = await look(report.type === 'user' || report.type === 'pid');
    if (find(view, spec, new ProcFs()) === undefined) return false;
    if (Date.now() > until) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ------------------------------------------------------------------ --userns-limit

export interface UsernsUsage {
  uid: number;
  /** User namespaces created by this uid (NS_GET_OWNER_UID) that are alive. */
  count: number;
  namespaces: Array<{ inode: number; id?: number; held: string[]; pid?: number; discovered?: 'owner' | 'parent' }>;
}

export interface UsernsLimits {
  /** /proc/sys/user/max_user_namespaces: the per-uid limit in our user namespace (ucounts). */
  maxUserNamespaces?: number;
  users: UsernsUsage[];
}

function readLimit(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/**
 * Per uid, how many user namespaces exist against the limit. user_namespaces(7): each
 * creation is charged to the creator's uid in every ancestor user namespace (ucounts), so the
 * count per creator uid is what ENOSPC compares with max_user_namespaces.
 */
export async function usernsLimits(): Promise<UsernsLimits> {
  const view = await look(true);
  const byUid = new Map<number, UsernsUsage>();
  const add = (uid: number | undefined, n: UsernsUsage['namespaces'][number]): void => {
    if (uid === undefined) return;
    let u = byUid.get(uid);
    if (!u) byUid.set(uid, (u = { uid, count: 0, namespaces: [] }));
    u.count++;
    u.namespaces.push(n);
  };
  for (const r of view.listing) if (r.type === 'user') add(r.detail.creatorUid, { inode: r.ns, ...(r.detail.id !== undefined ? { id: r.detail.id } : {}), held: r.held, pid: r.pid });
  for (const d of view.discovered.values()) {
    if (d.type !== 'user') continue;
    add(d.ownerUid, { inode: d.inode, ...(d.id !== undefined ? { id: d.id } : {}), held: ['owned'], discovered: d.how });
  }
  const users = [...byUid.values()].sort((a, b) => b.count - a.count || a.uid - b.uid);
  const max = readLimit('/proc/sys/user/max_user_namespaces');
  return { ...(max !== undefined ? { maxUserNamespaces: max } : {}), users };
}
