/** `nsm ls` (alias list): every namespace on the host, like lsns. */
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { collectOwners, collectTypes, parseInode } from './options.js';
import { defineCommand, defineOptions } from './spec.js';

export const lsOptions = defineOptions([
  { flags: '-t, --type <types>', description: `namespace types to list, repeatable or comma-separated (${NS_TYPE_NAMES.join(', ')})`, parse: collectTypes },
  {
    flags: '-p, --task <target>',
    description: 'only the namespaces of this target: a PID or environment (pid:PID, env:NAME), an owner (docker:NAME), or one namespace (netns:NAME, a namespace file, ns:INODE)',
  },
  {
    flags: '--owner <kind[:name]>',
    description: 'only namespaces owned by this kind (docker, podman, kubernetes, systemd, netns ...) or KIND:NAME; repeatable or comma-separated',
    parse: collectOwners,
  },
  { flags: '-o, --output <columns>', description: 'columns to print (comma-separated; +COL adds to the defaults)' },
  { flags: '--output-all', description: 'print every column' },
  {
    flags: '-Q, --filter <expr>',
    description: "only rows for which EXPR holds (lsns -Q): comparisons == != < > <= >= (eq ne lt gt le ge), regex =~ !~, && || ! (and or not), parentheses, on any column by name; strings in '' or \"\"",
  },
  { flags: '-H, --list-columns', description: 'list the available columns and exit' },
  { flags: '-P, --persistent', description: 'only namespaces held by a bind mount (lsns -P)' },
  { flags: '-T, --tree [view]', description: 'draw as `nsm tree -T VIEW` does (lsns -T)', choices: ['owner', 'parent', 'process'] as const, preset: 'owner' },
  { flags: '-J, --json', description: 'JSON output (lsns -J compatible, plus schemaVersion)' },
  { flags: '-r, --raw', description: 'raw output: space-separated, blanks escaped' },
  { flags: '-l, --list', description: 'list format (the default; accepted for lsns compatibility)' },
  { flags: '-n, --noheadings', description: 'do not print headings' },
  { flags: '-u, --notruncate', description: 'do not truncate text in columns' },
  { flags: '-W, --nowrap', description: 'do not use multi-line cells' },
  { flags: '--envs', description: "list nsm's environments only (NAME TYPES PID STATE AGE USER): with -J, -n, -o, --output-all, -H, -r, -u" },
]);

export const lsCommand = defineCommand({
  name: 'ls',
  aliases: ['list'],
  summary: 'list namespaces (like lsns, plus those held by a mount or an fd)',
  description: 'List every namespace on the host: everything lsns shows, plus namespaces held only by a bind mount or an open file descriptor.',
  operands: [{ name: '[namespace]', description: "list this namespace's processes (inode number; with -o or --output-all: its row)", parse: parseInode }],
  options: lsOptions,
  earlyScan: true,
  examples: [
    { command: 'nsm ls', does: 'all namespaces: NS TYPE NPROCS PID USER NAME COMMAND' },
    { command: 'nsm ls -t net -o +NSFS,HELD', does: 'network namespaces and where they are pinned' },
    { command: 'nsm ls -p $$ --output-all', does: "every column for the shell's namespaces" },
    { command: `nsm ls -Q 'TYPE == "net" && NPROCS == 0'`, does: 'network namespaces no process is in' },
    { command: 'nsm ls --owner docker', does: 'namespaces of docker containers (--owner docker:web: one)' },
    { command: "nsm ls --json | jq '.namespaces[] | select(.nprocs == 0)'" },
    { command: 'nsm ls --envs -n -o NAME,STATE', does: 'one line per environment, for scripts' },
  ],
  action: () => import('./actions/ls.js'),
});
