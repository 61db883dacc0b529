/**
 * The lean entry of `nsm create` (alias new), bundled apart into dist/nsm-create.cjs: the
 * real create command (same options, help and parsing: commander), without the other
 * commands and the listing code, which are most of what the full CLI costs to load
 * (bench/lifecycle.mjs; issue 3 targets create at node -e 0 + 25 ms).
 */
import { Command } from 'commander';
import { createCommand } from './commands/create.js';
import { reportError } from './report.js';
import { stderrSync, stdoutSync } from './sys/stdio.js';
import { VERSION } from './version.js';

export async function createMain(argv: readonly string[] = process.argv): Promise<void> {
  const program = new Command('nsm')
    .version(VERSION, '-V, --version', 'print the nsm version')
    .showSuggestionAfterError(true)
    .exitOverride()
    // Help and version go to the descriptors too: bin/nsm sets up no stdout stream for create.
    .configureOutput({ writeOut: (s) => stdoutSync.write(s), writeErr: (s) => stderrSync.write(s), outputError: () => {} });
  const cmd = createCommand();
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    process.exitCode = reportError(err);
  }
}
