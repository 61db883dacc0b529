/**
 * `nsm diff A B` as a library call: which namespaces two targets share.
 */
import { NS_TYPE_NAMES, type NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import { readTargetNamespaces, resolveTarget, type Target, type TargetSpec } from './target.js';

/** same: one namespace; different: two; unknown: a side could not be read. */
export type Sameness = 'same' | 'different' | 'unknown';

export interface TypeComparison {
  type: NsType;
  a?: number;
  b?: number;
  status: Sameness;
  /** Errno name for a side that could not be read. */
  errorA?: string;
  errorB?: string;
}

export interface Comparison {
  a: Target;
  b: Target;
  types: TypeComparison[];
  summary: { same: number; different: number; unknown: number };
  /** True when every compared type is the same namespace on both sides. */
  allShared: boolean;
}

export interface DiffOptions {
  procRoot?: string;
  /** Types to compare (default all eight, in nsenter order). */
  types?: readonly NsType[];
}

export function diff(a: TargetSpec, b: TargetSpec, options: DiffOptions = {}): Comparison {
  const procfs = new ProcFs(options.procRoot);
  const entries = (options.types ?? NS_TYPE_NAMES).map((type) => ({ entry: type, type }));
  const ta = resolveTarget(a, procfs);
  const tb = resolveTarget(b, procfs);
  const ra = readTargetNamespaces(ta, entries, procfs);
  const rb = readTargetNamespaces(tb, entries, procfs);
  const types = entries.map(({ type }, i): TypeComparison => {
    const x = ra[i]!;
    const y = rb[i]!;
    const status: Sameness = x.inode === undefined || y.inode === undefined ? 'unknown' : x.inode === y.inode ? 'same' : 'different';
    return { type, a: x.inode, b: y.inode, status, errorA: x.error, errorB: y.error };
  });
  const count = (s: Sameness): number => types.filter((t) => t.status === s).length;
  const summary = { same: count('same'), different: count('different'), unknown: count('unknown') };
  return { a: ta, b: tb, types, summary, allShared: summary.same === types.length };
}
