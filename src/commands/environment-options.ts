/**
 * The options only `create` has beyond the namespace ones: networking (--veth, --nat) and
 * resource limits (--memory, --cpus, --pids), parsed into the typed values of
 * src/core/network.ts and src/core/limits.ts.
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import type { CreateOptions } from '../core/create.js';
import { parseCpus, parsePidsMax, parseSize } from '../core/limits.js';
import { AUTO_RANGE, cidrText, parseVethAddresses } from '../core/network.js';
import { UsageError } from '../sys/errors.js';

export function addEnvironmentOptions(cmd: Command): Command {
  return cmd
    .option('--veth [addresses]', `veth pair to the host (root): HOST_ADDR/PREFIX,ENV_ADDR/PREFIX, or none to pick a free /30 of ${cidrText(AUTO_RANGE)}`)
    .option('--nat', 'with --veth: masquerade its subnet and turn on IPv4 forwarding, for access beyond the host (changes the host firewall)')
    .option('--memory <size>', 'memory limit: bytes, or with K, M, G (64M)', parseSize)
    .option('--cpus <n>', 'CPU time limit in CPUs, fractional (0.5)', (v: string) => parseCpus(v, availableParallelism()))
    .option('--pids <n>', 'most processes and threads at once, the holder included', parsePidsMax);
}

/**
 * `--veth` takes an optional value, so in `nsm create --veth web` commander reads "web" as
 * the addresses and finds no NAME. A value that cannot be addresses (no '/' or ',') is then
 * the NAME. Returns the name and the veth request.
 */
export function resolveVethArgument(name: string | undefined, veth: unknown): { name: string; veth?: CreateOptions['veth'] } {
  if (veth === undefined || veth === false) {
    if (name === undefined) throw new UsageError("missing required argument 'name'");
    return { name };
  }
  if (veth === true) {
    if (name === undefined) throw new UsageError("missing required argument 'name'");
    return { name, veth: 'auto' };
  }
  const text = String(veth);
  if (name === undefined && !/[/,]/.test(text)) return { name: text, veth: 'auto' };
  if (name === undefined) throw new UsageError("missing required argument 'name'");
  return { name, veth: parseVethAddresses(text) };
}

/** The CreateOptions these options describe (veth from resolveVethArgument). */
export function environmentRequest(opts: Record<string, unknown>): Pick<CreateOptions, 'nat' | 'limits'> {
  const limits = { memory: opts.memory as number | undefined, cpus: opts.cpus as number | undefined, pids: opts.pids as number | undefined };
  return {
    ...(opts.nat ? { nat: true } : {}),
    ...(limits.memory !== undefined || limits.cpus !== undefined || limits.pids !== undefined ? { limits } : {}),
  };
}
