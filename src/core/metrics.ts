/**
 * Namespace metrics for Prometheus: one host scan turned into gauges (`nsm metrics`, and
 * each scrape of `nsm serve`). The exposition itself is prom-client's; this module decides
 * what is counted. Counters of created and destroyed namespaces need the monitor and live
 * in src/core/exporter.ts.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';
import { hasErrno } from '../sys/errors.js';
import { readSysctl } from '../sys/host.js';
import { nsRelations } from '../sys/libc.js';
import { NS_TYPE_NAMES, type NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import { VERSION } from '../version.js';
import { attribute } from './attribution.js';
import { heldBy, type HeldBy, type Namespace } from './model.js';
import { listEnvironments } from './registry/list.js';
import { scanHost } from './scan.js';

export interface MetricsOptions {
  /** Label namespaces by owner name too (nsm_namespaces_by_owner{owner_name}); unbounded cardinality. */
  ownerNames?: boolean;
  procRoot?: string;
}

/** What one scan found, as numbers; labels are joined with NUL in the map keys. */
export interface MetricsSnapshot {
  /** type, held -> namespaces. held: the first of procs, threads, fd, mount that keeps it alive. */
  namespaces: Map<string, number>;
  /** type, owner_kind[, owner_name] -> namespaces; owner_kind "none" for those nobody claims. */
  byOwner: Map<string, number>;
  /** creator uid (NS_GET_OWNER_UID) -> user namespaces. */
  userNamespaces: Map<number, number>;
  /** /proc/sys/user limit name (max_user_namespaces, max_net_namespaces ...) -> value. */
  limits: Map<string, number>;
  /** Environment state (running, dead, reused, pinned, creating, interrupted, unreadable) -> count. */
  environments: Map<string, number>;
  scanSeconds: number;
  /** Some processes could not be read (another user's, when unprivileged): the counts are of what was seen. */
  partial: boolean;
}

const KEY_SEPARATOR = '\0';
const key = (...parts: string[]): string => parts.join(KEY_SEPARATOR);
const bump = <K>(map: Map<K, number>, k: K): void => void map.set(k, (map.get(k) ?? 0) + 1);

/** Scan the host once and count. */
export async function collectMetrics(options: MetricsOptions = {}): Promise<MetricsSnapshot> {
  const started = process.hrtime.bigint();
  const scan = await scanHost({ procRoot: options.procRoot });
  attribute(scan, { procRoot: options.procRoot });
  const procfs = new ProcFs(options.procRoot);
  const namespaces = new Map<string, number>();
  const byOwner = new Map<string, number>();
  const userNamespaces = new Map<number, number>();
  for (const ns of scan.namespaces) {
    const held: HeldBy | undefined = heldBy(ns)[0];
    if (held === undefined) continue;
    bump(namespaces, key(ns.type, held));
    const kinds = new Set<string>();
    for (const o of ns.owners) {
      if (options.ownerNames) bump(byOwner, key(ns.type, o.kind, o.name));
      else kinds.add(o.kind);
    }
    if (ns.owners.length === 0) {
      if (options.ownerNames) bump(byOwner, key(ns.type, 'none', ''));
      else kinds.add('none');
    }
    for (const kind of kinds) bump(byOwner, key(ns.type, kind));
    if (ns.type === 'user') {
      const uid = creatorUid(procfs, ns);
      if (uid !== undefined) bump(userNamespaces, uid);
    }
  }
  const scanSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    namespaces,
    byOwner,
    userNamespaces,
    limits: userNamespaceLimits(),
    environments: environmentStates(options.procRoot),
    scanSeconds,
    partial: scan.stats.denied > 0,
  };
}

/**
 * user_namespaces(7) and namespaces(7) "/proc/sys/user": limits on the namespaces of each
 * type that one user may create in the user namespace nsm runs in (ucounts); creating one
 * more fails with ENOSPC. A type the kernel lacks has no file.
 */
function userNamespaceLimits(): Map<string, number> {
  const limits = new Map<string, number>();
  for (const type of NS_TYPE_NAMES) {
    const name = `max_${type}_namespaces`;
    const value = readSysctl(`user.${name}`);
    if (value !== undefined && /^[0-9]+$/.test(value.trim())) limits.set(name, Number(value.trim()));
  }
  return limits;
}

/** ioctl_ns(2) NS_GET_OWNER_UID through any path that refers to the user namespace; undefined when none is readable. */
function creatorUid(procfs: ProcFs, ns: Namespace): number | undefined {
  const paths = [
    ...ns.pids.map((pid) => procfs.path(pid, 'ns', 'user')),
    ...ns.threads.map((t) => procfs.path(t.pid, 'task', String(t.tid), 'ns', 'user')),
    ...ns.fds.map((f) => procfs.path(f.pid, 'fd', String(f.fd))),
    ...ns.mounts.filter((m) => m.visible).map((m) => m.path),
  ];
  for (const path of paths.slice(0, 4)) {
    try {
      const uid = nsRelations(path).ownerUid;
      if (uid !== undefined) return uid;
    } catch (err) {
      if (!hasErrno(err, 'ENOENT', 'ESRCH', 'EACCES', 'EPERM')) throw err;
    }
  }
  return undefined;
}

/**
 * Environments by state. A name reserved by a create whose creator is no longer running is
 * "interrupted" (nsm gc undoes it); the registry's own lock decides that for gc, this only
 * looks at the creator's pid.
 */
function environmentStates(procRoot = '/proc'): Map<string, number> {
  // The usual states from 0, so that an alert on one of them has a series to look at.
  const states = new Map<string, number>(['running', 'dead', 'pinned', 'interrupted'].map((s) => [s, 0]));
  let listing;
  try {
    listing = listEnvironments({ procRoot });
  } catch {
    states.set('unreadable', 1); // no state directory nsm may read: say so rather than fail the scrape
    return states;
  }
  for (const env of listing.environments) bump(states, env.state);
  for (const c of listing.creating) {
    const alive = c.creatorPid !== undefined && existsSync(`${procRoot}/${c.creatorPid}`);
    bump(states, alive ? 'creating' : 'interrupted');
  }
  for (let i = 0; i < listing.problems.length; i++) bump(states, 'unreadable');
  return states;
}

/** The gauges of one snapshot; created once per registry, set again for every scrape. */
export class SnapshotGauges {
  private readonly gauges;

  constructor(
    prom: typeof import('prom-client'),
    registry: Registry,
    private readonly ownerNames: boolean,
  ) {
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new prom.Gauge<L>({ name, help, labelNames, registers: [registry] });
    this.gauges = {
      namespaces: gauge('nsm_namespaces', 'Namespaces on the host, by type and by what keeps each alive (procs, threads, fd, mount: the first that applies).', ['type', 'held']),
      byOwner: gauge(
        'nsm_namespaces_by_owner',
        'Namespaces by type and owner kind (docker, podman, kubernetes, systemd, netns, nsm ...; none: unclaimed).',
        ownerNames ? (['type', 'owner_kind', 'owner_name'] as const) : (['type', 'owner_kind'] as const),
      ),
      userNamespaces: gauge('nsm_user_namespaces', 'User namespaces by the uid that created them (NS_GET_OWNER_UID).', ['uid']),
      limits: gauge('nsm_user_namespaces_limit', 'Per-user namespace limits of the user namespace nsm runs in (/proc/sys/user/max_*_namespaces), by limit name.', ['limit']),
      environments: gauge('nsm_environments', 'nsm environments by state (running, dead, reused, pinned, creating, interrupted, unreadable).', ['state']),
      scanSeconds: gauge('nsm_scan_duration_seconds', 'Wall time of the host scan behind these figures.', []),
      partial: gauge('nsm_scan_partial', '1 when some processes could not be read (other users\' when not root): the counts are of what nsm could see.', []),
      build: gauge('nsm_build_info', 'Always 1; the version of nsm in a label.', ['version']),
    };
    this.gauges.build.set({ version: VERSION }, 1);
  }

  set(s: MetricsSnapshot): void {
    const g = this.gauges;
    for (const gauge of [g.namespaces, g.byOwner, g.userNamespaces, g.limits, g.environments]) gauge.reset();
    for (const [k, n] of s.namespaces) {
      const [type, held] = k.split(KEY_SEPARATOR);
      g.namespaces.set({ type, held }, n);
    }
    for (const [k, n] of s.byOwner) {
      const [type, owner_kind, owner_name] = k.split(KEY_SEPARATOR);
      g.byOwner.set(this.ownerNames ? { type, owner_kind, owner_name } : { type, owner_kind }, n);
    }
    for (const [uid, n] of s.userNamespaces) g.userNamespaces.set({ uid: String(uid) }, n);
    for (const [limit, n] of s.limits) g.limits.set({ limit }, n);
    for (const [state, n] of s.environments) g.environments.set({ state }, n);
    g.scanSeconds.set(s.scanSeconds);
    g.partial.set(s.partial ? 1 : 0);
  }
}

/**
 * prom-client, loaded when a metrics command runs: it stays out of the bundle (package.json
 * "bundle:cjs" marks it external) so that other commands do not pay for it at start-up.
 * require(), not import(): bin/nsm runs the bundle through vm.Script, which has no
 * dynamic import.
 */
export async function loadPromClient(): Promise<typeof import('prom-client')> {
  return createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
}

/** `nsm metrics`: the text exposition of one scan. */
export async function metricsText(options: MetricsOptions = {}): Promise<{ text: string; contentType: string }> {
  const prom = await loadPromClient();
  const registry = new prom.Registry();
  new SnapshotGauges(prom, registry, options.ownerNames ?? false).set(await collectMetrics(options));
  return { text: await registry.metrics(), contentType: registry.contentType };
}

/** Every namespace type, for counters that start at 0 (Prometheus's increase() needs a first sample). */
export const METRIC_TYPES: readonly NsType[] = NS_TYPE_NAMES;
