/**
 * From what a user asked (`nsm create` / `nsm unshare` options) to the NamespaceConfig the
 * native helper gets: default types, implied types, the id mapping, and the mounts a new
 * environment needs to be coherent. Pure: no system calls, so every rule has a unit test.
 */
import type { IdExtent, NamespaceConfig, Propagation, UserMapping } from '../sys/helper.js';
import { NS_TYPES, type NsType } from '../sys/nstypes.js';
import { EXIT_NSM_FAILED, EXIT_RUNTIME, NsmError, SysError, UsageError } from '../sys/errors.js';

/** The options `create` and `unshare` share, as parsed from the command line. */
export interface NamespaceRequest {
  /** Types asked for with -t or --net/--uts/...; undefined or empty: the defaults. */
  types?: NsType[];
  hostname?: string;
  mapRoot?: boolean;
  mapUser?: number;
  mapGroup?: number;
  mapAuto?: boolean;
  /** unshare(1) --map-users/--map-groups: a block of ids (newuidmap/newgidmap unless root). */
  mapUsers?: IdExtent;
  mapGroups?: IdExtent;
  /** setgroups(2) inside the new user namespace (default deny). */
  setgroups?: 'allow' | 'deny';
  /** undefined: on when pid and mnt are both new. */
  mountProc?: boolean;
  /** undefined: on when net and mnt are both new. */
  mountSys?: boolean;
  propagation?: Propagation;
  monotonic?: number;
  boottime?: number;
  /** `lo` up in a new net namespace; default true. */
  loopback?: boolean;
}

/** Without -t: what root gets; an unprivileged user gets these plus user (mapped root), as with any types. */
export const DEFAULT_ROOT_TYPES: readonly NsType[] = ['mnt', 'uts', 'ipc', 'pid', 'net', 'cgroup'];

/** In nsenter order (the NS_TYPES table), without duplicates. */
function ordered(types: Iterable<NsType>): NsType[] {
  const set = new Set(types);
  return NS_TYPES.map((t) => t.name).filter((t) => set.has(t));
}

/**
 * The types a request creates. Options imply their namespace as unshare(1)'s do
 * (--map-root-user implies --user, --mount-proc implies --mount): --map-* add user,
 * --monotonic/--boottime add time, --hostname adds uts, --mount-proc adds mnt.
 */
export function requestedTypes(req: NamespaceRequest, euid: number): NsType[] {
  const types = new Set<NsType>(req.types && req.types.length > 0 ? req.types : DEFAULT_ROOT_TYPES);
  // unshare(2): every other type needs CAP_SYS_ADMIN, which a non-root caller has only in a
  // user namespace it creates: it gets one (mapped root, below), asked for or not.
  if (euid !== 0) types.add('user');
  if (req.mapRoot || req.mapUser !== undefined || req.mapGroup !== undefined || req.mapAuto || req.setgroups !== undefined || req.mapUsers || req.mapGroups) types.add('user');
  if (req.monotonic !== undefined || req.boottime !== undefined) types.add('time');
  if (req.hostname !== undefined) types.add('uts');
  if (req.mountProc) types.add('mnt');
  return ordered(types);
}

/**
 * The helper configuration for `req`. `name` (an environment's) is the default hostname of a
 * new UTS namespace; `unshare` passes none and keeps the copied hostname.
 */
export function planNamespaces(req: NamespaceRequest, ctx: { euid: number; name?: string }): NamespaceConfig {
  const types = requestedTypes(req, ctx.euid);
  const has = (t: NsType) => types.includes(t);
  const config: NamespaceConfig = { types };
  if (has('user')) {
    const map: UserMapping = {};
    // A user namespace without a mapping shows every id as 65534 and grants nothing useful:
    // map the caller to root inside unless another single mapping was asked for.
    map.root = req.mapRoot ?? (req.mapUser === undefined && req.mapGroup === undefined);
    if (req.mapUser !== undefined) map.user = req.mapUser;
    if (req.mapGroup !== undefined) map.group = req.mapGroup;
    if (req.mapAuto) map.auto = true;
    if (req.mapUsers) map.usersRange = req.mapUsers;
    if (req.mapGroups) map.groupsRange = req.mapGroups;
    // Without root only newuidmap/newgidmap may map ids other than the caller's (subuid(5)).
    if ((req.mapUsers || req.mapGroups) && ctx.euid !== 0) map.tools = true;
    if (req.setgroups !== undefined) {
      // newgidmap decides setgroups itself (it writes "deny" unless /etc/subgid allows more).
      if (req.mapAuto) throw new UsageError('--setgroups cannot be combined with --map-auto (newgidmap decides)');
      map.setgroups = req.setgroups;
    }
    if (map.root && (req.mapUser !== undefined || req.mapGroup !== undefined)) {
      throw new UsageError('--map-root cannot be combined with --map-user or --map-group');
    }
    config.map = map;
  }
  const hostname = req.hostname ?? (has('uts') ? ctx.name : undefined);
  if (hostname !== undefined) config.hostname = hostname;
  if (req.monotonic !== undefined || req.boottime !== undefined) {
    config.timeOffsets = { monotonic: req.monotonic ?? 0, boottime: req.boottime ?? 0 };
  }
  // unshare(1) applies --propagation only with a new mount namespace and ignores it otherwise.
  if (req.propagation !== undefined && has('mnt')) config.propagation = req.propagation;
  const mountProc = req.mountProc ?? (has('pid') && has('mnt'));
  if (mountProc) {
    if (!has('pid')) throw new UsageError('--mount-proc needs a new pid namespace (add --pid)');
    config.mountProc = true;
  }
  // sysfs shows the net namespace of whoever mounted it: a fresh /sys keeps /sys/class/net
  // in agreement with `ip link` inside, as `ip netns exec` does.
  const mountSys = req.mountSys ?? (has('net') && has('mnt'));
  if (mountSys) {
    if (!has('net') || !has('mnt')) throw new UsageError('--mount-sys needs new net and mount namespaces (add --net --mount)');
    config.mountSys = true;
  }
  if (has('net')) config.loopback = req.loopback ?? true;
  return config;
}

/**
 * A helper failure that only means "not privileged enough", said as what is needed.
 * unshare(2): creating any namespace but a user namespace needs CAP_SYS_ADMIN; in a new
 * user namespace the caller has it.
 */
export function explainPrivilegeFailure(err: unknown, config: NamespaceConfig, exitCode?: number): unknown {
  if (!(err instanceof SysError) || err.errno !== 'EPERM' || !/^unshare\(CLONE_NEW/.test(err.call)) return err;
  if (config.types.includes('user')) return err;
  const others = config.types;
  const what = others.length === 1 ? `a ${others[0]} namespace` : `${others.join(', ')} namespaces`;
  return new NsmError(`creating ${what} needs root, or add --user`, {
    exitCode: exitCode ?? err.exitCode,
    hint: 'with --user the namespaces are created inside a new user namespace, where you are root',
    cause: err,
  });
}

/**
 * The helper reports its failures with exit code 125, nsm's code for "the command never ran"
 * in enter/exec/unshare. Outside those (create), a failure is an ordinary runtime error: 1.
 */
export function asRuntimeFailure(err: unknown): unknown {
  if (!(err instanceof NsmError) || err.exitCode !== EXIT_NSM_FAILED) return err;
  if (err instanceof SysError) return new SysError(err.call, err.errno, err.target, { hint: err.hint, exitCode: EXIT_RUNTIME, cause: err });
  return new NsmError(err.message, { hint: err.hint, exitCode: EXIT_RUNTIME, cause: err });
}
