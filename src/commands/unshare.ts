import { Command } from 'commander';
import { unshareRun } from '../core/unshare.js';
import { CommandRunningCommand } from './command-line.js';
import { addNamespaceOptions } from './namespace-options.js';
import { namespaceRequest } from './namespace-request.js';

export function unshareCommand(): Command {
  const cmd = new CommandRunningCommand('unshare', 0)
    .summary('run one command in new namespaces; nothing is left when it exits')
    .description(
      'Run a command in fresh namespaces, like unshare(1) with --fork and a proper PID 1, and remove them when it exits. Without types: mnt, uts, ipc, pid, net, cgroup (plus user, mapped to root, when not run as root). Exits with the command\'s status; 125 when nsm failed, 126/127 when the command could not be run, 128+N when it died of signal N. nsm\'s options end where the command starts; put -- before a command that starts with -.',
    )
    .argument('<command...>', 'the command and its arguments');
  return addNamespaceOptions(cmd)
    .addHelpText('after', `
Examples:
  nsm unshare --net ip link                  only lo
  nsm unshare --net -- npm test              tests without network access (only lo)
  nsm unshare -- sh -c 'echo $$; hostname'    default namespaces: the shell is PID 2 under nsm:init
  nsm unshare --user --time --boottime 86400 -- cat /proc/uptime`)
    .action(async (command: string[], opts: Record<string, unknown>) => {
      process.exitCode = await unshareRun(namespaceRequest(opts), command);
    });
}
