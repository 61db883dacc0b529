/**
 * The record schema: what <state>/envs/NAME/env.json and reservation.json hold, their parser,
 * and what an environment name may be. A leaf: it reads no file and imports no other part of
 * core, so everything that handles records (the registry, limits, network, destroy) can
 * import it without a circle.
 */
import { quoteInput, UsageError } from '../sys/errors.js';
import { isNsType, type NsType } from '../sys/nstypes.js';

/** Version of env.json and reservation.json; bump it when their meaning changes. */
export const ENV_RECORD_SCHEMA_VERSION = 1;

/** What an environment name may be (docs/state.md). It is also a directory and file name. */
export const ENV_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME_RULE = "1 to 64 characters: letters, digits, '_', '.' and '-', starting with a letter or digit";

// ---------------------------------------------------------------------------------------------
// What an environment made outside its namespaces (options.veth, options.limits)

/** `options.veth` of an environment record. */
export interface EnvVeth {
  /** Interface in the creator's (host) network namespace. */
  hostIf: string;
  /** Interface inside the environment. */
  envIf: string;
  /** "10.200.0.1/30" */
  hostAddress: string;
  /** "10.200.0.2/30" */
  envAddress: string;
  /** "10.200.0.0/30" */
  subnet: string;
  /** Picked by nsm (--veth without addresses). */
  picked: boolean;
  /** --nat: what was added to the host's firewall; removed exactly on destroy. */
  nat?: EnvNat;
}

/** What --nat changed on the host. */
export interface EnvNat {
  tool: 'iptables' | 'nft';
  /** iptables: each rule as [table, chain, ...match and target]; removed with -D. */
  rules: string[][];
  /** nft: the table nsm made (family ip); removed as a whole. */
  table?: string;
  /** Whether nsm switched net.ipv4.ip_forward from 0 to 1. It is left on at destroy. */
  forwardingEnabled: boolean;
}

/** What `create` was asked to limit. */
export interface LimitRequest {
  /** Bytes of memory (memory.max / memory.limit_in_bytes). */
  memory?: number;
  /** CPUs worth of time per period (cpu.max / cpu.cfs_quota_us), fractional. */
  cpus?: number;
  /** Most tasks (processes and threads) at once, the holder included (pids.max). */
  pids?: number;
}

/** One cgroup an environment has: a directory in one hierarchy. */
export interface EnvCgroup {
  /** 2: the unified hierarchy; 1: a v1 hierarchy. */
  version: 1 | 2;
  /** The controllers nsm uses there for this environment. */
  controllers: string[];
  /** Absolute directory, e.g. /sys/fs/cgroup/memory/nsm/env-web. */
  dir: string;
}

/** `options.limits` of an environment record. */
export interface EnvLimits extends LimitRequest {
  cgroups: EnvCgroup[];
}

// ---------------------------------------------------------------------------------------------
// Records

/** What `create` was given. */
export interface EnvOptions {
  hostname?: string;
  /** User-namespace id mapping as create was asked for it (--map-root, --map-user ...). */
  map?: { root?: boolean; user?: number; group?: number; auto?: boolean; [key: string]: unknown };
  propagation?: 'private' | 'slave' | 'shared' | 'unchanged';
  mountProc?: boolean;
  mountSys?: boolean;
  loopback?: boolean;
  pin?: boolean;
  timeOffsets?: { monotonic?: number; boottime?: number };
  /** --veth: the pair, its addresses and (--nat) its NAT rules. */
  veth?: EnvVeth;
  /** --memory, --cpus, --pids: the limits and the cgroups that carry them. */
  limits?: EnvLimits;
}

/** A process across PID reuse: its pid and start time (/proc/PID/stat field 22, clock ticks after boot). */
export interface ProcessIdentity {
  pid: number;
  startTime: number;
}

/**
 * `adopted` of a record made by `nsm adopt`: namespaces nsm did not make, and what nsm added
 * to hold them. Destroy releases only that (the pins, or its own holder) and signals the
 * target's processes only with --force.
 */
export interface EnvAdoption {
  /** The target as given (pid:1234, netns:blue, docker:web). */
  target: string;
  /** The process the target named when adopted, if it named one (pid + start time). */
  process?: ProcessIdentity;
  /**
   * How nsm holds them: 'pins', bind mounts of the namespace files in the state directory
   * (root; the record's holder is then the target's process, never signalled by destroy
   * without --force, or for a file target the adopting nsm process, gone once it returned);
   * 'holder', an nsm:holder process that joined them (without root: a user may not bind-mount
   * in the host mount namespace, but may setns(2) into namespaces their own user namespace owns).
   */
  heldBy: 'pins' | 'holder';
}

/** <state>/envs/NAME/env.json. Documented in docs/state.md. */
export interface EnvRecord {
  schemaVersion: typeof ENV_RECORD_SCHEMA_VERSION;
  name: string;
  /** The namespace types the environment created (nsenter join order). */
  types: NsType[];
  options: EnvOptions;
  holder: ProcessIdentity;
  /** Inode of each created namespace, read from the holder when it started. */
  namespaces: Partial<Record<NsType, number>>;
  /**
   * 64-bit ID (NS_GET_ID, Linux 6.18) of each created namespace, read from the same fds as
   * the inodes; absent on older kernels. Unlike an inode it is never reused, so the join-time
   * check compares it too.
   */
  ids?: Partial<Record<NsType, number>>;
  /** Bind mounts of namespace files that keep them alive without the holder (--pin). */
  pins: Partial<Record<NsType, string>>;
  /** /run/netns/NAME when the net namespace was linked there for ip-netns(8). */
  netnsLink?: string;
  /** Set by `nsm adopt`: the namespaces are someone else's (see EnvAdoption). */
  adopted?: EnvAdoption;
  creatorUid: number;
  /** ISO 8601. */
  createdAt: string;
  nsmVersion: string;
}

/** What a creator passes to Reservation.commit(); the registry adds name, uid, time, versions. */
export interface NewEnvRecord {
  types: NsType[];
  options?: EnvOptions;
  holder: ProcessIdentity;
  namespaces: Partial<Record<NsType, number>>;
  ids?: Partial<Record<NsType, number>>;
  pins?: Partial<Record<NsType, string>>;
  netnsLink?: string;
  adopted?: EnvAdoption;
}

/** <state>/envs/NAME/reservation.json: who is creating NAME right now, and what it has made so far. */
export interface ReservationRecord {
  schemaVersion: typeof ENV_RECORD_SCHEMA_VERSION;
  name: string;
  creator: ProcessIdentity;
  creatorUid: number;
  reservedAt: string;
  nsmVersion: string;
  /** Written by Reservation.note() as the create goes on. */
  progress?: CreateProgress;
}

/** The veth a create notes before the pair exists: its interface names (then all of it). */
export type NotedVeth = Pick<EnvVeth, 'hostIf' | 'envIf'> & Partial<EnvVeth>;

/**
 * What a create has made outside its directory, noted before (cgroups, the /run/netns link)
 * or right after (holder, NAT rules) it is made. A creator stopped by SIGINT/SIGTERM undoes
 * its own work; one killed by SIGKILL (or the OOM killer) cannot, so the next reserve() of
 * the name or a gc reads this and undoes it: kills the holder if it is still that process,
 * removes NAT rules, cgroups and the link (see undoInterruptedCreate()).
 */
export interface CreateProgress {
  holder?: ProcessIdentity;
  /** Inodes of the holder's namespaces: the /run/netns link is removed only if it is ours. */
  namespaces?: Partial<Record<NsType, number>>;
  /** As the record will hold them: veth (with NAT rules) and limits (with cgroups). */
  options?: { veth?: NotedVeth; limits?: EnvLimits };
  netnsLink?: string;
}

/**
 * What an environment made outside its state directory, as its record says or, for a create
 * killed half-way, as its CreateProgress noted: what destroy and gc release. An EnvRecord is one.
 */
export interface EnvResources {
  name: string;
  namespaces: Partial<Record<NsType, number>>;
  options: { veth?: NotedVeth; limits?: EnvLimits };
  netnsLink?: string;
}

/**
 * Now as ISO 8601 in UTC ("2026-12-03T10:00:00.000Z"), as Date#toISOString() writes it.
 * Built from the UTC getters because V8 loads the local time zone (/etc/localtime, ICU) on
 * the first toISOString(), about 1 ms of `nsm create` for a zone it does not use.
 */
export function isoTimestamp(date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const year = date.getUTCFullYear();
  const y = year >= 0 && year <= 9999 ? p(year, 4) : `${year < 0 ? '-' : '+'}${p(Math.abs(year), 6)}`;
  return `${y}-${p(date.getUTCMonth() + 1)}-${p(date.getUTCDate())}T${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())}.${p(date.getUTCMilliseconds(), 3)}Z`;
}

/** Throw UsageError unless `name` is a valid environment name; returns it. */
export function validateName(name: string): string {
  if (!ENV_NAME_PATTERN.test(name)) {
    throw new UsageError(`invalid environment name ${quoteInput(name)}: use ${ENV_NAME_RULE}`);
  }
  return name;
}

/**
 * validateName, and for a name to be created: not all digits. Targets (inspect, diff) read an
 * all-digit word as a PID, so such an environment could never be named there.
 */
export function validateNewName(name: string): string {
  validateName(name);
  if (/^[0-9]+$/.test(name)) throw new UsageError(`invalid environment name ${quoteInput(name)}: all-digit words are PIDs; use a letter too`);
  return name;
}

export function isInt(v: unknown, min = 0): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
}

/** Parse and check env.json text; throws Error (not NsmError) naming what is wrong. */
export function parseEnvRecord(text: string): EnvRecord {
  const r = JSON.parse(text) as EnvRecord;
  const bad = (what: string): never => {
    throw new Error(`bad record: ${what}`);
  };
  if (typeof r !== 'object' || r === null) bad('not an object');
  if (r.schemaVersion !== ENV_RECORD_SCHEMA_VERSION) {
    bad(`schemaVersion ${String(r.schemaVersion)}${isInt(r.schemaVersion) && r.schemaVersion > ENV_RECORD_SCHEMA_VERSION ? ' (written by a newer nsm)' : ''}`);
  }
  if (typeof r.name !== 'string' || !ENV_NAME_PATTERN.test(r.name)) bad('name');
  if (!Array.isArray(r.types) || !r.types.every((t) => typeof t === 'string' && isNsType(t))) bad('types');
  if (typeof r.holder !== 'object' || !isInt(r.holder?.pid, 1) || !isInt(r.holder?.startTime)) bad('holder');
  if (typeof r.namespaces !== 'object' || r.namespaces === null) bad('namespaces');
  for (const t of r.types) if (!isInt(r.namespaces[t], 1)) bad(`namespaces.${t}`);
  if (r.ids !== undefined) {
    if (typeof r.ids !== 'object' || r.ids === null) bad('ids');
    for (const t of r.types) if (r.ids[t] !== undefined && !isInt(r.ids[t], 1)) bad(`ids.${t}`);
  }
  if (typeof r.pins !== 'object' || r.pins === null) bad('pins');
  if (!isInt(r.creatorUid)) bad('creatorUid');
  if (typeof r.createdAt !== 'string') bad('createdAt');
  if (typeof r.options !== 'object' || r.options === null) bad('options');
  if (r.adopted !== undefined) {
    const a = r.adopted;
    if (typeof a !== 'object' || a === null || typeof a.target !== 'string' || (a.heldBy !== 'pins' && a.heldBy !== 'holder')) bad('adopted');
    if (a.process !== undefined && (!isInt(a.process?.pid, 1) || !isInt(a.process?.startTime))) bad('adopted.process');
  }
  return r;
}

/** Parse reservation.json text; undefined when it names no creator. */
export function parseReservation(text: string): ReservationRecord | undefined {
  try {
    const r = JSON.parse(text) as ReservationRecord;
    return isInt(r?.creator?.pid, 1) ? r : undefined;
  } catch {
    return undefined;
  }
}

