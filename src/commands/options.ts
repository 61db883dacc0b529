/**
 * Option parsers shared by commands. They turn text into typed values or throw
 * UsageError (exit 2) with a one-line message.
 */
import { OWNER_KINDS, type OwnerFilter } from '../core/attribution.js';
import { UsageError } from '../sys/errors.js';
import { isNsType, NS_TYPE_NAMES, type NsType } from '../sys/nstypes.js';

/** -t/--type: repeatable and comma-separated; "all" means every type. Accumulates into `previous`. */
export function collectTypes(value: string, previous: NsType[] = []): NsType[] {
  const result = [...previous];
  for (const name of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (name === 'all') {
      for (const t of NS_TYPE_NAMES) if (!result.includes(t)) result.push(t);
      continue;
    }
    if (!isNsType(name)) {
      throw new UsageError(`unknown namespace type: ${name} (known: ${NS_TYPE_NAMES.join(', ')}, all)`);
    }
    if (!result.includes(name)) result.push(name);
  }
  return result;
}

/** A process id: a positive decimal integer. */
export function parsePid(value: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(value) || Number(value) > 4194304) {
    throw new UsageError(`not a process id: ${value}`);
  }
  return Number(value);
}

/** A namespace inode as lsns prints it (a positive integer). */
export function parseInode(value: string): number {
  if (!/^[1-9][0-9]{0,19}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`not a namespace id (inode number): ${value}`);
  }
  return Number(value);
}

/** A positive integer option such as --count. */
export function parsePositiveInt(name: string): (value: string) => number {
  return (value: string) => {
    if (!/^[1-9][0-9]*$/.test(value) || !Number.isSafeInteger(Number(value))) {
      throw new UsageError(`${name} needs a positive whole number, not: ${value}`);
    }
    return Number(value);
  };
}

/** A single namespace type (ps -t, tree -t). */
export function parseNsType(value: string): NsType {
  if (!isNsType(value)) throw new UsageError(`unknown namespace type: ${value} (known: ${NS_TYPE_NAMES.join(', ')})`);
  return value;
}

/** A positive duration in seconds, fractions allowed (--duration 0.5); returned in milliseconds. */
export function parseSeconds(name: string): (value: string) => number {
  return (value: string) => {
    const secs = Number(value);
    if (!/^[0-9]*\.?[0-9]+$/.test(value) || !(secs > 0) || !Number.isFinite(secs)) {
      throw new UsageError(`${name} needs a positive number of seconds, not: ${value}`);
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
  for (const spec of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const colon = spec.indexOf(':');
    const kind = colon < 0 ? spec : spec.slice(0, colon);
    const name = colon < 0 ? undefined : spec.slice(colon + 1);
    if (!OWNER_KINDS.includes(kind)) {
      throw new UsageError(`unknown owner kind: ${kind} (known: ${OWNER_KINDS.join(', ')})`);
    }
    if (name === '') throw new UsageError(`--owner '${spec}': a name is needed after the ':'`);
    result.push(name === undefined ? { kind } : { kind, name });
  }
  return result;
}
