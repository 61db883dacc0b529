/**
 * `nsm doctor`: can nsm do its job on this host, for this caller? A list of checks, each
 * ok / warn / fail with a one-line detail and the one command that fixes it.
 *
 * What nsm needs (a failed one is `fail`, and the doctor exits 1):
 *   - root: every namespace type the kernel has can be created; user.max_user_namespaces
 *     is not 0 when that stops root's own user namespaces; the state directory is usable;
 *     the native helper is built.
 *   - a user: the kernel has user namespaces and the caller can create one and, inside it,
 *     every other type the kernel has; no sysctl knob blocks that; the state directory is
 *     usable; the native helper is built.
 * Everything else is `warn` at worst: a type the kernel lacks, newuidmap/newgidmap and
 * sub-id ranges (without them nsm maps only the caller's own uid and gid), cgroups
 * (nsm creates cgroup namespaces but manages no controllers).
 *
 * Every probe reads under an injectable root (/proc, /proc/sys, /etc, /sys/fs/cgroup) and
 * the namespace-creation probe is injectable, so tests run the doctor on fixture trees.
 */
import { readFileSync } from 'node:fs';
import { machine, release } from 'node:os';
import { dirname, join } from 'node:path';
import { cgroupLayout, CGROUP_ROOT, parseCgroupMounts, type CgroupLayout } from '../sys/cgroupfs.js';
import { hasErrno, NsmError } from '../sys/errors.js';
import {
  CAP_SETGID,
  CAP_SETUID,
  executableSearchPath,
  findExecutable,
  pathState,
  probeUnshare,
  readSubIds,
  readSysctl,
  type ExecutableInfo,
  type SubIdRange,
  type UnshareProbe,
} from '../sys/host.js';
import { helperBinary } from '../sys/native.js';
import { NS_TYPES, type NsType, type NsTypeInfo } from '../sys/nstypes.js';
import { parseCgroup } from '../sys/parse.js';
import { ProcFs } from '../sys/procfs.js';
import { parsePasswd } from '../sys/users.js';
import { resolveStateDir } from '../sys/statefs.js';
import { environmentNamesIn } from './registry/layout.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  /** Stable identifier: "kernel", "ns.net", "userns.clone", "state-dir", ... */
  id: string;
  /** Short human label. */
  title: string;
  status: CheckStatus;
  /** One line saying what was found. */
  detail: string;
  /** The one command that fixes a warn or fail, when there is one. */
  fix?: string;
}

export interface DoctorOptions {
  /** Where /proc is (self/ns, self/mountinfo, self/cgroup). */
  procRoot?: string;
  /** Where /proc/sys is. */
  procSysRoot?: string;
  /** Where /etc is (passwd, subuid, subgid). */
  etcRoot?: string;
  /** Where /sys/fs/cgroup is. */
  cgroupRoot?: string;
  /** The caller's uid; default: the effective uid. */
  uid?: number;
  env?: NodeJS.ProcessEnv;
  kernel?: { release: string; machine: string };
  /** Directories searched for newuidmap/newgidmap; default: $PATH plus the system ones. */
  searchPath?: readonly string[];
  /** Try to create a namespace; default: unshare(1) in a child process. */
  probe?: (type: NsType, viaUser: boolean) => Promise<UnshareProbe>;
  /** Path of the native helper, throwing when it is missing; default: helperBinary(). */
  helper?: () => string;
}

/** Everything nsm needs works for the caller: no check failed. */
export function doctorPassed(checks: readonly Check[]): boolean {
  return checks.every((c) => c.status !== 'fail');
}

interface Caller {
  uid: number;
  root: boolean;
  /** Login name from passwd, if there is one. */
  name?: string;
  /** "sudo " for a user, "" for root: prefixes fixes that need root. */
  sudo: string;
}

export async function runDoctor(options: DoctorOptions = {}): Promise<Check[]> {
  const procRoot = options.procRoot ?? '/proc';
  const etcRoot = options.etcRoot ?? '/etc';
  const env = options.env ?? process.env;
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const caller: Caller = { uid, root: uid === 0, name: loginName(uid, etcRoot), sudo: uid === 0 ? '' : 'sudo ' };
  const proc = new ProcFs(procRoot);
  const kernel = options.kernel ?? { release: release(), machine: machine() };

  // Probes run in parallel: eight short-lived unshare(1) children.
  const probe = options.probe ?? probeUnshare;
  const present = NS_TYPES.map((t) => nsPresent(proc, t));
  const probes = await Promise.all(NS_TYPES.map((t, i) => (present[i] ? probe(t.name, !caller.root) : Promise.resolve(undefined))));
  const userProbe = probes[NS_TYPES.findIndex((t) => t.name === 'user')];
  const userNsWorks = userProbe?.ok === true;

  const knobs = userNsKnobs(options.procSysRoot ?? '/proc/sys', caller, userNsWorks);
  const checks: Check[] = [
    { id: 'kernel', title: 'kernel', status: 'ok', detail: `Linux ${kernel.release} ${kernel.machine}` },
    ...NS_TYPES.map((t, i) => nsCheck(t, present[i]!, probes[i], caller, knobs)),
    ...knobs,
    mapToolCheck('newuidmap', CAP_SETUID, options.searchPath ?? executableSearchPath(env), caller),
    mapToolCheck('newgidmap', CAP_SETGID, options.searchPath ?? executableSearchPath(env), caller),
    subIdCheck('subuid', etcRoot, caller),
    subIdCheck('subgid', etcRoot, caller),
    ...cgroupChecks(proc, options.cgroupRoot ?? CGROUP_ROOT, caller),
    stateDirCheck(env, caller),
    helperCheck(options.helper ?? helperBinary, env),
  ];
  return checks;
}

function loginName(uid: number, etcRoot: string): string | undefined {
  try {
    return parsePasswd(readFileSync(join(etcRoot, 'passwd'), 'utf8')).get(uid);
  } catch {
    return undefined; // no passwd (a minimal container): the uid stands for the user
  }
}

function nsPresent(proc: ProcFs, t: NsTypeInfo): boolean {
  try {
    proc.readNsEntry('self', t.procEntry);
    return true;
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// Namespace types

function nsCheck(t: NsTypeInfo, present: boolean, probe: UnshareProbe | undefined, caller: Caller, knobs: readonly Check[]): Check {
  const id = `ns.${t.name}`;
  const title = `${t.label} namespace`;
  if (!present) {
    // Without user namespaces a user can create nothing; root loses only this type.
    const status = t.name === 'user' && !caller.root ? 'fail' : 'warn';
    return { id, title, status, detail: `not in this kernel (no /proc/self/ns/${t.procEntry}; needs Linux ${t.sinceKernel}+ built with it)` };
  }
  if (probe === undefined || probe.ok === undefined) {
    const why = probe?.message ?? 'not probed';
    return { id, title, status: 'warn', detail: `in the kernel; creation not tested: ${why}`, fix: `${caller.sudo}apt-get install util-linux` };
  }
  const how = caller.root ? '' : t.name === 'user' ? ' as a user' : ' in a user namespace';
  if (probe.ok) return { id, title, status: 'ok', detail: `can create${how}: ${probe.command}` };
  const check: Check = { id, title, status: 'fail', detail: `cannot create${how}: ${probe.message} (${probe.command})` };
  // namespaces(7): ENOSPC is a user.max_<type>_namespaces limit reached.
  if (probe.errno === 'ENOSPC') check.detail += `; the limit in /proc/sys/user/max_${t.name}_namespaces is reached`;
  // A knob that stops user namespaces is the cause for a user (and, for max_user_namespaces=0,
  // for root's user namespaces too): point at its fix.
  const knob = knobs.find((k) => k.status === 'fail' && k.fix !== undefined);
  if (knob && (!caller.root || t.name === 'user')) check.fix = knob.fix;
  return check;
}

/** A sysctl that can stop unprivileged user namespaces. */
interface UserNsKnob {
  id: string;
  title: string;
  sysctl: string;
  /** Does this value stop them? */
  blocks: (value: string) => boolean;
  /** The knob limits root's user namespaces too. */
  appliesToRoot: boolean;
  /** What a value means, for the detail. */
  meaning: (value: string) => string;
  /** The setting that lifts the restriction. */
  lift: string;
}

const USERNS_KNOBS: readonly UserNsKnob[] = [
  {
    // Debian/Ubuntu kernel patch: 0 = only privileged callers may create user namespaces.
    id: 'userns.clone',
    title: 'unprivileged_userns_clone',
    sysctl: 'kernel.unprivileged_userns_clone',
    blocks: (v) => v === '0',
    appliesToRoot: false,
    meaning: (v) => (v === '0' ? 'only root may create user namespaces' : 'unprivileged user namespaces allowed'),
    lift: 'kernel.unprivileged_userns_clone=1',
  },
  {
    // user_namespaces(7): a per-user limit that applies to root too; 0 disables user namespaces.
    id: 'userns.max',
    title: 'max_user_namespaces',
    sysctl: 'user.max_user_namespaces',
    blocks: (v) => v === '0',
    appliesToRoot: true,
    meaning: (v) => (v === '0' ? 'nobody may create user namespaces' : 'the most one user may have'),
    lift: 'user.max_user_namespaces=15000',
  },
  {
    // Ubuntu 23.10+ (GitHub's ubuntu-24.04 runners): 1 = an unprivileged process that no AppArmor
    // profile allows "userns" gets a user namespace without capabilities, so it can do nothing there.
    id: 'userns.apparmor',
    title: 'AppArmor userns restriction',
    sysctl: 'kernel.apparmor_restrict_unprivileged_userns',
    blocks: (v) => v !== '0',
    appliesToRoot: false,
    meaning: (v) => (v === '0' ? 'AppArmor does not restrict user namespaces' : 'unprivileged user namespaces get no capabilities'),
    lift: 'kernel.apparmor_restrict_unprivileged_userns=0',
  },
];

/**
 * The sysctl knobs that restrict user namespaces. An absent file means the kernel has no
 * such knob, so it restricts nothing. A restricting value is `fail` when it is what stops
 * the caller (the user-namespace probe failed), else `warn`: root is exempt from the
 * unprivileged knobs, and an AppArmor profile can exempt a program.
 */
function userNsKnobs(procSys: string, caller: Caller, userNsWorks: boolean): Check[] {
  return USERNS_KNOBS.map((k) => {
    const value = readSysctl(k.sysctl, procSys);
    const base = { id: k.id, title: k.title };
    if (value === undefined) return { ...base, status: 'ok', detail: `${k.sysctl}: not in this kernel, so no restriction` };
    const detail = `${k.sysctl} = ${value}: ${k.meaning(value)}`;
    if (!k.blocks(value)) return { ...base, status: 'ok', detail };
    const exempt = caller.root && !k.appliesToRoot;
    const status: CheckStatus = !userNsWorks && !exempt ? 'fail' : 'warn';
    const note = exempt ? ' (root is exempt; rootless users are not)' : userNsWorks ? ' (yet your probe succeeded)' : '';
    return { ...base, status, detail: `${detail}${note}`, fix: `${caller.sudo}sysctl -w ${k.lift}` };
  });
}

// ---------------------------------------------------------------------------------------
// newuidmap / newgidmap and sub-id ranges

/**
 * newuidmap(1)/newgidmap(1) write a range of ids into a user namespace's maps, which an
 * unprivileged process may not do itself (user_namespaces(7): one id, its own, only).
 * They need root's power: setuid root (Debian's uidmap package) or the file capability
 * cap_setuid / cap_setgid (Fedora, Arch).
 */
function mapToolCheck(name: 'newuidmap' | 'newgidmap', cap: number, searchPath: readonly string[], caller: Caller): Check {
  const id = `uidmap.${name}`;
  const who = caller.root ? 'root does not need it; rootless users do' : `without it nsm maps only your own ${name === 'newuidmap' ? 'uid' : 'gid'}`;
  const info = findExecutable(name, searchPath);
  if (!info) return { id, title: name, status: 'warn', detail: `not found (${who})`, fix: `${caller.sudo}apt-get install uidmap` };
  const power = privilege(info, cap);
  if (power) return { id, title: name, status: 'ok', detail: `${info.path} (${power})` };
  return {
    id,
    title: name,
    status: 'warn',
    detail: `${info.path} is neither setuid root nor has cap_${name === 'newuidmap' ? 'setuid' : 'setgid'}, so it cannot write maps (${who})`,
    fix: `${caller.sudo}apt-get install --reinstall uidmap`,
  };
}

function privilege(info: ExecutableInfo, cap: number): string | undefined {
  if (info.uid === 0 && (info.mode & 0o4000) !== 0) return 'setuid root';
  if (info.caps?.permitted.includes(cap)) {
    return `file capability cap_${cap === CAP_SETUID ? 'setuid' : 'setgid'}${info.caps.effective ? '+ep' : '+p'}`;
  }
  return undefined;
}

const SUBID_RANGE = 65536;

/** subuid(5)/subgid(5): ranges of ids a user may map through newuidmap/newgidmap. */
function subIdCheck(kind: 'subuid' | 'subgid', etcRoot: string, caller: Caller): Check {
  const path = join(etcRoot, kind);
  const title = `/etc/${kind}`;
  const id = kind;
  const ranges = readSubIds(path);
  const owner = caller.name ?? String(caller.uid);
  // An entry names its owner by login name or by uid.
  const mine = (ranges ?? []).filter((r) => r.owner === caller.name || r.owner === String(caller.uid));
  if (mine.length > 0) {
    const text = mine.map((r) => `${r.start}-${r.start + r.count - 1} (${r.count} ids)`).join(', ');
    return { id, title, status: 'ok', detail: `${owner}: ${text}` };
  }
  if (caller.root) return { id, title, status: 'ok', detail: 'no range for root (root maps any id without one)' };
  const start = freeStart(ranges ?? []);
  const range = `${start}-${start + SUBID_RANGE - 1}`;
  const fix = caller.name
    ? `sudo usermod --add-${kind === 'subuid' ? 'subuids' : 'subgids'} ${range} ${caller.name}`
    : `echo ${caller.uid}:${start}:${SUBID_RANGE} | sudo tee -a /etc/${kind}`;
  const why = ranges === undefined ? `${title} does not exist` : `no range for ${owner} (uid ${caller.uid})`;
  return { id, title, status: 'warn', detail: `${why}: nsm can map only your own id`, fix };
}

/** First id at or above 100000 (useradd's SUB_UID_MIN) after every range already given out. */
function freeStart(ranges: readonly SubIdRange[]): number {
  return ranges.reduce((end, r) => Math.max(end, r.start + r.count), 100000);
}

// ---------------------------------------------------------------------------------------
// cgroups

function cgroupChecks(proc: ProcFs, cgroupRoot: string, caller: Caller): Check[] {
  let layout: CgroupLayout;
  try {
    layout = cgroupLayout(parseCgroupMounts(proc.readText('self', 'mountinfo')), parseCgroup(proc.readText('self', 'cgroup')), cgroupRoot);
  } catch (err) {
    if (!hasErrno(err, 'ENOENT', 'EACCES')) throw err;
    return [{ id: 'cgroup', title: 'cgroups', status: 'warn', detail: `cannot read /proc/self/mountinfo or /proc/self/cgroup: ${(err as Error).message}` }];
  }
  const modeDetail: Record<CgroupLayout['mode'], string> = {
    v2: `v2 (unified) at ${layout.v2?.mountPoint}`,
    hybrid: `hybrid: ${layout.v1.length} v1 hierarchies at ${CGROUP_ROOT}/<controller>, v2 at ${layout.v2?.mountPoint}`,
    v1: `v1 (legacy): ${layout.v1.length} hierarchies at ${CGROUP_ROOT}/<controller>`,
    none: 'no cgroup filesystem mounted',
  };
  const mode: Check =
    layout.mode === 'none'
      ? { id: 'cgroup', title: 'cgroups', status: 'warn', detail: modeDetail.none, fix: `${caller.sudo}mount -t cgroup2 cgroup2 ${CGROUP_ROOT}` }
      : { id: 'cgroup', title: 'cgroups', status: 'ok', detail: modeDetail[layout.mode] };
  if (layout.mode === 'none') return [mode];

  const parts: string[] = [];
  const v2 = layout.v2;
  if (v2) {
    const ctl = v2.controllers.length > 0 ? v2.controllers.join(' ') : 'none';
    parts.push(`v2 ${v2.path ?? '?'}: ${ctl} (${v2.delegated ? 'delegated to you' : 'not writable by you'})`);
  }
  if (layout.v1.length > 0) {
    const writable = layout.v1.filter((h) => h.writable).flatMap((h) => h.controllers);
    parts.push(`v1 writable by you: ${writable.length > 0 ? writable.join(' ') : 'none'}`);
  }
  const usable = (v2?.delegated ?? false) || layout.v1.some((h) => h.writable);
  const delegation: Check = { id: 'cgroup.delegation', title: 'cgroup controllers', status: usable ? 'ok' : 'warn', detail: parts.join('; ') };
  // systemd delegates a v2 subtree to a user's scope; on hybrid hosts the controllers stay in v1.
  if (!usable && !caller.root && layout.mode === 'v2') delegation.fix = 'systemd-run --user --scope --property=Delegate=yes $SHELL';
  return [mode, delegation];
}

// ---------------------------------------------------------------------------------------
// State directory and native helper

/** Closest existing ancestor of `path` (for "can it be created?"). */
function existingAncestor(path: string): string {
  let dir = dirname(path);
  while (dir !== '/' && !pathState(dir).exists) dir = dirname(dir);
  return dir;
}

/**
 * docs/state.md: a directory owned by the caller, mode 0700, not
 * a symlink. It need not exist yet: nsm creates it on first use, so it is enough that its
 * parent can be written.
 */
function stateDirCheck(env: NodeJS.ProcessEnv, caller: Caller): Check {
  const dir = resolveStateDir(env, caller.uid).path;
  const from = env.NSM_STATE_DIR ? ' (NSM_STATE_DIR)' : '';
  const title = 'state directory';
  const id = 'state-dir';
  const elsewhere = `export NSM_STATE_DIR=$(mktemp -d)`;
  const st = pathState(dir);
  if (st.denied) return { id, title, status: 'fail', detail: `${dir}${from}: you may not search ${dirname(dir)} (EACCES)`, fix: elsewhere };
  if (!st.exists) {
    const parent = existingAncestor(dir);
    if (pathState(parent).writable) return { id, title, status: 'ok', detail: `${dir}${from}: created on first use` };
    return { id, title, status: 'fail', detail: `${dir}${from} does not exist and ${parent} is not writable by you`, fix: elsewhere };
  }
  if (st.isSymlink) return { id, title, status: 'fail', detail: `${dir}${from} is a symbolic link; nsm refuses to follow it`, fix: elsewhere };
  if (!st.isDirectory) return { id, title, status: 'fail', detail: `${dir}${from} is not a directory`, fix: elsewhere };
  if (st.uid !== caller.uid) return { id, title, status: 'fail', detail: `${dir}${from} belongs to uid ${st.uid}, not to you (uid ${caller.uid})`, fix: elsewhere };
  if (!st.writable) return { id, title, status: 'fail', detail: `${dir}${from} is not writable by you`, fix: `chmod 700 ${dir}` };
  const envs = environmentNamesIn(dir).length;
  const detail = `${dir}${from}: ${envs} environment${envs === 1 ? '' : 's'}`;
  const mode = (st.mode ?? 0) & 0o777;
  if ((mode & 0o077) !== 0) {
    return { id, title, status: 'warn', detail: `${detail}; mode ${mode.toString(8).padStart(4, '0')} lets others look in (nsm uses 0700)`, fix: `chmod 700 ${dir}` };
  }
  return { id, title, status: 'ok', detail };
}

function helperCheck(helper: () => string, env: NodeJS.ProcessEnv): Check {
  const id = 'helper';
  const title = 'native helper';
  try {
    return { id, title, status: 'ok', detail: helper() };
  } catch (err) {
    if (!(err instanceof NsmError)) throw err;
    // helperBinary()'s message ends with the path it looked at.
    const path = /: (\/\S+)$/.exec(err.message)?.[1];
    const fix = env.NSM_HELPER
      ? 'unset NSM_HELPER'
      : path?.endsWith('/native/build/nsm-helper')
        ? `make -C ${dirname(dirname(path))}`
        : 'npm install';
    return { id, title, status: 'fail', detail: err.message, fix };
  }
}
