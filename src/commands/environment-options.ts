/**
 * The options only `create` has beyond the namespace ones: networking (--veth, --nat) and
 * resource limits (--memory, --cpus, --pids), parsed into the typed values of
 * src/core/network.ts and src/core/limits.ts.
 */
import { availableParallelism } from 'node:os';
import type { CreateOptions } from '../core/create.js';
import { parseCpus, parsePidsMax, parseSize } from '../core/limits.js';
import { AUTO_RANGE, cidrText, parseVethAddresses } from '../core/network.js';
import { parseNetMode, parsePublish, type NetMode } from '../core/user-net.js';
import type { PublishedPort } from '../core/record.js';
import { UsageError } from '../sys/errors.js';
import { defineOptions } from './spec.js';

export const environmentOptions = defineOptions([
  { flags: '--veth [addresses]', description: `veth pair to the host (root): HOST_ADDR/PREFIX,ENV_ADDR/PREFIX, or none to pick a free /30 of ${cidrText(AUTO_RANGE)}` },
  { flags: '--nat', description: 'with --veth: masquerade its subnet and turn on IPv4 forwarding, for access beyond the host (changes the host firewall)' },
  { flags: '--net-mode <mode>', description: 'a user-mode network, rootless too: pasta (Debian package passt: address, default route, DNS), slirp4netns (its fallback), none', parse: parseNetMode },
  { flags: '--pasta', description: 'short for --net-mode pasta' },
  { flags: '--publish <port>', description: 'with --pasta: publish [HOSTADDR:]HOSTPORT:ENVPORT[/tcp|udp] (host address 127.0.0.1 unless given); repeatable', parse: parsePublish },
  { flags: '--memory <size>', description: 'memory limit: bytes, or with K, M, G (64M)', parse: parseSize },
  { flags: '--cpus <n>', description: 'CPU time limit in CPUs, fractional (0.5)', parse: (v: string) => parseCpus(v, availableParallelism()) },
  { flags: '--pids <n>', description: 'most processes and threads at once, the holder included', parse: parsePidsMax },
]);

/**
 * `--veth` takes an optional value, so in `nsm create --veth web` commander reads "web" as
 * the addresses and finds no NAME. A value that cannot be addresses (no '/' or ',') is then
 * the NAME. Returns the name and the veth request.
 */
export function resolveVethArgument(name: string | undefined, veth: string | boolean | undefined): { name: string; veth?: CreateOptions['veth'] } {
  if (veth === undefined || veth === false) {
    if (name === undefined) throw new UsageError("missing required argument 'name'");
    return { name };
  }
  if (veth === true) {
    if (name === undefined) throw new UsageError("missing required argument 'name'");
    return { name, veth: 'auto' };
  }
  if (name === undefined && !/[/,]/.test(veth)) return { name: veth, veth: 'auto' };
  if (name === undefined) throw new UsageError("missing required argument 'name'");
  return { name, veth: parseVethAddresses(veth) };
}

/** --pasta, --net-mode, --publish: the user-mode network asked for, or none. */
export function userNetRequest(opts: { netMode?: NetMode; pasta?: boolean; publish?: PublishedPort[] }): CreateOptions['userNet'] {
  if (opts.pasta && opts.netMode !== undefined && opts.netMode !== 'pasta') throw new UsageError(`--pasta and --net-mode ${opts.netMode} disagree: use one`);
  const mode = opts.pasta ? 'pasta' : opts.netMode;
  const publish = opts.publish ?? [];
  if (mode === undefined || mode === 'none') {
    if (publish.length > 0) throw new UsageError('--publish needs --pasta (or --net-mode pasta): pasta forwards the ports');
    return undefined;
  }
  return { mode, publish };
}

/** The CreateOptions these options describe (veth from resolveVethArgument). */
export function environmentRequest(opts: { nat?: boolean; memory?: number; cpus?: number; pids?: number; netMode?: NetMode; pasta?: boolean; publish?: PublishedPort[] }): Pick<CreateOptions, 'nat' | 'limits' | 'userNet'> {
  const limits = { memory: opts.memory, cpus: opts.cpus, pids: opts.pids };
  const userNet = userNetRequest(opts);
  return {
    ...(opts.nat ? { nat: true } : {}),
    ...(userNet ? { userNet } : {}),
    ...(limits.memory !== undefined || limits.cpus !== undefined || limits.pids !== undefined ? { limits } : {}),
  };
}
