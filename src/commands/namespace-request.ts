/**
 * The NamespaceRequest (src/core/plan.ts) that parsed namespace options describe: commander's
 * (namespace-options.ts) or the lean create entry's (src/lean-create.ts), which has no
 * commander, hence a module of its own.
 */
import type { NamespaceRequest } from '../core/plan.js';
import { NS_TYPES, type NsType } from '../sys/nstypes.js';

/** The NamespaceRequest the parsed options describe. */
export function namespaceRequest(opts: Record<string, unknown>): NamespaceRequest {
  const types: NsType[] = [...((opts.type as NsType[] | undefined) ?? [])];
  for (const t of NS_TYPES) {
    // commander camel-cases long options: --mount -> mount, --net -> net.
    if (opts[t.unshareLong] === true && !types.includes(t.name)) types.push(t.name);
  }
  return {
    types,
    hostname: opts.hostname as string | undefined,
    mapRoot: opts.mapRoot as boolean | undefined,
    mapUser: opts.mapUser as number | undefined,
    mapGroup: opts.mapGroup as number | undefined,
    mapAuto: opts.mapAuto as boolean | undefined,
    mountProc: opts.mountProc as boolean | undefined,
    mountSys: opts.mountSys as boolean | undefined,
    propagation: opts.propagation as NamespaceRequest['propagation'],
    monotonic: opts.monotonic as number | undefined,
    boottime: opts.boottime as number | undefined,
    loopback: opts.lo as boolean | undefined,
  };
}
