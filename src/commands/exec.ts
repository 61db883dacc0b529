/** `nsm exec` (alias run) and `nsm enter` (alias shell): a command in an environment's namespaces. */
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { collectTypes, parseWd } from './options.js';
import { defineCommand, defineOptions } from './spec.js';

const EXIT_HELP = `nsm's options end where the command starts; put -- before a command that starts with -.

Exit status: the command's own; 128+N when it died of signal N; 126 not executable;
127 not found; 125 when nsm failed (unknown or dead environment, failed join).`;

export const joinOptions = defineOptions([
  { flags: '-t, --type <types>', description: `join only these of its namespaces (${NS_TYPE_NAMES.join(', ')})`, parse: collectTypes },
  { flags: '--wd <dir>', description: 'working directory inside (default: the current one if it exists there, else /)', parse: parseWd },
]);

export const execCommand = defineCommand({
  name: 'exec',
  aliases: ['run'],
  summary: "run a command in an environment's namespaces",
  description:
    "Run a command in all of an environment's namespaces (or those given with -t), with NSM_ENV=NAME set. stdin, stdout, stderr and the terminal pass through; SIGTERM and SIGHUP are forwarded.",
  operands: [
    { name: '<name>', description: 'environment name' },
    { name: '<command...>', description: 'the command and its arguments' },
  ],
  options: joinOptions,
  runsCommand: { operandsBefore: 1 },
  lean: true,
  examples: [
    { command: 'nsm exec web ip -br addr' },
    { command: 'nsm exec web -- ip -br addr', does: "the same; -- ends nsm's options explicitly" },
    { command: 'nsm exec -t net web ss -tlnp', does: 'only the network namespace' },
    { command: 'nsm exec --wd /srv web ls' },
  ],
  epilogue: EXIT_HELP,
  action: () => import('./actions/exec.js'),
});

export const enterCommand = defineCommand({
  name: 'enter',
  aliases: ['shell'],
  summary: "start a shell (or a command) in an environment's namespaces",
  description:
    "Start $SHELL (else /bin/sh) in all of an environment's namespaces, or run the command given after NAME. NSM_ENV=NAME is set, so a prompt can show it.",
  operands: [
    { name: '<name>', description: 'environment name' },
    { name: '[command...]', description: 'a command instead of the shell' },
  ],
  options: joinOptions,
  runsCommand: { operandsBefore: 1 },
  lean: true,
  examples: [{ command: 'nsm enter web' }, { command: 'nsm enter web bash --norc' }],
  epilogue: EXIT_HELP,
  action: () => import('./actions/enter.js'),
});
