/**
 * The host firewall and forwarding switch, for `nsm create --nat`: IPv4 forwarding
 * (/proc/sys/net/ipv4/ip_forward) and source NAT rules added and removed through the
 * host's own tool, iptables(8) or nft(8), whichever is installed, so that they show up
 * where an administrator looks (`iptables -S`, `nft list ruleset`) and coexist with
 * whatever else manages the firewall (docker, ufw, firewalld).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasErrno, NsmError, SysError } from './errors.js';

export type FirewallTool = 'iptables' | 'nft';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const SEARCH = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin'];

/** Absolute path of `name` in the system directories, or undefined. */
export function systemExecutable(name: string): string | undefined {
  return firstExecutable(SEARCH, name);
}

/** The first `dir/name` among `dirs` that we may execute (relative dirs are skipped: they would depend on the cwd), or undefined. */
export function firstExecutable(dirs: readonly string[], name: string): string | undefined {
  for (const dir of dirs) {
    if (!dir.startsWith('/')) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The firewall tool to use: iptables when installed (its rules share the chains docker and
 * ufw use, so a FORWARD accept can precede their drop policy), else nft; undefined when
 * neither is.
 */
export function firewallTool(): { tool: FirewallTool; path: string } | undefined {
  const iptables = systemExecutable('iptables');
  if (iptables) return { tool: 'iptables', path: iptables };
  const nft = systemExecutable('nft');
  return nft ? { tool: 'nft', path: nft } : undefined;
}

/** Run a firewall command; a failure becomes NsmError with its last line of stderr. */
export function runFirewall(path: string, args: readonly string[], input?: string): void {
  const r = spawnSync(path, args, { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
  if (r.error) throw SysError.fromNode(r.error, 'spawn', path);
  if (r.status !== 0) {
    const said = r.stderr.trim().split('\n').pop() ?? '';
    throw new NsmError(`${path.split('/').pop()} ${args.join(' ')} failed (status ${r.status})${said ? `: ${said}` : ''}`);
  }
}

/** Like runFirewall(), but only reports whether it succeeded (an `iptables -C` check). */
export function firewallSucceeds(path: string, args: readonly string[]): boolean {
  const r = spawnSync(path, args, { stdio: 'ignore' });
  return r.status === 0;
}

/** Whether the kernel forwards IPv4 between interfaces (net.ipv4.ip_forward). */
export function ipForwarding(): boolean {
  try {
    return readFileSync(IP_FORWARD, 'utf8').trim() === '1';
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return false;
    throw SysError.fromNode(err, 'read', IP_FORWARD);
  }
}

/** Turn IPv4 forwarding on (root). */
export function enableIpForwarding(): void {
  try {
    writeFileSync(IP_FORWARD, '1');
  } catch (err) {
    throw SysError.fromNode(err, 'write', IP_FORWARD);
  }
}

/**
 * Which kernel interface an iptables binary drives: 'nft' (iptables-nft, xtables-nft-multi:
 * nf_tables, where it makes tables `ip nat`/`ip filter` on first use) or 'legacy' (x_tables).
 * Read from where the alternatives symlinks lead, without running it.
 */
export function iptablesBackend(path: string): 'nft' | 'legacy' {
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    // keep the name given
  }
  return /nft/.test(real.split('/').pop() ?? '') ? 'nft' : 'legacy';
}

/**
 * Number of rules in nf_tables table `family` `table` (`nft -j list table`), or undefined
 * when there is no such table.
 */
export function nftTableRules(nftPath: string, family: string, table: string): number | undefined {
  const r = spawnSync(nftPath, ['-j', 'list', 'table', family, table], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw SysError.fromNode(r.error, 'spawn', nftPath);
  if (r.status !== 0) {
    if (/No such file or directory/.test(r.stderr)) return undefined;
    throw new NsmError(`nft list table ${family} ${table} failed (status ${r.status}): ${r.stderr.trim().split('\n').pop() ?? ''}`);
  }
  const doc = JSON.parse(r.stdout) as { nftables?: Array<Record<string, unknown>> };
  return (doc.nftables ?? []).filter((o) => 'rule' in o).length;
}
