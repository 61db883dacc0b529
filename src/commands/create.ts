import { Command } from 'commander';
import { runCreate } from './create-action.js';
import { addEnvironmentOptions } from './environment-options.js';
import { addNamespaceOptions } from './namespace-options.js';

export function createCommand(): Command {
  const cmd = new Command('create')
    .alias('new')
    .summary('create a named environment: namespaces kept alive by a holder process')
    .description(
      'Create a named environment: new namespaces held by a small PID-1 process (nsm:holder) until nsm destroy. Default types as root: mnt, uts, ipc, pid, net, cgroup; otherwise the same plus user, with your uid mapped to root. As root a new net namespace is also linked at /run/netns/NAME, so ip netns sees it.',
    )
    // Optional for commander only: `--veth NAME` may have taken it (resolveVethArgument).
    .argument('[name]', "environment name: letters, digits, '_', '.', '-' (at most 64)")
    .usage('[options] <name>');
  addEnvironmentOptions(addNamespaceOptions(cmd));
  return cmd
    .option('--pin', 'bind-mount each namespace under the state directory, so it outlives the holder (root only)')
    .option('-J, --json', 'JSON output: {schemaVersion, name, pid, namespaces: {type: inode}, pins, netnsLink, veth, limits, replaced}')
    .addHelpText('after', `
Examples:
  nsm create web                      the default namespaces, hostname "web"
  nsm create lab -t net,uts --hostname lab1
  nsm create clock --time --boottime 86400 --monotonic 3600
  nsm create web --veth               a veth pair with a free /30 of 10.200.0.0/16
  nsm create db --veth 10.9.0.1/30,10.9.0.2/30 --nat --memory 256M --cpus 0.5 --pids 64
  nsm create web && nsm exec web -- ip addr && nsm destroy web`)
    .action((nameArg: string | undefined, opts: Record<string, unknown>) => runCreate(nameArg, opts));
}
