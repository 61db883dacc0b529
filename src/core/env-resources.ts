/**
 * What an environment has outside its namespaces, and its removal: the host end of its veth,
 * the NAT rules it added, its cgroups. Shared by destroy and gc.
 */
import { existsSync } from 'node:fs';
import { cgroupProcs, removeCgroupNow } from '../sys/cgroupctl.js';
import { limitsOf, limitUsage, removeCgroups, removeEmptyParent, type EnvCgroup, type LimitUsage } from './limits.js';
import { deleteVeth, natPresent, removeNat, vethOf, type EnvVeth } from './network.js';
import type { EnvAdoption, EnvRecord, EnvResources } from './record.js';


/** What was removed. */
export interface ReleasedResources {
  /** The host end of the veth, when it was still there and deleted. */
  veth?: string;
  /** Whether NAT rules were removed. */
  nat: boolean;
  /** cgroup directories removed. */
  cgroups: string[];
  /** What could not be removed, as one-line reasons; empty when all went. */
  failures: string[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The veth (while `netnsFd` proves the pair is still this environment's) and the NAT rules. */
function releaseNetwork(record: EnvResources, netnsFd: number | undefined, out: ReleasedResources): void {
  const veth = vethOf(record);
  if (!veth) return;
  try {
    if (deleteVeth(veth, netnsFd)) out.veth = veth.hostIf;
  } catch (err) {
    out.failures.push(message(err));
  }
  if (veth.nat) {
    try {
      out.nat = removeNat(veth.nat);
    } catch (err) {
      out.failures.push(message(err));
    }
  }
}

/**
 * destroy: remove `record`'s veth (`netnsFd`: its network namespace, open), NAT rules and
 * cgroups, each on its own so one failing does not keep the others. The cgroups go last
 * and are given `cgroupWaitMs` for the processes killed just before to finish exiting.
 */
export async function releaseResources(record: EnvRecord, netnsFd: number | undefined, cgroupWaitMs?: number): Promise<ReleasedResources> {
  const out: ReleasedResources = { nat: false, cgroups: [], failures: [] };
  releaseNetwork(record, netnsFd, out);
  const cgroups = limitsOf(record)?.cgroups ?? [];
  if (cgroups.length > 0) {
    try {
      out.cgroups = await removeCgroups(cgroups, cgroupWaitMs);
    } catch (err) {
      out.failures.push(message(err));
    }
  }
  return out;
}

/**
 * gc: the same for an environment whose holder is long gone. Its network namespace went
 * with it, and the veth pair with that (veth(4)); its cgroups are removed without waiting.
 */
export function releaseResourcesNow(record: EnvResources): ReleasedResources {
  const out: ReleasedResources = { nat: false, cgroups: [], failures: [] };
  releaseNetwork(record, undefined, out);
  for (const c of limitsOf(record)?.cgroups ?? []) {
    try {
      if (removeCgroupNow(c.dir)) out.cgroups.push(c.dir);
      removeEmptyParent(c.dir);
    } catch (err) {
      out.failures.push(message(err));
    }
  }
  return out;
}

/** What releaseResourcesNow() would do with `record` now (for `gc -n`). */
export interface PlannedRelease {
  nat: boolean;
  cgroups: string[];
  /** Why it would fail: a cgroup with processes in it (not checked with `holderGoing`). */
  problem?: string;
}

/**
 * Plan releaseResourcesNow(record) without changing anything. `holderGoing`: a holder that
 * gc stops first is still in the cgroups, so processes there are no obstacle.
 */
export function plannedRelease(record: EnvResources, holderGoing = false): PlannedRelease {
  const veth = vethOf(record);
  const out: PlannedRelease = { nat: veth?.nat ? natPresent(veth.nat) : false, cgroups: [] };
  for (const c of limitsOf(record)?.cgroups ?? []) {
    if (!existsSync(c.dir)) continue;
    out.cgroups.push(c.dir);
    const pids = holderGoing ? [] : cgroupProcs(c.dir);
    if (pids.length > 0) out.problem ??= `cannot remove cgroup ${c.dir}: processes still in it (PID ${pids.join(', ')})`;
  }
  return out;
}

/** An environment's veth and limits as `nsm inspect NAME` shows them, with current usage. */
export interface EnvironmentResources {
  name: string;
  /** nsm adopt: whose namespaces, and what of nsm's holds them (the record's `adopted`, with its pins). */
  adopted?: EnvAdoption & { pins: string[]; holder?: number };
  veth?: EnvVeth;
  limits?: LimitUsage & { cgroups: EnvCgroup[] };
}

export function environmentResources(record: EnvRecord): EnvironmentResources {
  const out: EnvironmentResources = { name: record.name };
  if (record.adopted) {
    const pins = Object.values(record.pins).filter((p): p is string => p !== undefined);
    out.adopted = { ...record.adopted, pins, ...(record.adopted.heldBy === 'holder' ? { holder: record.holder.pid } : {}) };
  }
  const veth = vethOf(record);
  if (veth) out.veth = veth;
  const limits = limitsOf(record);
  if (limits) out.limits = { ...limitUsage(limits), cgroups: limits.cgroups };
  return out;
}
