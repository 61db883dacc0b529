/** `nsm diff` (alias compare): the namespaces of two processes, side by side. */
import { collectTypes } from './options.js';
import { defineCommand, defineOptions } from './spec.js';

export const diffOptions = defineOptions([
  { flags: '-t, --type <types>', description: 'compare only these types, repeatable or comma-separated', parse: collectTypes },
  { flags: '-q, --quiet', description: 'print nothing: the exit status is the answer (0 same, 1 different, 2 trouble)' },
  { flags: '-J, --json', description: 'JSON output' },
]);

export const diffCommand = defineCommand({
  name: 'diff',
  aliases: ['compare'],
  summary: 'compare the namespaces of two processes',
  description: 'For each namespace type: do the two processes share it, with both inodes; then the counts.',
  operands: [
    { name: '<target1>', description: 'first process (PID, or environment name)' },
    { name: '<target2>', description: 'second process (PID, or environment name)' },
  ],
  options: diffOptions,
  // diff(1), cmp(1): with or without -q (and with --json), 0 same, 1 different, 2 trouble.
  exitStatus: [
    { status: '0', when: 'every compared type is the same namespace on both sides' },
    { status: '1', when: 'some compared type is a different namespace on each side' },
    { status: '2', when: 'trouble: a usage error, a target that cannot be found or read, or a type that could not be read on a side while none differs' },
  ],
  examples: [
    { command: 'nsm diff 1 $$', does: 'how the shell differs from PID 1' },
    { command: 'nsm diff -t net,mnt 1234 5678', does: 'only the network and mount namespaces' },
    { command: 'nsm diff -q -t net $$ 1234 && echo "same network"' },
    { command: 'nsm compare 1234 5678 --json | jq .summary' },
    { command: 'nsm diff web $$', does: 'environment web against the shell' },
  ],
  action: () => import('./actions/diff.js'),
});
