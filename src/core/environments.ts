/**
 * Finding an environment by name for a command that acts on it (enter, exec, inspect ...).
 *
 * An environment lives in its creator's state directory. The caller's own comes first; root
 * may also act on other users' (rootless environments live in their creators' directories),
 * as it may enter any namespace. An unprivileged user cannot read anyone else's state
 * directory (0700), so for them a missing name may be someone else's: the error says so.
 */
import { existsSync, readdirSync } from 'node:fs';
import { NsmError } from '../sys/errors.js';
import { effectiveUid } from '../sys/statefs.js';
import { findEnvironment, listEnvironments, type ListedEnvironment, type RegistryOptions } from './registry.js';

/** The environment `name` the caller may act on; NsmError (exit 1) when there is none. */
export function resolveEnvironment(name: string, options: RegistryOptions = {}): ListedEnvironment {
  const own = findEnvironment(name, options);
  if (own) return own;
  const euid = effectiveUid();
  if (euid === 0) {
    const found = listEnvironments({ ...options, allUsers: true }).environments.filter((e) => e.name === name);
    if (found.length === 1) return found[0]!;
    if (found.length > 1) {
      throw new NsmError(`several users have an environment named ${name} (uids ${found.map((e) => e.record.creatorUid).join(', ')})`, {
        hint: "set NSM_STATE_DIR to the state directory of the one you mean (e.g. /tmp/nsm-UID)",
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

/** Whether a state directory that is not ours exists: root's /run/nsm or another user's /tmp/nsm-UID. */
function othersMayHaveIt(): boolean {
  if (existsSync('/run/nsm')) return true;
  try {
    const mine = `nsm-${effectiveUid()}`;
    return readdirSync('/tmp').some((e) => /^nsm-[0-9]+$/.test(e) && e !== mine);
  } catch {
    return false;
  }
}
