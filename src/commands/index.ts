/**
 * Every subcommand, in the order `nsm --help` lists them. Each module exports a factory
 * returning a commander Command; src/cli.ts registers them.
 */
import type { Command } from 'commander';
import { completeCallbackCommand, completionCommand } from './completion.js';
import { doctorCommand } from './doctor.js';
import { createCommand } from './create.js';
import { destroyCommand } from './destroy.js';
import { diffCommand } from './diff.js';
import { enterCommand, execCommand } from './exec.js';
import { gcCommand } from './gc.js';
import { inspectCommand } from './inspect.js';
import { lsCommand } from './ls.js';
import { monitorCommand } from './monitor.js';
import { psCommand } from './ps.js';
import { treeCommand } from './tree.js';
import { unshareCommand } from './unshare.js';
import { whyCommand } from './why.js';

export const COMMANDS: ReadonlyArray<() => Command> = [
  lsCommand,
  inspectCommand,
  diffCommand,
  psCommand,
  treeCommand,
  whyCommand,
  monitorCommand,
  createCommand,
  enterCommand,
  execCommand,
  unshareCommand,
  destroyCommand,
  gcCommand,
  doctorCommand,
  completionCommand,
  completeCallbackCommand,
];

/** Commands that run a user's command and so exit with its status (nsm's own failures: 125). */
export const EXEC_LIKE_COMMANDS: ReadonlySet<string> = new Set(['enter', 'exec', 'unshare']);
