/**
 * Finding an environment by name for a command that acts on it (enter, exec, inspect, diff,
 * ps -p, destroy).
 *
 * An environment lives in its creator's state directory. The caller's own comes first; root
 * may also act on other users' (rootless environments live in their creators' directories),
 * as it may enter any namespace or kill any process. A name that only other users have, and
 * more than one of them, is ambiguous: root says so and names the directories, one of which
 * NSM_STATE_DIR then picks (ownLocation). An unprivileged user cannot read anyone else's
 * state directory (0700), so for them a missing name may be someone else's: the error says so.
 */
import { existsSync, readdirSync } from 'node:fs';
import { NsmError } from '../sys/errors.js';
import { effectiveUid, usersTmpDir } from '../sys/statefs.js';
import { validateName } from './record.js';
import { otherUsersStateDirs, ownLocation, type EnvironmentLocation, type RegistryOptions } from './registry/layout.js';
import type { NsType } from '../sys/nstypes.js';
import { holderState, openVerified, type VerifiedNamespaces } from './registry/holder.js';
import { findRecord, hasEntry, withState, type FoundRecord, type ListedEnvironment } from './registry/lookup.js';

/**
 * Where the environment `name` the caller may act on is: its own state directory when that
 * has it, else (root only) the one other user's directory that has it. With `reservations`,
 * a create in progress (or left by a killed one) counts as having it: destroy clears those.
 * @throws NsmError (exit 1) when no directory has it, or (root) several users' do.
 */
export function locateEnvironment(name: string, options: RegistryOptions = {}, reservations = false): EnvironmentLocation {
  validateName(name);
  const own = ownLocation(options);
  // Our own directory's problems (unsafe, unreadable) are errors; other users' are skipped.
  if (hasEntry(name, own, { reservations, tolerant: false })) return own;
  const euid = effectiveUid();
  if (euid === 0) {
    const found = otherUsersStateDirs(own.stateDir).filter((d) => hasEntry(name, d, { reservations }));
    if (found.length === 1) return found[0]!;
    if (found.length > 1) {
      throw new NsmError(`several users have an environment named ${name}: ${found.map((d) => `uid ${d.stateDirOwner} (${d.stateDir})`).join(', ')}`, {
        hint: `pick one by its state directory: put NSM_STATE_DIR=${found[0]!.stateDir} (or another of them) before the nsm command`,
      });
    }
  }
  throw new NsmError(`no environment named ${name}`, {
    hint:
      euid === 0 || !othersMayHaveIt()
        ? 'nsm ls lists the environments'
        : "other users' environments are not visible to you: only their creator or root may enter them (nsm ls lists yours)",
  });
}

/** The environment `name` the caller may act on; NsmError (exit 1) when there is none. */
export function resolveEnvironment(name: string, options: RegistryOptions = {}): ListedEnvironment {
  const found = resolveRecord(name, options);
  return withState(found, holderState(found.record, options));
}

/** An environment found by name, with its namespaces open and verified (their IDs by the join: `id`). */
export interface OpenedEnvironment {
  env: ListedEnvironment;
  /** In join order; close() them when done. */
  verified: VerifiedNamespaces;
}

/**
 * Find the environment `name` the caller may act on (as resolveEnvironment) and open its
 * namespaces of `types` (default: all of them) verified against its record (openVerified), in
 * one step: the holder's /proc/PID/stat is read once, after the namespace files are open,
 * which is the read that guards against a reused pid.
 * @throws as resolveEnvironment and openVerified.
 */
export function openEnvironment(name: string, types: readonly NsType[] | undefined, options: RegistryOptions = {}): OpenedEnvironment {
  const found = resolveRecord(name, options);
  const record = found.record;
  let wanted = types && types.length > 0 ? [...types] : [...record.types];
  // setns(2) into a namespace owned by the environment's user namespace needs CAP_SYS_ADMIN
  // there: an unprivileged caller has it only after joining that user namespace too. Root
  // joins another user's environment through its user namespace as well, and so runs as
  // that user's root (uid 0 inside is the user outside), never with host root's powers in
  // namespaces (a mount namespace with the user's own /bin/sh) the user controls.
  const foreign = found.stateDirOwner !== undefined;
  if ((effectiveUid() !== 0 || foreign) && record.types.includes('user') && !wanted.includes('user')) wanted = ['user', ...wanted];
  // The namespace IDs are checked where they are joined (src/core/join.ts): no ioctl here.
  const verified = openVerified(record, wanted, { ...options, stateDirOwner: found.stateDirOwner, idsAtJoin: true });
  return { env: withState(found, verified.via === 'holder' ? 'running' : 'pinned'), verified };
}

/** The record of `name` the caller may act on, its holder not looked at yet. */
function resolveRecord(name: string, options: RegistryOptions): FoundRecord {
  // The common case first, with one read of the record (exec's start-up: bench/lifecycle.mjs).
  const own = findRecord(name, options);
  if (own) return own;
  const location = locateEnvironment(name, options);
  const env = findRecord(name, { ...options, ...location });
  // Gone between the two looks (destroyed, or only a reservation): as if never there.
  if (!env) throw new NsmError(`no environment named ${name}`, { hint: 'nsm ls lists the environments' });
  return env;
}

/** Whether a state directory that is not ours exists: root's /run/nsm or another user's /tmp/nsm-UID. */
function othersMayHaveIt(): boolean {
  if (existsSync('/run/nsm')) return true;
  try {
    const mine = `nsm-${effectiveUid()}`;
    return readdirSync(usersTmpDir()).some((e) => /^nsm-[0-9]+$/.test(e) && e !== mine);
  } catch {
    return false;
  }
}
