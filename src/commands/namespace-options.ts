/**
 * The namespace options `create` and `unshare` share (unshare(1)'s flags, plus -t as lsns
 * spells types), for commander; namespace-request.ts turns what it parsed into a
 * NamespaceRequest for src/core/plan.ts.
 */
import { Option, type Command } from 'commander';
import { NS_TYPES, NS_TYPE_NAMES } from '../sys/nstypes.js';
import { collectTypes, parseId, parseTimeOffset } from './options.js';

/** Add the shared options to `cmd`, in the order help lists them. */
export function addNamespaceOptions(cmd: Command): Command {
  cmd.option('-t, --type <types>', `namespace types to create, comma-separated or repeated (${NS_TYPE_NAMES.join(', ')}, all)`, collectTypes);
  for (const t of NS_TYPES) {
    cmd.addOption(new Option(`-${t.unshareLetter}, --${t.unshareLong}`, `new ${t.label} namespace (same as -t ${t.name})`));
  }
  return cmd
    .option('--hostname <hostname>', 'hostname in the new UTS namespace (implies --uts)')
    .option('-r, --map-root', 'map your uid and gid to root inside (the default with --user; implies --user)')
    .option('--map-user <uid>', 'map your uid to this uid inside (implies --user)', parseId('--map-user'))
    .option('--map-group <gid>', 'map your gid to this gid inside (implies --user)', parseId('--map-group'))
    .option('--map-auto', 'also map your subordinate ids from /etc/subuid and /etc/subgid (newuidmap; implies --user)')
    .option('--mount-proc', 'mount a fresh /proc (default when pid and mount are both new)')
    .option('--no-mount-proc', 'keep the /proc of the parent')
    .option('--mount-sys', 'mount a fresh /sys (default when net and mount are both new)')
    .option('--no-mount-sys', 'keep the /sys of the parent')
    .addOption(new Option('--propagation <mode>', 'mount propagation of / in the new mount namespace').choices(['private', 'slave', 'shared', 'unchanged']))
    .option('--monotonic <secs>', 'CLOCK_MONOTONIC offset of the new time namespace (implies --time)', parseTimeOffset('--monotonic'))
    .option('--boottime <secs>', 'CLOCK_BOOTTIME offset of the new time namespace (implies --time)', parseTimeOffset('--boottime'))
    .option('--no-lo', 'leave the loopback interface of a new net namespace down');
}
