/**
 * The NamespaceRequest (src/core/plan.ts) that the parsed namespace options of create and
 * unshare (namespace-options.ts) describe.
 */
import type { NamespaceRequest } from '../core/plan.js';
import { NS_TYPES, type NsType } from '../sys/nstypes.js';
import type { namespaceOptions } from './namespace-options.js';
import type { OptionsOf } from './spec.js';

export type NamespaceOptions = OptionsOf<typeof namespaceOptions>;

/** The NamespaceRequest the parsed options describe. */
export function namespaceRequest(opts: NamespaceOptions): NamespaceRequest {
  const types: NsType[] = [...(opts.type ?? [])];
  // The per-type flags (-n/--net ...) are keyed by their long names (namespace-options.ts).
  const flags = opts as Readonly<Record<string, unknown>>;
  for (const t of NS_TYPES) {
    if (flags[t.unshareLong] === true && !types.includes(t.name)) types.push(t.name);
  }
  return {
    types,
    hostname: opts.hostname,
    mapRoot: opts.mapRoot || opts.mapRootUser || undefined,
    // unshare(1) --map-current-user: the caller's own ids, the same inside.
    mapUser: opts.mapUser ?? (opts.mapCurrentUser ? process.getuid!() : undefined),
    mapGroup: opts.mapGroup ?? (opts.mapCurrentUser ? process.getgid!() : undefined),
    setgroups: opts.setgroups,
    mapUsers: opts.mapUsers,
    mapGroups: opts.mapGroups,
    mapAuto: opts.mapAuto,
    mountProc: opts.mountProc,
    mountSys: opts.mountSys,
    propagation: opts.propagation,
    monotonic: opts.monotonic,
    boottime: opts.boottime,
    loopback: opts.lo,
  };
}
