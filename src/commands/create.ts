/** `nsm create` (alias new): a named environment, kept alive by a holder process. */
import { environmentOptions } from './environment-options.js';
import { namespaceOptions } from './namespace-options.js';
import { defineCommand, defineOptions } from './spec.js';

export const createOptions = defineOptions([
  ...namespaceOptions,
  ...environmentOptions,
  { flags: '--pin', description: 'bind-mount each namespace under the state directory, so it outlives the holder (root only)' },
  { flags: '-J, --json', description: 'JSON output: {schemaVersion, name, pid, namespaces: {type: inode}, pins, netnsLink, veth, limits, replaced}' },
]);

export const createCommand = defineCommand({
  name: 'create',
  aliases: ['new'],
  summary: 'create a named environment: namespaces kept alive by a holder process',
  description:
    'Create a named environment: new namespaces held by a small PID-1 process (nsm:holder) until nsm destroy. Default types as root: mnt, uts, ipc, pid, net, cgroup; otherwise the same plus user, with your uid mapped to root. As root a new net namespace is also linked at /run/netns/NAME, so ip netns sees it.',
  // Optional for commander only: `--veth NAME` may have taken it (resolveVethArgument).
  operands: [{ name: '[name]', description: "environment name: letters, digits, '_', '.', '-' (at most 64)" }],
  usage: '[options] <name>',
  options: createOptions,
  lean: true,
  examples: [
    { command: 'nsm create web', does: 'the default namespaces, hostname "web"' },
    { command: 'nsm create lab -t net,uts --hostname lab1' },
    { command: 'nsm create clock --time --boottime 86400 --monotonic 3600' },
    { command: 'nsm create web --veth', does: 'a veth pair with a free /30 of 10.200.0.0/16' },
    { command: 'nsm create db --veth 10.9.0.1/30,10.9.0.2/30 --nat --memory 256M --cpus 0.5 --pids 64' },
    { command: 'nsm create web && nsm exec web -- ip addr && nsm destroy web' },
  ],
  action: () => import('./actions/create.js'),
});
