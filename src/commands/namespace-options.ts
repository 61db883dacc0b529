/**
 * The namespace options `create` and `unshare` share (unshare(1)'s flags, plus -t as lsns
 * spells types); namespace-request.ts turns what commander parsed into a NamespaceRequest for
 * src/core/plan.ts.
 */
import { NS_TYPES, NS_TYPE_NAMES } from '../sys/nstypes.js';
import { collectTypes, parseId, parseIdBlock, parseTimeOffset } from './options.js';
import { defineOptions, type OptionDecl } from './spec.js';

/**
 * -m/--mount, -u/--uts, ...: one flag per type, as unshare(1) spells them, made from the type
 * table. namespaceRequest() reads them through that table, so they stay out of the typed
 * options (a flags type of `never` has no key).
 */
const TYPE_FLAGS = NS_TYPES.map((t) => ({
  flags: `-${t.unshareLetter}, --${t.unshareLong}`,
  description: `new ${t.label} namespace (same as -t ${t.name})`,
})) as unknown as readonly OptionDecl<never>[];

/** The shared options, in the order help lists them. */
export const namespaceOptions = defineOptions([
  { flags: '-t, --type <types>', description: `namespace types to create, comma-separated or repeated (${NS_TYPE_NAMES.join(', ')}, all)`, parse: collectTypes },
  ...TYPE_FLAGS,
  { flags: '--hostname <hostname>', description: 'hostname in the new UTS namespace (implies --uts)' },
  { flags: '-r, --map-root', description: 'map your uid and gid to root inside (the default with --user; implies --user)' },
  { flags: '--map-root-user', description: "same as --map-root (unshare(1)'s spelling)" },
  { flags: '--map-current-user', description: 'map your uid and gid to the same ids inside (implies --user)' },
  { flags: '--map-user <uid>', description: 'map your uid to this uid inside (implies --user)', parse: parseId('--map-user') },
  { flags: '--map-group <gid>', description: 'map your gid to this gid inside (implies --user)', parse: parseId('--map-group') },
  { flags: '--map-users <inner:outer:count>', description: 'also map this block of uids (outer ones from /etc/subuid unless root; implies --user)', parse: parseIdBlock('--map-users') },
  { flags: '--map-groups <inner:outer:count>', description: 'also map this block of gids (outer ones from /etc/subgid unless root; implies --user)', parse: parseIdBlock('--map-groups') },
  { flags: '--setgroups <mode>', description: 'setgroups(2) in the new user namespace: deny (the default; needed without root) or allow', choices: ['allow', 'deny'] as const },
  { flags: '--map-auto', description: 'also map your subordinate ids from /etc/subuid and /etc/subgid (newuidmap; implies --user)' },
  { flags: '--mount-proc', description: 'mount a fresh /proc (default when pid and mount are both new)' },
  { flags: '--no-mount-proc', description: 'keep the /proc of the parent' },
  { flags: '--mount-sys', description: 'mount a fresh /sys (default when net and mount are both new)' },
  { flags: '--no-mount-sys', description: 'keep the /sys of the parent' },
  { flags: '--propagation <mode>', description: 'mount propagation of / in a new mount namespace (ignored without one, as unshare(1) does)', choices: ['private', 'slave', 'shared', 'unchanged'] as const },
  { flags: '--monotonic <secs>', description: 'CLOCK_MONOTONIC offset of the new time namespace (implies --time)', parse: parseTimeOffset('--monotonic') },
  { flags: '--boottime <secs>', description: 'CLOCK_BOOTTIME offset of the new time namespace (implies --time)', parse: parseTimeOffset('--boottime') },
  { flags: '--no-lo', description: 'leave the loopback interface of a new net namespace down' },
]);
