/**
 * The namespace options `create` and `unshare` share (unshare(1)'s flags, plus -t as lsns
 * spells types), for commander; namespace-request.ts turns what it parsed into a
 * NamespaceRequest for src/core/plan.ts.
 */
import { Option, type Command } from 'commander';
import { UsageError } from '../sys/errors.js';
import { NS_TYPES, NS_TYPE_NAMES } from '../sys/nstypes.js';
import { collectTypes } from './options.js';

/** A uid or gid: 0 .. 2^32-2 ((uid_t)-1 means "no id"). */
function parseId(what: string): (value: string) => number {
  return (value: string) => {
    if (!/^[0-9]{1,10}$/.test(value) || Number(value) > 0xfffffffe) throw new UsageError(`${what} needs a numeric id, not: ${value}`);
    return Number(value);
  };
}

/** Whole seconds, possibly negative (a clock offset of a time namespace). */
function parseSeconds(what: string): (value: string) => number {
  return (value: string) => {
    if (!/^-?[0-9]{1,12}$/.test(value)) throw new UsageError(`${what} needs whole seconds, not: ${value}`);
    return Number(value);
  };
}

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
    .option('--monotonic <secs>', 'CLOCK_MONOTONIC offset of the new time namespace (implies --time)', parseSeconds('--monotonic'))
    .option('--boottime <secs>', 'CLOCK_BOOTTIME offset of the new time namespace (implies --time)', parseSeconds('--boottime'))
    .option('--no-lo', 'leave the loopback interface of a new net namespace down');
}
