/**
 * Resource limits of an environment (`nsm create --memory SIZE --cpus N --pids N`): one cgroup
 * per hierarchy used, made before the holder starts; the holder joins them before it
 * unshares its cgroup namespace (src/sys/helper.ts cgroupDirs), so inside, the environment's
 * cgroup is the root (`/`) and every process run there is under the limits.
 *
 * Where (cgroups(7)):
 *   - cgroup v2 for each controller the v2 hierarchy offers (cgroup.controllers of its root;
 *     for an unprivileged caller, of a delegated directory it may write);
 *   - otherwise the v1 hierarchy bound to that controller (root only);
 *   - neither: an error naming what the host offers.
 * Names: `<hierarchy>/nsm/env-NAME` as root; `<delegated dir>/nsm-NAME` without root. The
 * prefixes keep a name from ever being a control file's (cgroup v2 ones are `cgroup.*` and
 * `<controller>.<knob>`: `nsm create pids.max` must not meet `nsm/pids.max`). Records made
 * before the prefix name `nsm/NAME`; destroy and gc remove the directory a record names.
 */
import { closeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CgroupLayout } from '../sys/cgroupfs.js';
import {
  enableControllers,
  joinCgroup,
  joinCgroupFd,
  openCgroupProcs,
  makeCgroup,
  parseKeyedCounters,
  readCgroupFile,
  readCgroupLayout,
  removeCgroup,
  removeCgroupNow,
  writeCgroupFile,
} from '../sys/cgroupctl.js';
import { echoInput, hasErrno, NsmError, UsageError } from '../sys/errors.js';
import { isWritable } from '../sys/host.js';
import type { EnvCgroup, EnvLimits, EnvResources, LimitRequest } from './record.js';

export type { EnvCgroup, EnvLimits, LimitRequest } from './record.js';

/** cpu.max / cpu.cfs_period_us: the period nsm uses (the kernel's default, 100 ms). */
const CPU_PERIOD_US = 100_000;
/** The kernel's smallest quota is 1 ms (cpu.cfs_quota_us), so 0.01 CPU at a 100 ms period. */
const MIN_CPUS = 0.01;

type Controller = 'memory' | 'cpu' | 'pids';
const OPTION: Record<Controller, string> = { memory: '--memory', cpu: '--cpus', pids: '--pids' };

/** A cgroup to make: its parents first (kept on destroy), then itself, then its limit files in order. */
export interface CgroupPlan extends EnvCgroup {
  /** Parent directories to make if missing; v2 ones also get `enable` in cgroup.subtree_control. */
  parents: Array<{ dir: string; enable: string[] }>;
  files: Array<[file: string, value: string]>;
}

/** What the planner knows of the host (read by hostForLimits()). */
export interface LimitHost {
  euid: number;
  layout: CgroupLayout;
  /** cgroup.controllers of the v2 hierarchy's root (root makes its cgroups there). */
  v2RootControllers: string[];
  /** Without root: the nearest ancestor of our v2 cgroup that is delegated to us, if any. */
  delegated?: { dir: string; controllers: string[] };
}

/** Root's cgroup of environment `name` below `<hierarchy>/nsm/` (see the top of this file). */
function envCgroupName(name: string): string {
  return `env-${name}`;
}

/** The limits an environment recorded, if any. */
export function limitsOf(record: EnvResources): EnvLimits | undefined {
  const l = record.options.limits;
  return l && typeof l === 'object' && Array.isArray(l.cgroups) ? l : undefined;
}

export function hasLimits(req: LimitRequest): boolean {
  return req.memory !== undefined || req.cpus !== undefined || req.pids !== undefined;
}

/** Read what planCgroups() needs from this host. */
export function hostForLimits(euid: number): LimitHost {
  const layout = readCgroupLayout();
  const v2 = layout.v2;
  const v2RootControllers = v2 ? (readCgroupFile(v2.mountPoint, 'cgroup.controllers') ?? '').split(/\s+/).filter(Boolean) : [];
  const host: LimitHost = { euid, layout, v2RootControllers };
  if (euid !== 0 && v2?.path) {
    // Our own cgroup has processes (us), so by the "no internal processes" rule
    // (cgroups(7)) it cannot hand controllers to children: start at its parent.
    for (let rel = dirname(v2.path); rel !== '/' && rel !== '.'; rel = dirname(rel)) {
      const dir = join(v2.mountPoint, rel);
      if (isWritable(dir) && isWritable(join(dir, 'cgroup.procs')) && isWritable(join(dir, 'cgroup.subtree_control'))) {
        host.delegated = { dir, controllers: (readCgroupFile(dir, 'cgroup.controllers') ?? '').split(/\s+/).filter(Boolean) };
        break;
      }
    }
  }
  return host;
}

function wanted(req: LimitRequest): Controller[] {
  const out: Controller[] = [];
  if (req.memory !== undefined) out.push('memory');
  if (req.cpus !== undefined) out.push('cpu');
  if (req.pids !== undefined) out.push('pids');
  return out;
}

/** The limit files of `controller` in hierarchy version `version`, in write order. */
function limitFiles(controller: Controller, version: 1 | 2, req: LimitRequest): Array<[string, string]> {
  switch (controller) {
    case 'memory':
      return [[version === 2 ? 'memory.max' : 'memory.limit_in_bytes', String(req.memory)]];
    case 'pids':
      return [['pids.max', String(req.pids)]];
    case 'cpu': {
      const quota = String(Math.round(req.cpus! * CPU_PERIOD_US));
      // v1: the period first, so the quota is checked against the period it goes with.
      return version === 2
        ? [['cpu.max', `${quota} ${CPU_PERIOD_US}`]]
        : [['cpu.cfs_period_us', String(CPU_PERIOD_US)], ['cpu.cfs_quota_us', quota]];
    }
  }
}

/**
 * The cgroups environment `name` needs for `req` on `host`. Pure.
 * @throws NsmError naming the controller no usable hierarchy offers, and for an
 *   unprivileged caller that there is no delegated v2 subtree offering it.
 */
export function planCgroups(name: string, req: LimitRequest, host: LimitHost): CgroupPlan[] {
  const need = wanted(req);
  if (need.length === 0) return [];
  const root = host.euid === 0;
  const v2 = host.layout.v2;
  const v2Offers = root ? host.v2RootControllers : (host.delegated?.controllers ?? []);
  const v2Used = v2 ? need.filter((c) => v2Offers.includes(c)) : [];
  const v1Used: Array<{ controller: Controller; hierarchy: CgroupLayout['v1'][number] }> = [];
  for (const c of need.filter((c) => !v2Used.includes(c))) {
    const hierarchy = root ? host.layout.v1.find((h) => h.controllers.includes(c)) : undefined;
    if (!hierarchy) throw noController(c, host);
    v1Used.push({ controller: c, hierarchy });
  }

  const plans: CgroupPlan[] = [];
  if (v2 && v2Used.length > 0) {
    if (root) {
      const top = v2.mountPoint;
      const nsm = join(top, 'nsm');
      plans.push({
        version: 2,
        controllers: v2Used,
        dir: join(nsm, envCgroupName(name)),
        parents: [{ dir: top, enable: v2Used }, { dir: nsm, enable: v2Used }],
        files: v2Used.flatMap((c) => limitFiles(c, 2, req)),
      });
    } else {
      const parent = host.delegated!.dir;
      plans.push({
        version: 2,
        controllers: v2Used,
        dir: join(parent, `nsm-${name}`),
        parents: [{ dir: parent, enable: v2Used }],
        files: v2Used.flatMap((c) => limitFiles(c, 2, req)),
      });
    }
  }
  // v1: one directory per hierarchy; a hierarchy may carry several controllers (cpu,cpuacct).
  const byMount = new Map<string, CgroupPlan>();
  for (const { controller, hierarchy } of v1Used) {
    let plan = byMount.get(hierarchy.mountPoint);
    if (!plan) {
      const nsm = join(hierarchy.mountPoint, 'nsm');
      plan = { version: 1, controllers: [], dir: join(nsm, envCgroupName(name)), parents: [{ dir: nsm, enable: [] }], files: [] };
      byMount.set(hierarchy.mountPoint, plan);
      plans.push(plan);
    }
    plan.controllers.push(controller);
    plan.files.push(...limitFiles(controller, 1, req));
  }
  // v1 cpu usage is in cpuacct, a hierarchy of its own on some hosts (this one).
  if (v1Used.some((u) => u.controller === 'cpu')) {
    const acct = host.layout.v1.find((h) => h.controllers.includes('cpuacct'));
    if (acct) {
      const existing = byMount.get(acct.mountPoint);
      if (existing) existing.controllers.push('cpuacct');
      else {
        const nsm = join(acct.mountPoint, 'nsm');
        plans.push({ version: 1, controllers: ['cpuacct'], dir: join(nsm, envCgroupName(name)), parents: [{ dir: nsm, enable: [] }], files: [] });
      }
    }
  }
  return plans;
}

function noController(c: Controller, host: LimitHost): NsmError {
  const v2 = host.layout.v2;
  const offers = (list: string[]) => (list.length > 0 ? list.join(' ') : 'none');
  if (host.euid !== 0) {
    const v1Has = host.layout.v1.some((h) => h.controllers.includes(c));
    const what = host.delegated
      ? `the delegated cgroup ${host.delegated.dir} offers ${offers(host.delegated.controllers)}`
      : v2
        ? `no cgroup v2 directory is delegated to you (yours is ${v2.path ?? '?'} under ${v2.mountPoint})`
        : 'this host has no cgroup v2';
    return new NsmError(
      `${OPTION[c]} without root needs a delegated cgroup v2 subtree offering the ${c} controller: ${what}${v1Has ? `; the ${c} controller is on cgroup v1, which only root may change` : ''}`,
      { hint: v2 ? 'run it as root, or inside a delegated scope: systemd-run --user --scope -p Delegate=yes nsm create ...' : 'run it as root' },
    );
  }
  const v2Text = v2 ? `cgroup v2 at ${v2.mountPoint} offers ${offers(host.v2RootControllers)}` : 'no cgroup v2';
  return new NsmError(`${OPTION[c]}: no cgroup hierarchy offers the ${c} controller (${v2Text}; no cgroup v1 hierarchy has it)`, {
    hint: `enable the ${c} controller in the kernel (CONFIG_CGROUP_*) or mount its hierarchy`,
  });
}

/**
 * Make the cgroups of `plans` and write their limits. All or nothing: after a failure the
 * ones made are removed again. An environment's own cgroup that exists already is an error
 * (another environment of that name, in another state directory, may be using it).
 */
export async function createCgroups(plans: readonly CgroupPlan[]): Promise<EnvCgroup[]> {
  const made: EnvCgroup[] = [];
  try {
    for (const p of plans) {
      // A destroy may remove the shared nsm/ parent between our mkdirs (it goes when it
      // empties): ENOENT for our own directory means make the parents again.
      for (let attempt = 1; ; attempt++) {
        for (const parent of p.parents) {
          makeCgroup(parent.dir, false);
          if (p.version === 2) enableControllers(parent.dir, parent.enable);
        }
        try {
          makeCgroup(p.dir, true);
          break;
        } catch (err) {
          if (hasErrno(err, 'ENOENT') && attempt < 5) continue;
          if (hasErrno(err, 'EEXIST')) {
            throw new NsmError(`cgroup ${p.dir} exists already: another environment of this name (another state directory?) may be using it`, {
              hint: `pick another name, or rmdir ${p.dir} if nothing uses it`,
            });
          }
          throw err;
        }
      }
      made.push({ version: p.version, controllers: p.controllers, dir: p.dir });
      for (const [file, value] of p.files) writeCgroupFile(p.dir, file, value);
    }
    return made;
  } catch (err) {
    await removeCgroups(made).catch(() => undefined);
    // The shared nsm/ parents this create made go too when nothing else is in them.
    for (const p of plans) removeEmptyParent(p.dir);
    throw err;
  }
}

/**
 * Remove an environment's cgroups (after its processes are gone), each on its own, so that
 * one still busy does not keep the others. Returns the directories removed; throws the
 * first failure after trying all.
 */
export async function removeCgroups(cgroups: readonly EnvCgroup[], waitMs?: number): Promise<string[]> {
  const removed: string[] = [];
  let failure: unknown;
  for (const c of cgroups) {
    try {
      if (await removeCgroup(c.dir, waitMs)) removed.push(c.dir);
      removeEmptyParent(c.dir);
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure) throw failure;
  return removed;
}

/**
 * The shared nsm/ directory above an environment's cgroup goes once it is empty, so nothing
 * of nsm's stays in the cgroup tree; one that still has environments is left (EBUSY).
 */
export function removeEmptyParent(dir: string): void {
  const parent = dirname(dir);
  if (basename(parent) !== 'nsm') return;
  try {
    removeCgroupNow(parent);
  } catch {
    // another environment's cgroup is still in it (or it was removed meanwhile)
  }
}

/** Move process `pid` (0: this process) into every one of `cgroups`. */
function joinCgroups(cgroups: readonly EnvCgroup[], pid = 0): void {
  for (const c of cgroups) joinCgroup(c.dir, pid);
}

/**
 * The in-process join's way into an environment's cgroups: this process moves itself in
 * (all its threads: cgroup.procs), so that the command it forks next starts there, and
 * back out once the command runs, through cgroup.procs files of its own cgroups opened
 * beforehand (after a setns() into the environment's mount namespace /sys/fs/cgroup may be
 * hidden). Node's threads count against pids.max meanwhile, which is why exec prefers the
 * native path for an environment with limits. Returns the way back (idempotent).
 */
export function visitCgroups(cgroups: readonly EnvCgroup[]): () => void {
  if (cgroups.length === 0) return () => {};
  const layout = readCgroupLayout();
  const homes: Array<{ fd: number; dir: string }> = [];
  const leave = (): void => {
    for (const h of homes.splice(0)) {
      try {
        joinCgroupFd(h.fd, `${h.dir}/cgroup.procs`);
      } finally {
        closeSync(h.fd);
      }
    }
  };
  try {
    for (const c of cgroups) {
      const mount = c.version === 2 ? layout.v2 : layout.v1.find((h) => c.dir.startsWith(`${h.mountPoint}/`));
      if (!mount?.path) continue;
      const dir = join(mount.mountPoint, mount.path);
      homes.push({ fd: openCgroupProcs(dir), dir });
    }
    joinCgroups(cgroups);
  } catch (err) {
    leave();
    throw err;
  }
  return leave;
}

/** Current usage of an environment's limits, as inspect shows it. Absent values could not be read. */
export interface LimitUsage {
  memory?: { max: number; current?: number; peak?: number; failcnt?: number; oomKills?: number; dir: string };
  cpus?: { max: number; usageSeconds?: number; throttledPeriods?: number; dir: string };
  pids?: { max: number; current?: number; peak?: number; refusedForks?: number; dir: string };
}

const num = (s: string | undefined) => (s !== undefined && /^[0-9]+$/.test(s) ? Number(s) : undefined);

/** Read the usage files of `limits`' cgroups (memory.current / memory.usage_in_bytes, pids.current, cpu time). */
export function limitUsage(limits: EnvLimits): LimitUsage {
  const usage: LimitUsage = {};
  const withCtl = (ctl: string) => limits.cgroups.find((c) => c.controllers.includes(ctl));
  const mem = withCtl('memory');
  if (limits.memory !== undefined && mem) {
    if (mem.version === 2) {
      const events = parseKeyedCounters(readCgroupFile(mem.dir, 'memory.events'));
      usage.memory = { max: limits.memory, current: num(readCgroupFile(mem.dir, 'memory.current')), peak: num(readCgroupFile(mem.dir, 'memory.peak')), oomKills: events.get('oom_kill'), dir: mem.dir };
    } else {
      usage.memory = {
        max: limits.memory,
        current: num(readCgroupFile(mem.dir, 'memory.usage_in_bytes')),
        peak: num(readCgroupFile(mem.dir, 'memory.max_usage_in_bytes')),
        failcnt: num(readCgroupFile(mem.dir, 'memory.failcnt')),
        oomKills: parseKeyedCounters(readCgroupFile(mem.dir, 'memory.oom_control')).get('oom_kill'),
        dir: mem.dir,
      };
    }
    strip(usage.memory);
  }
  const cpu = withCtl('cpu');
  if (limits.cpus !== undefined && cpu) {
    const stat = parseKeyedCounters(readCgroupFile(cpu.dir, 'cpu.stat'));
    let usageSeconds: number | undefined;
    if (cpu.version === 2) {
      const us = stat.get('usage_usec');
      usageSeconds = us === undefined ? undefined : us / 1e6;
    } else {
      const acct = withCtl('cpuacct');
      const ns = acct ? num(readCgroupFile(acct.dir, 'cpuacct.usage')) : undefined;
      usageSeconds = ns === undefined ? undefined : ns / 1e9;
    }
    usage.cpus = { max: limits.cpus, usageSeconds, throttledPeriods: stat.get('nr_throttled'), dir: cpu.dir };
    strip(usage.cpus);
  }
  const pids = withCtl('pids');
  if (limits.pids !== undefined && pids) {
    usage.pids = {
      max: limits.pids,
      current: num(readCgroupFile(pids.dir, 'pids.current')),
      peak: num(readCgroupFile(pids.dir, 'pids.peak')),
      refusedForks: parseKeyedCounters(readCgroupFile(pids.dir, 'pids.events')).get('max'),
      dir: pids.dir,
    };
    strip(usage.pids);
  }
  return usage;
}

function strip(o: object): void {
  for (const [k, v] of Object.entries(o)) if (v === undefined) delete (o as Record<string, unknown>)[k];
}

// ------------------------------------------------------------------ option values

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
/** The largest --memory in whole T: 2^53 - 1 bytes (Number.MAX_SAFE_INTEGER) is 8191.99… T. */
const MAX_MEMORY_TEXT = `${Math.floor(Number.MAX_SAFE_INTEGER / 1024 ** 4)}T`;

/** --memory SIZE: bytes, or a number with K, M, G or T (powers of 1024; "64M", "1.5G", "512k"). */
export function parseSize(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--memory needs a size such as 64M, 1G or 1048576 (bytes), not: ${echoInput(text)}`);
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
  // Bytes are kept exact as a JS number; the kernel clamps any larger limit to "no limit" anyway.
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`--memory is too large: at most ${MAX_MEMORY_TEXT} (${Number.MAX_SAFE_INTEGER} bytes), not: ${echoInput(text)}`);
  // The holder alone needs a few hundred kB; below a megabyte nothing useful runs.
  if (bytes < 1024 * 1024) throw new UsageError(`--memory must be at least 1M, not: ${echoInput(text)}`);
  return bytes;
}

/** --cpus N: CPUs worth of time, fractional (0.5: half of one CPU), at least 0.01, at most the CPU count. */
export function parseCpus(text: string, available: number): number {
  const n = Number(text);
  if (!/^[0-9]*\.?[0-9]+$/.test(text.trim()) || !Number.isFinite(n)) throw new UsageError(`--cpus needs a number of CPUs such as 0.5 or 2, not: ${echoInput(text)}`);
  if (n < MIN_CPUS || n > available) {
    throw new UsageError(`--cpus must be between ${MIN_CPUS} and ${available} (the CPUs this host has), not: ${echoInput(text)}`);
  }
  return Math.round(n * 1000) / 1000;
}

/**
 * The fewest tasks --pids allows. The holder is one; while it starts, the helper that forks
 * it is another (with --pids 1 that fork fails with EAGAIN; tried on 6.18), and so is any
 * command run there later.
 */
export const MIN_PIDS = 2;
/** pids.max takes at most PID_MAX_LIMIT (kernel/cgroup/pids.c: a value >= PID_MAX_LIMIT + 1 is EINVAL). */
export const MAX_PIDS = 4194304;

/** --pids N: a whole number from MIN_PIDS to MAX_PIDS (the holder is one of them). */
export function parsePidsMax(text: string): number {
  const t = text.trim();
  if (!/^[0-9]+$/.test(t)) throw new UsageError(`--pids needs a whole number of processes such as 64, not: ${echoInput(text)}`);
  const n = Number(t);
  if (n < MIN_PIDS) throw new UsageError(`--pids must be at least ${MIN_PIDS}: the holder is one process and a command run there another, not: ${echoInput(text)}`);
  if (n > MAX_PIDS) throw new UsageError(`--pids is too large: at most ${MAX_PIDS} (the kernel's PID_MAX_LIMIT), not: ${echoInput(text)}`);
  return n;
}
