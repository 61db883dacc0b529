import { Argument, Command } from 'commander';
import { reachableEnvironmentNames } from '../core/registry.js';
import { UsageError } from '../sys/errors.js';
import { completionSpec } from '../ui/completion.js';
import { completionScript, SHELLS, type Shell } from '../ui/completion-scripts.js';

export function completionCommand(): Command {
  return new Command('completion')
    .summary('print a shell completion script (bash, zsh, fish)')
    .description(
      "Print a completion script for bash, zsh or fish, generated from nsm's own commands and options: subcommands and aliases, options, namespace types after -t, environment names and process ids where a command expects them.",
    )
    .addArgument(new Argument('<shell>', 'the shell to print the script for').choices(SHELLS))
    .addHelpText('after', `
Install:
  bash  nsm completion bash > /etc/bash_completion.d/nsm      or in ~/.bashrc: source <(nsm completion bash)
  zsh   nsm completion zsh > "\${fpath[1]}/_nsm"              or in ~/.zshrc after compinit: source <(nsm completion zsh)
  fish  nsm completion fish > ~/.config/fish/completions/nsm.fish`)
    .action((shell: Shell, _opts, cmd: Command) => {
      // The tree starts at the root program: this command's parent.
      process.stdout.write(completionScript(shell, completionSpec(cmd.parent ?? cmd)));
    });
}

/**
 * `nsm __complete WHAT`: values the completion scripts ask for while the user presses TAB.
 * Hidden from help (cli.ts hides names starting with "__"); prints one value a line and
 * nothing at all when there is nothing to offer.
 */
export function completeCallbackCommand(): Command {
  return new Command('__complete')
    .description('values for shell completion (internal)')
    .argument('<what>', "envs: environment names (root: also other users')")
    .action((what: string) => {
      if (what !== 'envs') throw new UsageError(`__complete: unknown value kind: ${what} (known: envs)`);
      const names = reachableEnvironmentNames();
      if (names.length > 0) process.stdout.write(`${names.join('\n')}\n`);
    });
}
