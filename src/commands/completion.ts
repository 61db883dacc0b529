/** `nsm completion SHELL`, and `nsm __complete WHAT`, which the completion scripts call. */
import type { Shell } from '../ui/completion-scripts.js';
import { defineCommand } from './spec.js';

/** The shells `nsm completion` writes scripts for (src/ui/completion-scripts.ts). */
const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const satisfies readonly Shell[];

export const completionCommand = defineCommand({
  name: 'completion',
  summary: 'print a shell completion script (bash, zsh, fish)',
  description:
    "Print a completion script for bash, zsh or fish, generated from nsm's own commands and options: subcommands and aliases, options, namespace types after -t, environment names and process ids where a command expects them.",
  operands: [{ name: '<shell>', description: 'the shell to print the script for', choices: COMPLETION_SHELLS }],
  options: [],
  examplesHeading: 'Install',
  examples: [
    { command: 'bash  nsm completion bash > /etc/bash_completion.d/nsm', does: 'or in ~/.bashrc: source <(nsm completion bash)' },
    { command: 'zsh   nsm completion zsh > "${fpath[1]}/_nsm"', does: 'or in ~/.zshrc after compinit: source <(nsm completion zsh)' },
    { command: 'fish  nsm completion fish > ~/.config/fish/completions/nsm.fish' },
  ],
  action: () => import('./actions/completion.js'),
});

/**
 * `nsm __complete WHAT`: values the completion scripts ask for while the user presses TAB.
 * Hidden from help; prints one value a line and nothing at all when there is nothing to offer.
 */
export const completeCallbackCommand = defineCommand({
  name: '__complete',
  summary: 'values for shell completion (internal)',
  description: 'values for shell completion (internal)',
  operands: [
    { name: '<what>', description: "envs: environment names (root: also other users'); targets: netns:NAME and owner targets (docker:web) starting with WORD" },
    { name: '[word]', description: 'the word being completed (targets)' },
  ],
  options: [],
  hidden: true,
  action: () => import('./actions/complete-callback.js'),
});
