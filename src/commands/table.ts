/**
 * Every command of nsm, in the order `nsm --help` lists them: the one table the commander
 * program (program.ts), help, completions and the help excerpts of docs/commands.md come from. Each
 * declaration lives in its own file (spec.ts says what one holds); its action module is
 * loaded only when the command runs.
 */
import { adoptCommand } from './adopt.js';
import { completeCallbackCommand, completionCommand } from './completion.js';
import { createCommand } from './create.js';
import { destroyCommand } from './destroy.js';
import { diffCommand } from './diff.js';
import { doctorCommand } from './doctor.js';
import { enterCommand, execCommand } from './exec.js';
import { gcCommand } from './gc.js';
import { inspectCommand } from './inspect.js';
import { lsCommand } from './ls.js';
import { metricsCommand } from './metrics.js';
import { monitorCommand } from './monitor.js';
import { psCommand } from './ps.js';
import { serveCommand } from './serve.js';
import type { CommandDecl } from './spec.js';
import { treeCommand } from './tree.js';
import { unshareCommand } from './unshare.js';
import { whyCommand } from './why.js';

export const COMMAND_TABLE: readonly CommandDecl[] = [
  lsCommand,
  inspectCommand,
  diffCommand,
  psCommand,
  treeCommand,
  whyCommand,
  monitorCommand,
  metricsCommand,
  serveCommand,
  createCommand,
  enterCommand,
  execCommand,
  unshareCommand,
  adoptCommand,
  destroyCommand,
  gcCommand,
  doctorCommand,
  completionCommand,
  completeCallbackCommand,
];
