/**
 * Undo of a create killed half-way (SIGKILL, the OOM killer): what its reservation noted it
 * had made (CreateProgress) is stopped and removed by the next reserve() of the name, a
 * destroy of it or a gc.
 */
import { hasErrno, NsmError, SysError } from '../../sys/errors.js';
import { releaseResourcesNow } from '../env-resources.js';
import { isAlive } from '../processes.js';
import type { EnvResources, ReservationRecord } from '../record.js';
import type { RegistryOptions } from './layout.js';
import { removeNetnsLink } from './links.js';
import { foreignProgressProblem } from './trust.js';

/** What undoInterruptedCreate() stopped and removed. */
export interface UndoneCreate {
  /** The holder the killed create had started, stopped now. */
  holderStopped?: number;
  /** The /run/netns link, removed. */
  netnsLink?: string;
  /** Its NAT rules were removed. */
  nat?: boolean;
  /** Its cgroups, removed. */
  cgroups?: string[];
  /** Its user-mode network process (pasta), stopped. */
  userNetStopped?: number;
}

/** How long undoInterruptedCreate() waits for a killed holder to leave its cgroups. */
const HOLDER_EXIT_WAIT_MS = 2000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}


/**
 * Undo what a create killed half-way had made (its CreateProgress): SIGKILL its holder if it
 * is still that process (start time checked), then remove its NAT rules, cgroups and
 * /run/netns link (only if the link still names its net namespace). The veth pair needs
 * nothing: it went with the holder's net namespace (veth(4)). Pins are below the
 * environment's directory, which the caller removes. Throws NsmError when something stays.
 */
export function undoInterruptedCreate(reservation: ReservationRecord | undefined, options: RegistryOptions, stateDirOwner?: number): UndoneCreate {
  const progress = reservation?.progress;
  if (!progress) return {};
  if (stateDirOwner !== undefined) {
    // Root in a user's directory: the user wrote this file, and could have named anyone's
    // process or cgroup in it. (kill(2) as that user is no guard: seteuid keeps real uid 0.)
    const problem = foreignProgressProblem(progress, stateDirOwner, options);
    if (problem) {
      throw new NsmError(`refusing the reservation of ${reservation!.name} of uid ${stateDirOwner}: ${problem}`, {
        hint: `uid ${stateDirOwner} can remove it`,
      });
    }
  }
  const out: UndoneCreate = {};
  const holder = progress.holder;
  if (holder && isAlive(holder)) {
    try {
      process.kill(holder.pid, 'SIGKILL'); // PID 1 of its pid namespace: SIGKILL from outside works
      out.holderStopped = holder.pid;
    } catch (err) {
      if (!hasErrno(err, 'ESRCH')) throw SysError.fromNode(err, 'kill', `PID ${holder.pid}`);
    }
    // Its cgroups empty once it has exited (a zombie has left them: cgroups(7)).
    const until = Date.now() + HOLDER_EXIT_WAIT_MS;
    while (isAlive(holder) && Date.now() < until) sleepSync(10);
  }
  const partial = notedResources(reservation!);
  // A network process is stopped only if it started after the killed creator (its pid file
  // could otherwise name a later process that reused the pid).
  const released = releaseResourcesNow(partial, reservation!.creator.startTime);
  if (released.nat) out.nat = true;
  if (released.userNet !== undefined) out.userNetStopped = released.userNet;
  if (released.cgroups.length > 0) out.cgroups = released.cgroups;
  if (removeNetnsLink(partial, options)) out.netnsLink = progress.netnsLink;
  if (released.failures.length > 0) throw new NsmError(released.failures.join('; '));
  return out;
}


/** What a killed create noted it had made, for releaseResourcesNow() and removeNetnsLink(). */
export function notedResources(reservation: ReservationRecord): EnvResources {
  const progress = reservation.progress ?? {};
  return {
    name: reservation.name,
    namespaces: progress.namespaces ?? {},
    options: progress.options ?? {},
    ...(progress.netnsLink ? { netnsLink: progress.netnsLink } : {}),
  };
}
