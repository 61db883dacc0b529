/** exec's and enter's options (src/commands/exec.ts) as execTarget's: nsenter's per-type flags mixed with -t. */
import type { ExecTargetOptions } from '../../core/exec.js';
import { UsageError } from '../../sys/errors.js';
import type { NsType } from '../../sys/nstypes.js';
import type { joinOptions } from '../exec.js';
import type { OptionsOf } from '../spec.js';

type JoinOpts = OptionsOf<typeof joinOptions>;

const TYPE_FLAGS: ReadonlyArray<[keyof JoinOpts, NsType]> = [
  ['mount', 'mnt'],
  ['uts', 'uts'],
  ['ipc', 'ipc'],
  ['net', 'net'],
  ['pid', 'pid'],
  ['user', 'user'],
  ['cgroup', 'cgroup'],
  ['time', 'time'],
];

/**
 * -t TYPES and bare -n, -u, ... choose the types (from the target); --net=FILE and its kind
 * take that type from a file, on top of the choice (or of the default: nsenter -a --net=FILE).
 */
export function execOptions(opts: JoinOpts): ExecTargetOptions {
  const types: NsType[] = [...(opts.type ?? [])];
  const files: Partial<Record<NsType, string>> = {};
  for (const [key, type] of TYPE_FLAGS) {
    const value = opts[key];
    if (value === undefined) continue;
    if (value === '' || value === true) {
      if (!types.includes(type)) types.push(type);
    } else {
      files[type] = value as string;
    }
  }
  if (opts.wd !== undefined && opts.wdns !== undefined) throw new UsageError('--wd and --wdns are the same option: give one');
  if (opts.cwd !== undefined && (opts.wd !== undefined || opts.wdns !== undefined)) throw new UsageError('--cwd (-w) and --wd/--wdns exclude each other (as nsenter -w and --wdns)');
  const dir = (v: string | true | undefined): true | string | undefined => (v === undefined ? undefined : v === '' || v === true ? true : v);
  return {
    ...(types.length > 0 ? { types } : {}),
    ...(Object.keys(files).length > 0 ? { files } : {}),
    cwd: opts.wd ?? opts.wdns,
    uid: opts.setuid,
    gid: opts.setgid,
    preserveCredentials: opts.preserveCredentials,
    keepCaps: opts.keepCaps,
    root: dir(opts.root),
    workdir: dir(opts.cwd),
    targetEnv: opts.env,
    joinCgroup: opts.joinCgroup,
    noFork: opts.fork === false,
    netSocket: opts.netSocket,
    userParent: opts.userParent,
    followContext: opts.followContext,
  };
}
