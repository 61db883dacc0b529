/**
 * Networking an environment (`nsm create --veth [HOST/P,ENV/P] [--nat]`): a veth pair from the
 * host's network namespace into the environment's, an IPv4 address on each end, both up,
 * and inside a default route via the host end. With --nat, the host masquerades the pair's
 * subnet for traffic leaving by any other interface.
 *
 * Names: the host end is `nsm-<first 6 characters of NAME>-<first 4 hex digits of
 * SHA-256(NAME)>` (at most 15 bytes, IFNAMSIZ - 1); the end inside is `eth0`.
 * Addresses picked without being given: the first /30 of 10.200.0.0/16 that overlaps no IPv4
 * address on any host interface and no subnet recorded by another live environment; the host
 * end gets its first address, the environment its second. The pick and the assignment of
 * the host end's address happen under one host-wide lock, so concurrent creates cannot pick
 * the same /30.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { echoInput, hasErrno, NsmError, SysError, UsageError } from '../sys/errors.js';
import { enableIpForwarding, firewallSucceeds, firewallTool, iptablesBackend, ipForwarding, nftTableRules, runFirewall, systemExecutable } from '../sys/firewall.js';
import { RouteSocket, type Ipv4AddressInfo } from '../sys/rtnetlink.js';
import { FileLock } from '../sys/statefs.js';
import type { EnvNat, EnvRecord, EnvResources, EnvVeth, NotedVeth } from './record.js';

export type { EnvNat, EnvVeth } from './record.js';

/** An IPv4 address with the prefix length of its subnet. */
export interface Ipv4Cidr {
  address: string;
  prefix: number;
}

/** The two ends' addresses, in one subnet. */
export interface VethAddresses {
  host: Ipv4Cidr;
  env: Ipv4Cidr;
}

/** Where --veth without addresses picks from. */
export const AUTO_RANGE: Ipv4Cidr = { address: '10.200.0.0', prefix: 16 };
/** The environment's end of the pair. */
export const ENV_INTERFACE = 'eth0';
/** Host-wide: serialises picking a subnet and assigning it (root only, like veth itself). */
const NET_LOCK = '/run/nsm-veth.lock';
const LOCK_WAIT_MS = 10_000;

// ------------------------------------------------------------------ addresses (pure)

function toInt(address: string): number {
  return address.split('.').reduce((n, p) => n * 256 + Number(p), 0);
}

function toText(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

const size = (prefix: number) => 2 ** (32 - prefix);
const networkOf = (c: Ipv4Cidr) => toInt(c.address) - (toInt(c.address) % size(c.prefix));

export const cidrText = (c: Ipv4Cidr) => `${c.address}/${c.prefix}`;

/** The subnet of `c`: "10.200.0.0/30". */
export function subnetText(c: Ipv4Cidr): string {
  return `${toText(networkOf(c))}/${c.prefix}`;
}

/** Whether the subnets of `a` and `b` share an address. */
export function overlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return networkOf({ address: a.address, prefix: p }) === networkOf({ address: b.address, prefix: p });
}

/** "A.B.C.D/P" with the checks of a usable address; `what` names it in errors. */
function parseCidr(text: string, what: string): Ipv4Cidr {
  const m = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\/([0-9]{1,2})$/.exec(text.trim());
  const octets = m ? m.slice(1, 5).map(Number) : [];
  if (!m || octets.some((o) => o > 255)) throw new UsageError(`--veth: ${what} is not an IPv4 address with a prefix length (A.B.C.D/N): ${echoInput(text)}`);
  const prefix = Number(m[5]);
  if (prefix < 1 || prefix > 31) throw new UsageError(`--veth: the prefix length of ${echoInput(text)} must be 1 to 31 (both ends share one subnet)`);
  const first = octets[0]!;
  if (first === 0 || first === 127 || first >= 224) throw new UsageError(`--veth: ${echoInput(text)} is not a unicast address usable on an interface`);
  return { address: octets.join('.'), prefix };
}

/**
 * --veth HOST_ADDR/PREFIX,ENV_ADDR/PREFIX: two different addresses of one subnet; with a
 * prefix below 31 neither may be its network or broadcast address (RFC 3021 allows both
 * addresses of a /31).
 */
export function parseVethAddresses(text: string): VethAddresses {
  const parts = text.split(',');
  if (parts.length !== 2) throw new UsageError(`--veth needs HOST_ADDR/PREFIX,ENV_ADDR/PREFIX (e.g. 10.0.0.1/30,10.0.0.2/30), not: ${echoInput(text)}`);
  const host = parseCidr(parts[0]!, 'the host address');
  const env = parseCidr(parts[1]!, "the environment's address");
  if (host.prefix !== env.prefix || !overlaps(host, env)) {
    throw new UsageError(`--veth: ${cidrText(host)} and ${cidrText(env)} must be in the same subnet, with the same prefix length`);
  }
  if (host.address === env.address) throw new UsageError(`--veth: the two ends need different addresses, not both ${host.address}`);
  if (host.prefix < 31) {
    const net = networkOf(host);
    const broadcast = net + size(host.prefix) - 1;
    for (const c of [host, env]) {
      const n = toInt(c.address);
      if (n === net || n === broadcast) {
        throw new UsageError(`--veth: ${c.address} is the ${n === net ? 'network' : 'broadcast'} address of ${subnetText(c)}`);
      }
    }
  }
  return { host, env };
}

/** The first /30 of `range` that overlaps none of `used`: host end .1, environment .2 of it. */
export function pickAddresses(used: readonly Ipv4Cidr[], range: Ipv4Cidr = AUTO_RANGE): VethAddresses | undefined {
  const start = networkOf(range);
  for (let net = start; net < start + size(range.prefix); net += 4) {
    const candidate = { address: toText(net), prefix: 30 };
    if (used.some((u) => overlaps(u, candidate))) continue;
    return { host: { address: toText(net + 1), prefix: 30 }, env: { address: toText(net + 2), prefix: 30 } };
  }
  return undefined;
}

/** The host end's name for environment `name`: nsm-<6 characters>-<4 hex>, ≤ 15 bytes (IFNAMSIZ). */
export function hostInterfaceName(name: string): string {
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 4);
  return `nsm-${name.slice(0, 6)}-${hash}`;
}

/** An address already in use that `want` collides with, or undefined. */
export function addressConflict(
  want: VethAddresses,
  hostAddresses: readonly Ipv4AddressInfo[],
  recorded: ReadonlyArray<{ name: string; subnet: Ipv4Cidr }>,
): string | undefined {
  for (const a of hostAddresses) {
    const have = { address: a.address, prefix: a.prefix };
    if (overlaps(have, want.host)) return `${subnetText(want.host)} overlaps ${cidrText(have)} on ${a.label ?? `interface ${a.index}`}`;
  }
  for (const r of recorded) {
    if (overlaps(r.subnet, want.host)) return `${subnetText(want.host)} overlaps ${subnetText(r.subnet)} of environment ${r.name}`;
  }
  return undefined;
}

// ------------------------------------------------------------------ the pair

/** The veth an environment recorded (or a killed create noted), if any. */
export function vethOf(record: EnvRecord): EnvVeth | undefined;
export function vethOf(record: EnvResources): NotedVeth | undefined;
export function vethOf(record: EnvResources): NotedVeth | undefined {
  const v = record.options.veth;
  return v && typeof v === 'object' && typeof v.hostIf === 'string' ? v : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function takeNetLock(): Promise<FileLock> {
  const until = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const lock = FileLock.tryAcquire(NET_LOCK);
    if (lock) return lock;
    if (Date.now() > until) throw new NsmError(`another nsm holds ${NET_LOCK} (picking addresses for a veth) for more than ${LOCK_WAIT_MS / 1000} s`);
    await sleep(10);
  }
}

/**
 * Make environment `name`'s veth pair into the network namespace open on `netnsFd`, with
 * `want` addresses or, for 'auto', a free /30 of AUTO_RANGE; `recorded`: the subnets other
 * live environments recorded (besides the host's addresses, which are read here). All or
 * nothing: after a failure the pair is deleted again.
 * @throws NsmError (exit 1) for addresses in use, a taken interface name, a full range.
 */
export async function createVeth(
  name: string,
  netnsFd: number,
  want: VethAddresses | 'auto',
  recorded: ReadonlyArray<{ name: string; subnet: Ipv4Cidr }> = [],
): Promise<EnvVeth> {
  const hostIf = hostInterfaceName(name);
  const lock = await takeNetLock();
  const host = RouteSocket.open();
  let made: number | undefined;
  try {
    const inUse = host.ipv4Addresses();
    let pair: VethAddresses;
    if (want === 'auto') {
      const picked = pickAddresses([...inUse, ...recorded.map((r) => r.subnet)]);
      if (!picked) throw new NsmError(`no free /30 left in ${cidrText(AUTO_RANGE)} for a veth`, { hint: 'give the addresses: --veth HOST_ADDR/PREFIX,ENV_ADDR/PREFIX' });
      pair = picked;
    } else {
      const conflict = addressConflict(want, inUse, recorded);
      if (conflict) throw new NsmError(`--veth: address in use: ${conflict}`, { hint: 'pick another subnet, or leave the addresses out and nsm picks a free one' });
      pair = want;
    }
    try {
      host.createVeth(hostIf, { name: ENV_INTERFACE, netnsFd });
    } catch (err) {
      if (err instanceof SysError && err.errno === 'EEXIST') {
        throw new NsmError(`--veth: a host interface named ${hostIf} exists already (another environment named ${name}, in another state directory?)`, {
          hint: `ip link show ${hostIf}; remove it with ip link delete ${hostIf} if nothing uses it`,
        });
      }
      throw err;
    }
    const link = host.link(hostIf);
    if (!link) throw new SysError('RTM_GETLINK', 'ENODEV', hostIf);
    made = link.index;
    host.addIpv4(link.index, pair.host.address, pair.host.prefix, hostIf);
    host.setUp(link.index, hostIf);
    const inside = RouteSocket.open(netnsFd);
    try {
      const peer = inside.link(ENV_INTERFACE);
      if (!peer) throw new SysError('RTM_GETLINK', 'ENODEV', `${ENV_INTERFACE} in the environment`);
      inside.addIpv4(peer.index, pair.env.address, pair.env.prefix, ENV_INTERFACE);
      inside.setUp(peer.index, ENV_INTERFACE);
      inside.addDefaultRoute(pair.host.address, peer.index, ENV_INTERFACE);
    } finally {
      inside.close();
    }
    return {
      hostIf,
      envIf: ENV_INTERFACE,
      hostAddress: cidrText(pair.host),
      envAddress: cidrText(pair.env),
      subnet: subnetText(pair.host),
      picked: want === 'auto',
    };
  } catch (err) {
    if (made !== undefined) {
      try {
        host.deleteLink(made, hostIf); // its peer goes with it (veth(4))
      } catch {
        // report the original failure
      }
    }
    throw err;
  } finally {
    host.close();
    lock.release();
  }
}

/**
 * Delete the host end of `veth` (the kernel deletes its peer with it) if it is still the
 * pair into the network namespace open on `netnsFd`: a veth whose peer's namespace has the
 * id our namespace gives that one. Returns whether it was deleted. Without `netnsFd` (the
 * namespace is gone) there is nothing to delete: a veth pair dies with either namespace.
 */
export function deleteVeth(veth: Pick<EnvVeth, 'hostIf'>, netnsFd: number | undefined): boolean {
  if (netnsFd === undefined) return false;
  const host = RouteSocket.open();
  try {
    const link = host.link(veth.hostIf);
    if (!link || link.kind !== 'veth') return false;
    const id = host.netnsId(netnsFd);
    if (id === undefined || link.linkNetnsId !== id) return false;
    try {
      host.deleteLink(link.index, veth.hostIf);
    } catch (err) {
      if (err instanceof SysError && err.errno === 'ENODEV') return false; // gone meanwhile
      throw err;
    }
    return true;
  } finally {
    host.close();
  }
}

// ------------------------------------------------------------------ NAT

/** The iptables rules --nat adds for `veth`, each [table, chain, ...rule]. */
export function iptablesRules(name: string, veth: Pick<EnvVeth, 'hostIf' | 'subnet'>): string[][] {
  const tag = ['-m', 'comment', '--comment', `nsm:${name}`];
  return [
    // Source NAT for what leaves by any other interface (so not for host <-> environment).
    ['nat', 'POSTROUTING', '-s', veth.subnet, '!', '-o', veth.hostIf, ...tag, '-j', 'MASQUERADE'],
    // Let it through a FORWARD chain whose policy drops (docker sets DROP): out, and replies back.
    ['filter', 'FORWARD', '-i', veth.hostIf, ...tag, '-j', 'ACCEPT'],
    ['filter', 'FORWARD', '-o', veth.hostIf, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...tag, '-j', 'ACCEPT'],
  ];
}

/** nft table name for `hostIf` (identifier characters only). */
export function nftTableName(hostIf: string): string {
  return hostIf.replace(/[^A-Za-z0-9_]/g, '_');
}

function nftScript(table: string, veth: Pick<EnvVeth, 'hostIf' | 'subnet'>): string {
  return `table ip ${table} {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr ${veth.subnet} oifname != "${veth.hostIf}" masquerade
  }
}
`;
}

/**
 * --nat, step 1: what it will add for `veth`, before anything is added, so that a create can
 * note it first (a create killed half-way leaves rules that gc finds in the note). Pure but
 * for finding the tool. The iptables rules carry the comment `nsm:NAME`.
 * @throws NsmError when neither iptables nor nft is installed.
 */
export function planNat(name: string, veth: EnvVeth): EnvNat {
  const fw = firewallTool();
  if (!fw) throw new NsmError('--nat needs iptables or nft, and neither is installed', { hint: 'apt-get install iptables (or nftables)' });
  if (fw.tool === 'iptables') return { tool: 'iptables', rules: iptablesRules(name, veth), forwardingEnabled: false };
  return { tool: 'nft', rules: [], table: nftTableName(veth.hostIf), forwardingEnabled: false };
}

/**
 * --nat, step 2: add what planNat() planned, turn IPv4 forwarding on, and say whether nsm
 * switched it (`nat.forwardingEnabled`). All or nothing: after a failure what was added is
 * removed again.
 */
export function applyNat(nat: EnvNat, veth: EnvVeth): void {
  nat.forwardingEnabled = !ipForwarding();
  try {
    if (nat.tool === 'iptables') {
      const path = systemExecutable('iptables');
      if (!path) throw new NsmError('--nat: iptables is not installed any more');
      // iptables-nft makes the kernel tables `ip nat` / `ip filter` on first use: note (before)
      // those it will make, so that the last nsm rule's removal takes them too.
      // Under NET_LOCK, so that another nsm's removal of an empty table cannot come between.
      const add = (): void => {
        for (const [table, chain, ...rule] of nat.rules) {
          // -w: wait for the xtables lock rather than fail while another tool holds it.
          runFirewall(path, ['-w', '5', '-t', table!, chain === 'FORWARD' ? '-I' : '-A', chain!, ...rule]);
        }
      };
      if (iptablesBackend(path) === 'nft') {
        withNetLockSync(() => {
          noteMadeTables([...new Set(nat.rules.map((r) => r[0]!))]);
          add();
        });
      } else add();
    } else {
      const path = systemExecutable('nft');
      if (!path) throw new NsmError('--nat: nft is not installed any more');
      runFirewall(path, ['-f', '-'], nftScript(nat.table!, veth));
    }
    if (nat.forwardingEnabled) enableIpForwarding();
  } catch (err) {
    try {
      removeNat(nat);
    } catch {
      // report the original failure
    }
    throw err;
  }
}

/** Bound on copies of one rule removed (a rule added twice by runs that were killed). */
const MAX_COPIES = 16;

/**
 * Remove what applyNat() added, or planned to add: every copy of each iptables rule that is
 * there (-C, then -D; a rule never added is skipped) or the nft table; then the kernel tables
 * iptables-nft made for nsm, if no rule is left in them. Idempotent, so gc and the next
 * create or destroy may run it on a plan whose run was killed half-way. IPv4 forwarding
 * stays on: other software (docker, VPNs, another environment) may have come to rely on it
 * since. Returns whether anything was removed.
 */
export function removeNat(nat: EnvNat): boolean {
  let removed = false;
  if (nat.tool === 'iptables') {
    const path = systemExecutable('iptables');
    if (!path) throw new NsmError('cannot remove the NAT rules of this environment: iptables is not installed any more');
    for (const [table, chain, ...rule] of nat.rules) {
      for (let i = 0; i < MAX_COPIES && firewallSucceeds(path, ['-w', '5', '-t', table!, '-C', chain!, ...rule]); i++) {
        runFirewall(path, ['-w', '5', '-t', table!, '-D', chain!, ...rule]);
        removed = true;
      }
    }
    if (iptablesBackend(path) === 'nft') dropEmptyMadeTables();
  } else if (nat.table) {
    const path = systemExecutable('nft');
    if (!path) throw new NsmError('cannot remove the NAT table of this environment: nft is not installed any more');
    if (firewallSucceeds(path, ['list', 'table', 'ip', nat.table])) {
      runFirewall(path, ['delete', 'table', 'ip', nat.table]);
      removed = true;
    }
  }
  return removed;
}

/** Whether anything of `nat` is in the firewall now (what removeNat() would remove). */
export function natPresent(nat: EnvNat): boolean {
  if (nat.tool === 'iptables') {
    const path = systemExecutable('iptables');
    return path !== undefined && nat.rules.some(([table, chain, ...rule]) => firewallSucceeds(path, ['-w', '5', '-t', table!, '-C', chain!, ...rule]));
  }
  const path = systemExecutable('nft');
  return path !== undefined && nat.table !== undefined && firewallSucceeds(path, ['list', 'table', 'ip', nat.table]);
}

// ------------------------------------------------------------------ kernel tables iptables-nft made

/**
 * Host-wide list of the nf_tables tables (family ip) that did not exist when an nsm create
 * added its first iptables rule to them: nsm made them, so nsm removes them once they hold
 * no rule (of anyone's). Root only, like --nat; changed under NET_LOCK.
 */
const MADE_TABLES_FILE = '/run/nsm-nat-tables';

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function withNetLockSync<T>(fn: () => T): T {
  const until = Date.now() + LOCK_WAIT_MS;
  let lock: FileLock | undefined;
  while (!(lock = FileLock.tryAcquire(NET_LOCK))) {
    if (Date.now() > until) throw new NsmError(`another nsm holds ${NET_LOCK} for more than ${LOCK_WAIT_MS / 1000} s`);
    sleepSync(10);
  }
  try {
    return fn();
  } finally {
    lock.release();
  }
}

function readMadeTables(): Set<string> {
  try {
    return new Set(readFileSync(MADE_TABLES_FILE, 'utf8').split('\n').filter((t) => /^[a-z]+$/.test(t)));
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return new Set();
    throw SysError.fromNode(err, 'read', MADE_TABLES_FILE);
  }
}

function writeMadeTables(tables: Set<string>): void {
  try {
    if (tables.size === 0) rmSync(MADE_TABLES_FILE, { force: true });
    else writeFileSync(MADE_TABLES_FILE, `${[...tables].sort().join('\n')}\n`, { mode: 0o600 });
  } catch (err) {
    throw SysError.fromNode(err, 'write', MADE_TABLES_FILE);
  }
}

/** Before iptables-nft adds to `tables` (under NET_LOCK): note those that do not exist yet (nsm makes them). */
function noteMadeTables(tables: readonly string[]): void {
  const nft = systemExecutable('nft');
  if (!nft) return; // cannot tell (nor remove them later)
  const made = readMadeTables();
  const before = made.size;
  for (const t of tables) if (!made.has(t) && nftTableRules(nft, 'ip', t) === undefined) made.add(t);
  if (made.size !== before) writeMadeTables(made);
}

/** Remove the tables nsm made that hold no rule now (and forget those already gone). */
function dropEmptyMadeTables(): void {
  const nft = systemExecutable('nft');
  if (!nft || !existsSync(MADE_TABLES_FILE)) return;
  withNetLockSync(() => {
    const made = readMadeTables();
    for (const t of [...made]) {
      const rules = nftTableRules(nft, 'ip', t);
      if (rules === 0) runFirewall(nft, ['delete', 'table', 'ip', t]);
      if (rules === 0 || rules === undefined) made.delete(t);
    }
    writeMadeTables(made);
  });
}

