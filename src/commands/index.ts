/**
 * Every subcommand, in the order `nsm --help` lists them. Each module exports a factory
 * returning a commander Command; src/cli.ts registers them.
 */
import type { Command } from 'commander';
import { completeCallbackCommand, completionCommand } from './completion.js';
import { doctorCommand } from './doctor.js';
import { lsCommand } from './ls.js';

export const COMMANDS: ReadonlyArray<() => Command> = [lsCommand, doctorCommand, completionCommand, completeCallbackCommand];

/** Commands that run a user's command and so exit with its status (nsm's own failures: 125). */
export const EXEC_LIKE_COMMANDS: ReadonlySet<string> = new Set(['enter', 'exec', 'unshare']);
