/** `nsm exec` (alias run) and `nsm enter` (alias shell): a command in a target's namespaces (src/core/target.ts). */
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { collectTypes, parseFdNumber, parseIdOrFollow, parseWd } from './options.js';
import { defineCommand, defineOptions } from './spec.js';

const EXIT_HELP = `TARGET: NAME or env:NAME (an environment), PID or pid:PID (a process: its namespaces
that differ from nsm's own, as nsenter -a), netns:NAME (/run/netns/NAME), the absolute
path of a namespace file (/run/netns/X, /proc/PID/ns/TYPE, a bind mount of one): that one
namespace; ns:INODE or nsid:ID (a namespace nsm ls shows); an owner as ls --owner prints
it (docker:web, kubernetes:NS/POD, systemd:UNIT): the lowest pid of its namespaces.

nsm's options end where the command starts; put -- before a command that starts with -.

Exit status: the command's own; 128+N when it died of signal N; 126 not executable;
127 not found; 125 when nsm failed (unknown or dead target, a process that exited or
another user's process, failed join).`;

/** nsenter's -m[FILE]: the type from the target, or from FILE (a namespace file). */
const typeFlag = <F extends string>(flags: F, type: string) =>
  ({ flags, description: `join the ${type} namespace (of the target, or from FILE: --${flags.split('--')[1]!.split(' ')[0]}=FILE)`, parse: (v: string) => v }) as const;

export const joinOptions = defineOptions([
  { flags: '-t, --type <types>', description: `join only these of the target's namespaces (${NS_TYPE_NAMES.join(', ')})`, parse: collectTypes },
  typeFlag('-m, --mount [file]', 'mount'),
  typeFlag('-u, --uts [file]', 'UTS'),
  typeFlag('-i, --ipc [file]', 'IPC'),
  typeFlag('-n, --net [file]', 'network'),
  { flags: '-N, --net-socket <fd>', description: "join the network namespace of the target process's socket FD (pidfd_getfd(2): needs ptrace access to it), as nsenter -N", parse: parseFdNumber },
  typeFlag('-p, --pid [file]', 'pid'),
  typeFlag('-U, --user [file]', 'user'),
  { flags: '--user-parent', description: "join the parent of the target's user namespace (or of -U FILE's) instead, as nsenter --user-parent" },
  typeFlag('-C, --cgroup [file]', 'cgroup'),
  typeFlag('-T, --time [file]', 'time'),
  { flags: '-S, --setuid <uid>', description: "uid of the command (a number, or follow: the target's); a joined user namespace defaults to 0", parse: parseIdOrFollow('--setuid') },
  { flags: '-G, --setgid <gid>', description: "gid of the command, supplementary groups dropped (a number, or follow); a joined user namespace defaults to 0", parse: parseIdOrFollow('--setgid') },
  { flags: '--preserve-credentials', description: 'joining a user namespace changes no uid, gid or groups' },
  { flags: '--keep-caps', description: 'the capabilities a joined user namespace gives survive exec (ambient)' },
  { flags: '-r, --root [dir]', description: "chroot to the target's root directory (or DIR, opened before joining: --root=DIR)", parse: (v: string) => v },
  { flags: '-w, --cwd [dir]', description: "work in the target's working directory (or DIR, opened before joining: --cwd=DIR), as nsenter -w", parse: (v: string) => v },
  { flags: '--wd <dir>', description: 'working directory inside (default: the current one if it exists there, else /)', parse: parseWd },
  { flags: '--wdns <dir>', description: 'the same as --wd (nsenter --wdns): a path inside, after --root', parse: parseWd },
  { flags: '-e, --env', description: "the target's environment (/proc/PID/environ) instead of nsm's" },
  { flags: '-c, --join-cgroup', description: "run in the target's cgroup (cgroup v2)" },
  { flags: '-Z, --follow-context', description: "the target's SELinux context for the command (nsenter -Z); without SELinux, nothing, as nsenter" },
  { flags: '-F, --no-fork', description: 'do not fork: with a pid namespace joined, only the command\'s children are in it (nsenter -F)' },
]);

export const execCommand = defineCommand({
  name: 'exec',
  aliases: ['run'],
  summary: "run a command in an environment's namespaces, or a process's",
  description:
    "Run a command in all of an environment's namespaces (or those given with -t), with NSM_ENV=NAME set; or in a process's or a namespace file's (TARGET below). stdin, stdout, stderr and the terminal pass through; SIGTERM and SIGHUP are forwarded.",
  operands: [
    { name: '<target>', description: 'environment name, PID, pid:PID, env:NAME, netns:NAME, namespace file, ns:INODE, nsid:ID or owner (docker:NAME)' },
    // Optional for commander only: without one the action says that nsm enter starts a shell.
    { name: '[command...]', description: 'the command and its arguments' },
  ],
  usage: '[options] <target> <command...>',
  options: joinOptions,
  runsCommand: { operandsBefore: 1 },
  lean: true,
  examples: [
    { command: 'nsm exec web ip -br addr' },
    { command: 'nsm exec web -- ip -br addr', does: "the same; -- ends nsm's options explicitly" },
    { command: 'nsm exec -t net web ss -tlnp', does: 'only the network namespace' },
    { command: 'nsm exec --wd /srv web ls' },
    { command: 'nsm exec 4242 hostname', does: "in process 4242's namespaces (those that differ from ours)" },
    { command: 'nsm exec -t net pid:4242 ss -tlnp', does: 'only its network namespace' },
    { command: 'nsm exec netns:blue ip -br addr', does: 'as ip netns exec blue' },
    { command: 'nsm exec /proc/4242/ns/net ip -br addr', does: 'one namespace, named by its file' },
  ],
  epilogue: EXIT_HELP,
  action: () => import('./actions/exec.js'),
});

export const enterCommand = defineCommand({
  name: 'enter',
  aliases: ['shell'],
  summary: "start a shell (or a command) in an environment's namespaces, or a process's",
  description:
    "Start $SHELL (else /bin/sh) in all of an environment's namespaces, or run the command given after NAME; for an environment NSM_ENV=NAME is set, so a prompt can show it. TARGET takes every form exec takes.",
  operands: [
    { name: '<target>', description: 'environment name, PID, pid:PID, env:NAME, netns:NAME, namespace file, ns:INODE, nsid:ID or owner (docker:NAME)' },
    { name: '[command...]', description: 'a command instead of the shell' },
  ],
  options: joinOptions,
  runsCommand: { operandsBefore: 1 },
  lean: true,
  examples: [{ command: 'nsm enter web' }, { command: 'nsm enter web bash --norc' }, { command: 'nsm enter 4242', does: "a shell in process 4242's namespaces" }],
  epilogue: EXIT_HELP,
  action: () => import('./actions/enter.js'),
});
