/**
 * Option parsers shared by commands. They turn text into typed values or throw
 * UsageError (exit 2) with a one-line message.
 */
import { constants as osConstants } from 'node:os';
import type { OwnerFilter } from '../core/attribution.js';
import { OWNER_KINDS } from '../core/owner-kinds.js';
import { clockSeconds, type OffsetClock } from '../sys/clocks.js';
import { echoInput, UsageError } from '../sys/errors.js';
import { isNsType, NS_TYPE_NAMES, type NsType } from '../sys/nstypes.js';

/** Largest PID the kernel can hand out (PID_MAX_LIMIT: pid_max may be raised to 2^22, proc(5)). */
const PID_MAX_LIMIT = 4194304;

/** -t/--type: repeatable and comma-separated; "all" means every type. Accumulates into `previous`. */
export function collectTypes(value: string, previous: NsType[] = []): NsType[] {
  const result = [...previous];
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  // An empty value must not quietly mean "no filter" (every type).
  if (names.length === 0) throw new UsageError(`-t needs namespace types (${NS_TYPE_NAMES.join(', ')}, all), not: ${echoInput(value)}`);
  for (const name of names) {
    if (name === 'all') {
      for (const t of NS_TYPE_NAMES) if (!result.includes(t)) result.push(t);
      continue;
    }
    if (!isNsType(name)) {
      throw new UsageError(`unknown namespace type: ${echoInput(name)} (known: ${NS_TYPE_NAMES.join(', ')}, all)`);
    }
    if (!result.includes(name)) result.push(name);
  }
  return result;
}

/** nsenter -S/-G: a uid or gid (0..2^32-2), or `follow` (the target process's). */
export function parseIdOrFollow(name: string): (value: string) => number | 'follow' {
  return (value: string) => {
    if (value === 'follow') return 'follow';
    if (!/^[0-9]{1,10}$/.test(value) || Number(value) > 0xfffffffe) throw new UsageError(`${name} needs a numeric id or follow, not: ${echoInput(value)}`);
    return Number(value);
  };
}

/** A file descriptor number of another process (nsenter -N): a decimal integer, 0 to INT_MAX. */
export function parseFdNumber(value: string): number {
  if (!/^[0-9]{1,10}$/.test(value) || Number(value) > 0x7fffffff) throw new UsageError(`--net-socket needs a file descriptor number, not: ${echoInput(value)}`);
  return Number(value);
}

/** A process id: a positive decimal integer. */
export function parsePid(value: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(value) || Number(value) > PID_MAX_LIMIT) {
    throw new UsageError(`not a process id: ${echoInput(value)}`);
  }
  return Number(value);
}

/** A namespace inode as lsns prints it (a positive integer). */
export function parseInode(value: string): number {
  if (!/^[1-9][0-9]{0,19}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`not a namespace id (inode number): ${echoInput(value)}`);
  }
  return Number(value);
}

/** A positive integer option such as --count. */
export function parsePositiveInt(name: string): (value: string) => number {
  return (value: string) => {
    if (!/^[1-9][0-9]*$/.test(value) || !Number.isSafeInteger(Number(value))) {
      throw new UsageError(`${name} needs a positive whole number, not: ${echoInput(value)}`);
    }
    return Number(value);
  };
}

/** A single namespace type (ps -t, tree -t). */
export function parseNsType(value: string): NsType {
  if (!isNsType(value)) throw new UsageError(`unknown namespace type: ${echoInput(value)} (known: ${NS_TYPE_NAMES.join(', ')})`);
  return value;
}

/** A positive duration in seconds, fractions allowed (--duration 0.5); returned in milliseconds. */
export function parseSeconds(name: string): (value: string) => number {
  return (value: string) => {
    const secs = Number(value);
    if (!/^[0-9]*\.?[0-9]+$/.test(value) || !(secs > 0) || !Number.isFinite(secs)) {
      throw new UsageError(`${name} needs a positive number of seconds, not: ${echoInput(value)}`);
    }
    return Math.round(secs * 1000);
  };
}

/**
 * --owner: KIND or KIND:NAME, repeatable and comma-separated (docker,podman or
 * docker:web). Accumulates into `previous`. NAME matches a name, an id, or the start of a
 * hex container id.
 */
export function collectOwners(value: string, previous: OwnerFilter[] = []): OwnerFilter[] {
  const result = [...previous];
  const specs = value.split(',').map((s) => s.trim()).filter(Boolean);
  // An empty value must not quietly mean "no filter" (every owner).
  if (specs.length === 0) throw new UsageError(`--owner needs KIND or KIND:NAME (kinds: ${OWNER_KINDS.join(', ')}), not: ${echoInput(value)}`);
  for (const spec of specs) {
    const colon = spec.indexOf(':');
    const kind = colon < 0 ? spec : spec.slice(0, colon);
    const name = colon < 0 ? undefined : spec.slice(colon + 1);
    if (!OWNER_KINDS.includes(kind)) {
      throw new UsageError(`unknown owner kind: ${echoInput(kind)} (known: ${OWNER_KINDS.join(', ')})`);
    }
    if (name === '') throw new UsageError(`--owner '${echoInput(spec)}': a name is needed after the ':'`);
    result.push(name === undefined ? { kind } : { kind, name });
  }
  return result;
}

/** A uid or gid: 0 .. 2^32-2 ((uid_t)-1 means "no id"). */
export function parseId(what: string): (value: string) => number {
  return (value: string) => {
    if (!/^[0-9]{1,10}$/.test(value) || Number(value) > 0xfffffffe) throw new UsageError(`${what} needs a numeric id, not: ${echoInput(value)}`);
    return Number(value);
  };
}

/**
 * time_namespaces(7): a clock inside a time namespace may be neither negative nor above
 * KTIME_SEC_MAX / 2 seconds (about 146 years); KTIME_SEC_MAX = floor((2^63 - 1) / 10^9).
 */
export const TIME_NS_CLOCK_MAX = 4611686018;

/**
 * --monotonic/--boottime SECS: a whole number of seconds, possibly negative, that keeps the
 * clock inside within 0 .. TIME_NS_CLOCK_MAX, given that clock's value `now` (seconds; the
 * kernel checks now + offset, kernel/time/namespace.c). Beyond that the kernel answers ERANGE.
 * Inside a time namespace our clock reads include its offsets while the kernel checks the
 * host's: there a value near the edge may pass here and still get ERANGE from the kernel.
 */
export function parseTimeOffset(option: '--monotonic' | '--boottime', now?: number): (value: string) => number {
  return (value: string) => {
    const clock: OffsetClock = option === '--monotonic' ? 'monotonic' : 'boottime';
    if (!/^-?[0-9]+$/.test(value)) throw new UsageError(`${option} needs whole seconds, such as 3600 or -60, not: ${echoInput(value)}`);
    const secs = Number(value);
    const at = now ?? clockSeconds(clock);
    const [min, max] = [-at, TIME_NS_CLOCK_MAX - at];
    if (!(secs >= min && secs <= max)) {
      throw new UsageError(
        `${option} must be between ${min} and ${max} seconds: the ${clock} clock (${at} s now) must stay between 0 and ${TIME_NS_CLOCK_MAX} s (about 146 years) inside, not: ${echoInput(value)}`,
      );
    }
    return secs === 0 ? 0 : secs; // -0 -> 0
  };
}

/** --wd DIR: a directory to start in; an empty word is no directory. */
export function parseWd(value: string): string {
  if (value === '') throw new UsageError('--wd needs a directory, not an empty word');
  return value;
}

/**
 * --whitelist-env NAME,NAME: environment variable names, comma-separated (repeating the option
 * adds to the list, as unshare(1)'s does). A name holds no '=' (environ(7)).
 */
export function parseNameList(value: string, previous?: string[]): string[] {
  const names = value.split(',').filter((n) => n !== '');
  const bad = names.find((n) => n.includes('=') || n.includes('\0'));
  if (names.length === 0 || bad !== undefined) throw new UsageError(`--whitelist-env needs variable names separated by commas, not: ${echoInput(value)}`);
  return [...(previous ?? []), ...names];
}

/** A signal as kill(1) takes it: KILL, SIGKILL, kill or 9; its number. */
export function parseSignal(option: string): (value: string) => number {
  return (value) => {
    const signals = osConstants.signals as Record<string, number>;
    const name = value.toUpperCase().replace(/^SIG/, '');
    const n = /^\d+$/.test(value) ? Number(value) : signals[`SIG${name}`];
    if (n === undefined || n < 1 || n > 64) throw new UsageError(`${option} needs a signal (KILL, SIGTERM, 9 ...), not: ${echoInput(value)}`);
    return n;
  };
}

/**
 * unshare(1) --map-users/--map-groups: INNER:OUTER:COUNT (util-linux 2.39 on, the order of
 * /proc/PID/uid_map), or the older OUTER,INNER,COUNT it still accepts.
 */
export function parseIdBlock(option: string): (value: string) => { inside: number; outside: number; count: number } {
  return (value) => {
    const colon = /^(\d+):(\d+):(\d+)$/.exec(value);
    const comma = /^(\d+),(\d+),(\d+)$/.exec(value);
    const [inside, outside, count] = colon ? [colon[1], colon[2], colon[3]] : comma ? [comma[2], comma[1], comma[3]] : [];
    const n = [inside, outside, count].map(Number);
    if (inside === undefined || n.some((x) => !Number.isSafeInteger(x) || x > 0xfffffffe) || n[2]! < 1) {
      throw new UsageError(`${option} needs INNER:OUTER:COUNT (ids, count at least 1), not: ${echoInput(value)}`);
    }
    return { inside: n[0]!, outside: n[1]!, count: n[2]! };
  };
}
