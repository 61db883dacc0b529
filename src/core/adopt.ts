/**
 * `nsm adopt NAME TARGET [-t TYPES]` (cf. `ip netns attach NAME PID`): an environment record
 * for namespaces nsm did not make - a process's (its types that differ from nsm's own, or
 * TYPES), or one namespace file (netns:NAME, a path, ns:INODE) - held by what nsm adds:
 *
 * - root: bind mounts of the namespace files under the environment's directory ("pins", as
 *   `create --pin` makes them). The record's holder is the target's process (inspect and ps
 *   look at it while it runs; destroy never signals it without --force), or for a file target
 *   this adopting process, gone once adopt returns; with no holder the pins are used.
 * - without root: an nsm:holder that joined the namespaces (native helper, holder mode with
 *   NSM_CFG_JOIN_NS). A user may not bind-mount in the host mount namespace, but may setns(2)
 *   into namespaces owned by a user namespace they own (their own `unshare -r`, a rootless
 *   container): the kernel refuses another user's (EPERM), and so does /proc (EACCES).
 *
 * Root adopting a network namespace also names it in /run/netns, as `ip netns attach` and
 * root's create do (unless /run/netns/NAME names it already, an `ip netns` name adopted as
 * itself: that link stays ip's).
 *
 * Order as in create: reserve the name, then (pins) mount them below the reserved directory,
 * which an abort or the undo of a killed adopt removes with the directory, or (holder) note
 * the holder in the reservation before the helper lets it go; then commit. Destroy of an
 * adopted environment releases only the pins or the holder (src/core/destroy.ts).
 */
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { hasErrno, NsmError, UsageError } from '../sys/errors.js';
import { createHolder } from '../sys/helper.js';
import { nsIdOfFd } from '../sys/libc.js';
import { bindNamespaceFile, makePrivateMountPoint, unbindNamespaceFile } from '../sys/nsmounts.js';
import { nsfsDevice, statNsFile } from '../sys/nsfile.js';
import { nsTypeInfo, type NsType } from '../sys/nstypes.js';
import { deferSignals } from '../sys/signals.js';
import { effectiveUid } from '../sys/statefs.js';
import { stopProcess } from './processes.js';
import { validateNewName, type EnvAdoption, type EnvRecord, type ProcessIdentity } from './record.js';
import { processIdentity, readNamespaceInodes } from './registry/holder.js';
import type { RegistryOptions } from './registry/layout.js';
import { makeNetnsLink, netnsLinkPath, netnsTaken } from './registry/links.js';
import { reserve, type ReplacedEntry } from './registry/reservations.js';
import { openTarget, parseTarget, targetLabel, type OpenedTarget } from './target.js';

export interface AdoptOptions extends RegistryOptions {
  /** Only these types (default: every type of the target that differs from nsm's own). */
  types?: readonly NsType[];
}

export interface AdoptedEnvironment {
  record: EnvRecord;
  replaced?: ReplacedEntry;
}

/** Our own namespace inode of `type` (readlink /proc/self/ns/TYPE: "net:[4026531840]"). */
function ownInode(type: NsType): number | undefined {
  try {
    const m = /\[([0-9]+)\]$/.exec(readlinkSync(`/proc/self/ns/${nsTypeInfo(type).procEntry}`));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Adopt `targetText` as environment `name`.
 * @throws UsageError (bad name, an environment as target, exit 2); NsmError when the target
 *   cannot be opened (another user's process: permission denied), shares every namespace
 *   with nsm, or cannot be held. Nothing is left behind in any of these cases.
 */
export async function adoptEnvironment(name: string, targetText: string, options: AdoptOptions = {}): Promise<AdoptedEnvironment> {
  validateNewName(name);
  const spec = parseTarget(targetText);
  if (spec.kind === 'env') throw new UsageError(`${targetText} is an nsm environment already: exec and enter take it as it is`);
  const euid = effectiveUid();
  let opened: OpenedTarget;
  try {
    opened = openTarget(spec, options.types ? { types: options.types } : {});
  } catch (err) {
    // openTarget's refusals exit 125 (exec's own failures); adopt runs no command: 1.
    if (err instanceof NsmError && !(err instanceof UsageError)) throw new NsmError(err.message, { hint: err.hint, exitCode: 1 });
    throw err;
  }
  let reservation: ReturnType<typeof reserve> | undefined;
  let holder: ProcessIdentity | undefined;
  let heldBy: EnvAdoption['heldBy'] | undefined;
  let signals: ReturnType<typeof deferSignals> | undefined;
  let linked: string | undefined;
  try {
    // A process: the types it does not share with us (nsenter -a's rule), unless -t chose them.
    const chosen = opened.namespaces.filter((n) => options.types !== undefined || opened.pid === undefined || n.inode !== ownInode(n.type));
    if (chosen.length === 0) {
      throw new NsmError(`${opened.label} shares every namespace with nsm: nothing to adopt`, { exitCode: 1, hint: 'name the types with -t' });
    }
    heldBy = euid === 0 ? 'pins' : 'holder';
    const adopted: EnvAdoption = {
      target: targetText,
      ...(opened.pid !== undefined && opened.startTime !== undefined ? { process: { pid: opened.pid, startTime: opened.startTime } } : {}),
      heldBy,
    };
    const namespaces: Partial<Record<NsType, number>> = {};
    const ids: Partial<Record<NsType, number>> = {};
    for (const n of chosen) {
      namespaces[n.type] = n.inode;
      const id = nsIdOfFd(n.fd); // NS_GET_ID, Linux 6.18, as create records it
      if (id !== undefined) ids[n.type] = id;
    }
    const net = heldBy === 'pins' ? chosen.find((n) => n.type === 'net') : undefined;
    const link = net && netnsLinkToMake(name, net.inode);
    reservation = reserve(name, options);
    signals = deferSignals();
    const pins: Partial<Record<NsType, string>> = {};
    if (heldBy === 'pins') {
      // Below the reserved directory: an abort, or the undo of an adopt killed here, detaches
      // them with it (removeTree), so nothing needs noting first.
      makePrivateMountPoint(join(reservation.dir, 'pins'));
      for (const n of chosen) {
        const path = reservation.pinPath(n.type);
        bindNamespaceFile(`/proc/self/fd/${n.fd}`, path);
        pins[n.type] = path;
      }
      // The holder is the target's process while it runs (inspect and ps look at it; destroy
      // never signals it: heldBy 'pins'), else this process, gone once adopt returns.
      holder = adopted.process ?? processIdentity(process.pid, options);
      if (net && link) {
        // Noted before it is made; gc removes a noted link only while it names this namespace.
        // No holder in the note: the undo of a killed adopt would SIGKILL it, and it is the target's.
        reservation.note({ namespaces, netnsLink: link });
        linked = makeNetnsLink(`/proc/self/fd/${net.fd}`, name);
      }
    } else {
      const res = reservation;
      await createHolder(
        { types: [] },
        {
          name,
          join: chosen.map((n) => ({ type: n.type, fd: n.fd, inode: BigInt(n.inode) })),
          // Noted while the helper still holds it back: an adopt killed later leaves a holder gc stops.
          onReady: (made) => {
            holder = { pid: made.pid, startTime: made.startTime ?? processIdentity(made.pid, options).startTime };
            res.note({ holder, namespaces });
          },
        },
      );
      if (!holder) throw new Error('createHolder resolved without calling onReady');
      // It must hold what we opened (the helper checked each fd's inode before setns).
      const now = readNamespaceInodes(holder.pid, chosen.map((n) => n.type), options);
      const wrong = chosen.find((n) => now[n.type] !== n.inode);
      if (wrong) throw new NsmError(`the holder did not end up in the ${wrong.type} namespace of ${opened.label}`);
    }
    await new Promise((resolve) => setImmediate(resolve));
    const sig = signals.pending();
    if (sig) throw new NsmError(`interrupted by ${sig}: nothing was adopted`, { exitCode: 128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[sig]! });
    const record = reservation.commit({
      types: chosen.map((n) => n.type),
      options: heldBy === 'pins' ? { pin: true } : {},
      holder: holder!,
      namespaces,
      ids,
      pins,
      ...(linked ? { netnsLink: linked } : {}),
      adopted,
    });
    return { record, ...(reservation.replaced ? { replaced: reservation.replaced } : {}) };
  } catch (err) {
    // Only what we added: the link, our holder (never the target), then the reservation with its pins.
    try {
      if (linked) unbindNamespaceFile(linked);
    } catch {
      // report the original failure
    }
    try {
      if (holder && heldBy === 'holder') await stopProcess(holder, { graceMs: 0 });
    } catch {
      // report the original failure
    }
    try {
      reservation?.abort();
    } catch {
      // report the original failure
    }
    throw explain(err, opened);
  } finally {
    opened.close();
    signals?.restore();
  }
}

/**
 * The /run/netns link root's adopt makes for net namespace `inode`: none when /run/netns/NAME
 * already names it (`nsm adopt blue netns:blue`); a usage-time refusal when it names another.
 */
function netnsLinkToMake(name: string, inode: number): string | undefined {
  const path = netnsLinkPath(name);
  const there = statNsFile(path);
  if (there === undefined) return path;
  if (there.dev === nsfsDevice() && there.ino === inode) return undefined;
  throw netnsTaken(name, path);
}

/** The kernel's refusal of setns(2) into another user's namespaces, in one line. */
function explain(err: unknown, opened: OpenedTarget): unknown {
  if (hasErrno(err, 'EPERM') || (err instanceof Error && /setns\(.*EPERM/.test(err.message))) {
    return new NsmError(`${targetLabel(opened.spec)}: permission denied: its namespaces are another user's`, {
      hint: 'a user adopts the namespaces of their own processes; root adopts any',
    });
  }
  return err;
}

