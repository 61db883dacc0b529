/**
 * `nsm create`: a named environment - its namespaces, their holder, optional pins, the
 * /run/netns link - and its record. All or nothing: after any failure (including SIGINT,
 * SIGTERM or SIGHUP while it runs) no holder, mount, link or record is left.
 *
 * Order, and why:
 *   1. reserve the name (registry): of concurrent creates of one name exactly one gets here;
 *   2. refuse a /run/netns/NAME that exists, before anything is made;
 *   3. its cgroups (--memory/--cpus/--pids): the holder joins them before it unshares
 *      anything, so the cgroup namespace is rooted there (src/core/limits.ts);
 *   4. the holder (native helper) creates the namespaces and keeps them;
 *   5. open the holder's namespace files and note the holder, then let the helper release it
 *      (until that acknowledgement the helper kills the holder if we die: src/sys/helper.ts);
 *   6. the veth pair into its net namespace and the NAT rules (--veth, --nat: src/core/network.ts);
 *      the rules are noted before the first is added;
 *   7. pins, then the /run/netns link (bind mounts of those open files);
 *   8. commit the record. Undo runs in reverse.
 * Steps 3-7 are noted in the reservation before they are made (the holder: while the helper
 * still holds it back; see below), so that a create killed by SIGKILL,
 * which cannot undo anything itself, is undone by the next create of the name or by gc; a
 * holder is never left unnoted (step 5).
 */
import { closeSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_SIGNAL_BASE, NsmError, UsageError } from '../sys/errors.js';
import { createHolder, type HelperOptions, type HolderInfo, type NamespaceConfig } from '../sys/helper.js';
import { bindNamespaceFile, makePrivateMountPoint, unbindNamespaceFile } from '../sys/nsmounts.js';
import { nsIdOfFd } from '../sys/libc.js';
import { openNsFile, type OpenNsFile } from '../sys/nsfile.js';
import { nsTypeInfo, type NsType } from '../sys/nstypes.js';
import { deferSignals } from '../sys/signals.js';
import { effectiveUid } from '../sys/statefs.js';
import { createCgroups, hasLimits, hostForLimits, planCgroups, removeCgroups, type EnvCgroup, type EnvLimits, type LimitRequest } from './limits.js';
import { applyNat, AUTO_RANGE, createVeth, deleteVeth, ENV_INTERFACE, hostInterfaceName, planNat, removeNat, vethOf, type EnvVeth, type Ipv4Cidr, type VethAddresses } from './network.js';
import { asRuntimeFailure, explainPrivilegeFailure, planNamespaces, type NamespaceRequest } from './plan.js';
import { validateNewName, type EnvOptions, type EnvRecord } from './record.js';
import { processIdentity } from './registry/holder.js';
import { makeNetnsLink, netnsLinkPath, netnsTaken } from './registry/links.js';
import type { RegistryOptions } from './registry/layout.js';
import { listEnvironments } from './registry/list.js';
import { reserve, type ReplacedEntry } from './registry/reservations.js';
import { stopProcess } from './processes.js';
import type { EnvUserNet, PublishedPort } from './record.js';
import { resolveNetMode, startUserNet, stopUserNet, userNetHostAddress } from './user-net.js';

export interface CreateOptions extends RegistryOptions {
  /** Bind-mount every namespace file under the environment's directory (root only). */
  pin?: boolean;
  /** Link a new net namespace at /run/netns/NAME; default: when root. */
  netnsLink?: boolean;
  /** A veth pair into the new net namespace (root only): these addresses, or 'auto' to pick a free /30. */
  veth?: VethAddresses | 'auto';
  /** With veth: masquerade its subnet and turn IPv4 forwarding on (changes the host firewall). */
  nat?: boolean;
  /** Resource limits: the environment gets cgroups of its own (--memory, --cpus, --pids). */
  limits?: LimitRequest;
  /** A user-mode network (--pasta, --net-mode) and the ports it publishes (-p). */
  userNet?: { mode: EnvUserNet['mode']; publish: PublishedPort[] };
  /** Helper overrides (tests). */
  helper?: HelperOptions;
}

export interface CreatedEnvironment {
  record: EnvRecord;
  /** Its veth pair (--veth), as recorded. */
  veth?: EnvVeth;
  /** The range its veth's subnet was picked from (--veth without a subnet). */
  vethRange?: Ipv4Cidr;
  /** Its resource limits and cgroups (--memory, --cpus, --pids), as recorded. */
  limits?: EnvLimits;
  /** Its user-mode network (--pasta), as recorded. */
  userNet?: EnvUserNet;
  /** A dead environment of this name that was replaced (the command warns). */
  replaced?: ReplacedEntry;
}

function optionsRecord(config: NamespaceConfig, pin: boolean): EnvOptions {
  const o: EnvOptions = {};
  if (config.hostname !== undefined) o.hostname = config.hostname;
  if (config.map) o.map = { ...config.map };
  if (config.propagation !== undefined) o.propagation = config.propagation;
  if (config.mountProc) o.mountProc = true;
  if (config.mountSys) o.mountSys = true;
  if (config.loopback !== undefined) o.loopback = config.loopback;
  if (config.timeOffsets) o.timeOffsets = { ...config.timeOffsets };
  if (pin) o.pin = true;
  return o;
}

/**
 * Create environment `name` as `req` describes.
 * @throws UsageError (bad name or options, exit 2); EnvironmentExistsError ("already exists
 *   (holder PID n)", exit 1); NsmError for a missing privilege or a taken /run/netns name;
 *   SysError for a failed step. Nothing is left behind in any of these cases.
 */
export async function createEnvironment(name: string, req: NamespaceRequest, options: CreateOptions = {}): Promise<CreatedEnvironment> {
  validateNewName(name); // a usage error before anything is planned or made
  const euid = effectiveUid();
  const config = planNamespaces(withPrivateProc(req), { euid, name });
  const pin = options.pin ?? false;
  if (pin && euid !== 0) {
    // Pins are bind mounts in our own mount namespace: CAP_SYS_ADMIN over it, i.e. root.
    throw new NsmError('--pin needs root: pins are bind mounts in the host mount namespace, which an unprivileged user may not change', {
      hint: 'create it without --pin; it then lives as long as its holder process',
    });
  }
  const linkNetns = (options.netnsLink ?? euid === 0) && config.types.includes('net');
  const netnsPath = netnsLinkPath(name);
  checkNetworkOptions(options, config.types, euid);
  // Before anything is made: the program is there, and as root the netns link it joins through.
  if (options.userNet && options.veth) throw new UsageError(`--net-mode ${options.userNet.mode} and --veth both give the environment its network: use one`);
  const userNetProgram = options.userNet ? checkUserNet(options.userNet, config.types, euid, linkNetns) : undefined;
  // Before anything is made: a controller this host cannot limit is an error now.
  const limits = options.limits && hasLimits(options.limits) ? options.limits : undefined;
  const cgroupPlans = limits ? planCgroups(name, limits, hostForLimits(euid)) : [];

  const reservation = reserve(name, options);
  const signals = deferSignals();
  let holder: { pid: number; startTime: number } | undefined;
  let linked = false;
  let cgroups: EnvCgroup[] = [];
  let veth: EnvVeth | undefined;
  let userNet: EnvUserNet | undefined;
  const opened: Array<{ type: NsType; file: OpenNsFile }> = [];
  try {
    if (linkNetns && existsSync(netnsPath)) throw netnsTaken(name, netnsPath);
    // Each step is noted in the reservation before (or, where its identity is known only
    // afterwards, right after) it is made: if SIGKILL stops us, the next create of this
    // name or a gc undoes it (registry.ts, undoInterruptedCreate).
    if (limits) reservation.note({ options: { limits: { ...limits, cgroups: cgroupPlans.map(({ version, controllers, dir }) => ({ version, controllers, dir })) } } });
    cgroups = await createCgroups(cgroupPlans);
    if (cgroups.length > 0) config.cgroupDirs = cgroups.map((c) => c.dir);
    const namespaces: Partial<Record<NsType, number>> = {};
    const ids: Partial<Record<NsType, number>> = {};
    // Runs while the helper holds the holder back, waiting for our acknowledgement: a create
    // killed before this note is written takes the holder with it (the helper reads end of
    // file and kills it), one killed after it leaves it to gc. The holder is the helper's
    // unreaped child until then, so its pid cannot name another process yet.
    const noteHolder = (made: HolderInfo): void => {
      holder = { pid: made.pid, startTime: made.startTime ?? processIdentity(made.pid, options).startTime };
      // Open the holder's namespace files once: the inodes come from these fds, and so do the
      // pins and the netns link (bind mounts of /proc/self/fd/N), so all name the same namespaces.
      for (const type of config.types) opened.push({ type, file: openNsFile(`/proc/${holder.pid}/ns/${nsTypeInfo(type).procEntry}`) });
      for (const { type, file } of opened) {
        namespaces[type] = file.ino;
        const id = nsIdOfFd(file.fd); // NS_GET_ID, Linux 6.18: recorded beside the inode
        if (id !== undefined) ids[type] = id;
      }
      // The /run/netns link to come is noted with the holder (one write less): gc removes a
      // link only if it names this net namespace, so noting it before it exists is safe.
      // So is the host end of the veth to come (its name is fixed by NAME); it goes with the
      // net namespace, which gc frees by stopping the holder and removing the link.
      const vethIntent = options.veth ? { options: { veth: { hostIf: hostInterfaceName(name), envIf: ENV_INTERFACE } } } : {};
      reservation.note({ holder, namespaces, ...(linkNetns ? { netnsLink: netnsPath } : {}), ...vethIntent });
    };
    await createHolder(config, { ...options.helper, name, onReady: noteHolder });
    if (!holder) throw new Error('createHolder resolved without calling onReady'); // a bug, never a user's error
    const fdPath = (type: NsType) => `/proc/self/fd/${opened.find((o) => o.type === type)!.file.fd}`;
    if (options.veth) {
      veth = await createVeth(name, opened.find((o) => o.type === 'net')!.file.fd, options.veth, recordedSubnets());
      if (options.nat) {
        // Noted before a rule is added: a create killed between two iptables calls leaves
        // rules that gc and the next create of the name find here (removeNat is idempotent).
        const nat = planNat(name, veth);
        reservation.note({ options: { veth: { ...veth, nat } } });
        veth.nat = nat;
        applyNat(nat, veth);
      }
      reservation.note({ options: { veth } });
    }
    const pins: Partial<Record<NsType, string>> = {};
    if (pin) {
      makePrivateMountPoint(join(reservation.dir, 'pins'));
      for (const type of config.types) {
        const target = reservation.pinPath(type);
        bindNamespaceFile(fdPath(type), target);
        pins[type] = target;
      }
    }
    if (linkNetns) {
      makeNetnsLink(fdPath('net'), name);
      linked = true;
    }
    if (options.userNet && userNetProgram) {
      // Noted before it starts, and its pid the moment it is forked (startUserNet): a create
      // killed while pasta sets up leaves a process that gc and the next create of the name stop.
      const net: EnvUserNet = { mode: userNetProgram.mode, publish: options.userNet.publish, pidFile: join(reservation.dir, 'usernet.pid') };
      const hostAddress = userNetHostAddress(net.mode);
      if (hostAddress) net.hostAddress = hostAddress;
      rmSync(net.pidFile, { force: true });
      reservation.note({ options: { userNet: net } });
      userNet = net;
      await startUserNet(net, userNetProgram.program, { holderPid: holder.pid, holderStartTime: holder.startTime, pinned: pin, ...(linked ? { netnsLink: netnsPath } : {}), euid }, (p) => {
        net.process = p;
        reservation.note({ options: { userNet: net } });
      });
    }
    // The holder was started synchronously (spawnAndWait) and nothing since gave the event loop
    // a turn: let it run once, so that a signal caught meanwhile reaches deferSignals().
    await new Promise((resolve) => setImmediate(resolve));
    const sig = signals.pending();
    if (sig) throw interrupted(sig);
    const envOptions = optionsRecord(config, pin);
    if (veth) envOptions.veth = veth;
    const made: EnvLimits | undefined = limits ? { ...limits, cgroups } : undefined;
    if (made) envOptions.limits = made;
    if (userNet) envOptions.userNet = userNet;
    const record = reservation.commit({
      types: config.types,
      options: envOptions,
      holder,
      namespaces,
      ids,
      pins,
      ...(linked ? { netnsLink: netnsPath } : {}),
    });
    return {
      record,
      ...(veth ? { veth, ...(veth.picked ? { vethRange: AUTO_RANGE } : {}) } : {}),
      ...(made ? { limits: made } : {}),
      ...(userNet ? { userNet } : {}),
      ...(reservation.replaced ? { replaced: reservation.replaced } : {}),
    };
  } catch (err) {
    // Undo in reverse; each step on its own, so one failing does not keep the others from running.
    const netFd = opened.find((o) => o.type === 'net')?.file.fd;
    const undo: Array<() => unknown> = [
      () => userNet && stopUserNet(userNet),
      () => linked && unbindNamespaceFile(netnsPath),
      () => veth?.nat && removeNat(veth.nat),
      () => veth && deleteVeth(veth, netFd),
      () => holder && stopProcess(holder, { graceMs: 0 }),
      () => removeCgroups(cgroups), // once the holder is gone, they are empty
      () => reservation.abort(), // detaches the pins below the environment's directory
    ];
    for (const step of undo) {
      try {
        await step();
      } catch {
        // report the original failure, not the cleanup's
      }
    }
    const sig = signals.pending();
    if (sig && !(err instanceof NsmError && err.message.startsWith('interrupted'))) throw interrupted(sig);
    throw asRuntimeFailure(explainPrivilegeFailure(err, config));
  } finally {
    for (const { file } of opened) closeSync(file.fd);
    signals.restore();
  }
}

/**
 * A new pid namespace without a new mount namespace would show the host's /proc to what runs
 * in it (a procfs mount shows the pid namespace of its mounter: pid_namespaces(7)), so
 * `create --type pid` gets a mount namespace with a fresh /proc, as `unshare --pid
 * --mount-proc` does and the original nsm's --type pid did; --no-mount-proc keeps /proc.
 */
function withPrivateProc(req: NamespaceRequest): NamespaceRequest {
  const types = req.types ?? [];
  if (types.includes('pid') && !types.includes('mnt') && req.mountProc === undefined) return { ...req, mountProc: true };
  return req;
}

/** Subnets that other live environments (any user's: veth is root's) recorded for their veth. */
function recordedSubnets(): Array<{ name: string; subnet: Ipv4Cidr }> {
  let envs;
  try {
    envs = listEnvironments({ allUsers: true }).environments;
  } catch {
    return []; // an unreadable state directory must not block networking; the host's addresses still count
  }
  const out: Array<{ name: string; subnet: Ipv4Cidr }> = [];
  for (const e of envs) {
    const v = vethOf(e.record);
    if (!v || (e.state !== 'running' && e.state !== 'pinned')) continue;
    const [address, prefix] = v.subnet.split('/');
    out.push({ name: e.name, subnet: { address: address!, prefix: Number(prefix) } });
  }
  return out;
}

/** --veth and --nat: what they need, checked before anything is made. */
function checkNetworkOptions(options: CreateOptions, types: readonly NsType[], euid: number): void {
  if (options.nat && !options.veth) throw new UsageError('--nat needs --veth: it masquerades the veth pair\'s subnet');
  if (!options.veth) return;
  if (!types.includes('net')) throw new UsageError(`--veth needs a new net namespace (add --net or -t net; the types are: ${types.join(', ')})`);
  if (euid !== 0) {
    // The host end lives in the host's network namespace: CAP_NET_ADMIN there, i.e. root.
    throw new NsmError("--veth needs root: the pair's host end is made in the host network namespace, which only root may change", {
      hint: 'rootless, a user-mode network stack gives an environment outside access: e.g. slirp4netns or pasta with the holder PID',
    });
  }
}

/** --pasta / --net-mode: a new net namespace, a program to run, and as root the /run/netns link. */
function checkUserNet(req: NonNullable<CreateOptions['userNet']>, types: readonly NsType[], euid: number, linkNetns: boolean): { mode: EnvUserNet['mode']; program: string } {
  if (!types.includes('net')) throw new UsageError(`--net-mode ${req.mode} needs a new net namespace (add --net or -t net; the types are: ${types.join(', ')})`);
  if (euid === 0 && !linkNetns) throw new UsageError(`--net-mode ${req.mode} as root needs the /run/netns link it joins the namespace through`);
  return resolveNetMode(req.mode, req.publish);
}

function interrupted(sig: NodeJS.Signals): NsmError {
  const codes: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
  return new NsmError(`interrupted by ${sig}: nothing was created`, { exitCode: EXIT_SIGNAL_BASE + (codes[sig] ?? 0) });
}
