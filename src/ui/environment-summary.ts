/**
 * The `nsm ls --json` view: the namespaces as rows of the chosen columns, and every entry of
 * the environments listing as one summary.
 */
import type { NsType } from '../sys/nstypes.js';
import type { NamespaceListing, NamespaceSummary } from '../core/listing.js';
import type { EnvironmentListing } from '../core/registry/list.js';
import { rowsToJson, type Column } from './columns.js';
import type { HolderState } from '../core/registry/holder.js';
import type { ListedEnvironment } from '../core/registry/lookup.js';
import { userNetJson } from './created-view.js';

/** `nsm ls --json` `environments[]` element (schemaVersion of the enclosing document). */
export interface EnvironmentSummary {
  name: string;
  types: NsType[];
  /** The holder's pid (for a create in progress or interrupted: its holder's, when noted). */
  pid: number | null;
  /**
   * A record's HolderState; creating: a create in progress; interrupted: a create that was
   * killed (destroy or gc undoes what it made); unreadable: a record nsm cannot read.
   */
  state: HolderState | 'creating' | 'interrupted' | 'unreadable';
  createdAt: string | null;
  uid: number;
  namespaces: Partial<Record<NsType, number>>;
  pins: Partial<Record<NsType, string>>;
  netnsLink: string | null;
  /** --pasta: mode, network process pid, the host's address inside, published ports (userNetJson); null without. */
  userNet: object | null;
  /** unreadable: why. */
  message?: string;
}

/**
 * Every entry of a listing as a summary, sorted by name: the environments, then, so that
 * they can be found and cleaned, creates in progress or interrupted and unreadable records.
 * An entry with no stateDirOwner is the caller's (listing.uid).
 */
export function listingSummaries(listing: EnvironmentListing): EnvironmentSummary[] {
  const euid = listing.uid;
  const empty = { types: [] as NsType[], namespaces: {}, pins: {}, netnsLink: null, userNet: null };
  const others: EnvironmentSummary[] = [
    ...listing.creating.map((c) => ({
      ...empty,
      name: c.name,
      pid: c.holderPid ?? null,
      state: c.interrupted ? ('interrupted' as const) : ('creating' as const),
      createdAt: c.reservedAt ?? null,
      uid: c.stateDirOwner ?? euid,
    })),
    ...listing.problems
      .filter((p) => p.name !== '')
      .map((p) => ({ ...empty, name: p.name, pid: null, state: 'unreadable' as const, createdAt: null, uid: p.stateDirOwner ?? euid, message: p.message })),
  ];
  return [...listing.environments.map(environmentSummary), ...others].sort((a, b) => (a.name === b.name ? a.uid - b.uid : a.name < b.name ? -1 : 1));
}

export function environmentSummary(env: ListedEnvironment): EnvironmentSummary {
  const r = env.record;
  return {
    name: env.name,
    types: r.types,
    pid: r.holder.pid,
    state: env.state,
    createdAt: r.createdAt,
    uid: r.creatorUid,
    namespaces: r.namespaces,
    pins: r.pins,
    netnsLink: r.netnsLink ?? null,
    userNet: userNetJson(r.options.userNet),
  };
}


/** The `nsm ls --json` document: `namespaces` in the columns `cols` (plus owners), and `environments`. */
export function lsJson(
  listing: NamespaceListing,
  cols: readonly Column<NamespaceSummary>[],
): { namespaces: Array<Record<string, unknown>>; environments: EnvironmentSummary[]; hiddenProcesses: number } {
  const rows = rowsToJson(listing.namespaces, cols);
  listing.namespaces.forEach((ns, i) => {
    // The id beside the inode in every row (null on kernels before 6.18).
    if (!('id' in rows[i]!)) rows[i]!.id = ns.detail.id ?? null;
    rows[i]!.owners = ns.owners;
    // nprocs 0 with processes that could not be read: not known to be empty.
    rows[i]!.processesHidden = ns.processesHidden === true;
  });
  // Processes whose namespaces could not be read (another user's): no row counts them.
  return { namespaces: rows, environments: listingSummaries(listing.environments), hiddenProcesses: listing.hiddenProcesses };
}
