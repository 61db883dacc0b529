import { Command } from 'commander';
import { inspect } from '../core/inspect.js';
import { inspectionJson, renderInspection } from '../ui/inspect-view.js';
import { printJson } from '../ui/json.js';
import { parseTarget } from '../core/target.js';

export function inspectCommand(): Command {
  return new Command('inspect')
    .alias('info')
    .summary("show one process's namespaces, id maps, cgroups and owners")
    .description(
      'Show every namespace of a process (all eight types plus pid_for_children and time_for_children): inode, ' +
        'whether it is the host\'s or isolated, its owner user namespace, and whose it is; plus the NSpid chain, ' +
        'uid/gid maps when not the identity map, cgroup paths and the command line.',
    )
    .argument('<target>', 'process to inspect: a PID, or an environment name (its holder)', parseTarget)
    .option('-J, --json', 'JSON output')
    .addHelpText('after', `
"host" means the namespaces of PID 1; when those are unreadable (a sandbox init, or not root),
the kernel's initial namespaces, read from kthreadd (PID 2) or known by their fixed inodes.
The output says which reference was used.

Examples:
  nsm inspect $$                  the shell's namespaces
  nsm inspect 1234 --json | jq '.namespaces[] | select(.sharing == "isolated") | .type'
  nsm info $(pgrep -o nginx)      the same, by its alias
  nsm inspect web                 the namespaces of environment web (its holder)`)
    .action(async (target, opts) => {
      const result = await inspect(target);
      if (opts.json) printJson(inspectionJson(result));
      else process.stdout.write(renderInspection(result));
    });
}
