import { describe, expect, it } from 'vitest';
import {
  addressConflict,
  hostInterfaceName,
  iptablesRules,
  nftTableName,
  overlaps,
  parseVethAddresses,
  pickAddresses,
  subnetText,
} from '../../src/core/network.js';
import { resolveVethArgument } from '../../src/commands/environment-options.js';
import { UsageError } from '../../src/sys/errors.js';

const usage = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('no UsageError');
};

describe('parseVethAddresses', () => {
  it('two addresses of one subnet', () => {
    expect(parseVethAddresses('10.9.0.1/30,10.9.0.2/30')).toEqual({ host: { address: '10.9.0.1', prefix: 30 }, env: { address: '10.9.0.2', prefix: 30 } });
    expect(parseVethAddresses('192.168.7.254/24,192.168.7.3/24').env).toEqual({ address: '192.168.7.3', prefix: 24 });
    // RFC 3021: both addresses of a /31 are usable
    expect(parseVethAddresses('10.9.0.0/31,10.9.0.1/31').host.address).toBe('10.9.0.0');
  });

  it('bad syntax is a usage error that says what is expected', () => {
    expect(usage(() => parseVethAddresses('10.9.0.1/30'))).toMatch(/HOST_ADDR\/PREFIX,ENV_ADDR\/PREFIX/);
    expect(usage(() => parseVethAddresses('10.9.0.1,10.9.0.2'))).toMatch(/not an IPv4 address with a prefix length/);
    expect(usage(() => parseVethAddresses('10.9.0.256/30,10.9.0.2/30'))).toMatch(/not an IPv4 address/);
    expect(usage(() => parseVethAddresses('fd00::1/64,fd00::2/64'))).toMatch(/not an IPv4 address/);
    expect(usage(() => parseVethAddresses('10.9.0.1/32,10.9.0.2/32'))).toMatch(/prefix length .* must be 1 to 31/);
  });

  it('the ends must share a subnet, differ, and not be its network or broadcast address', () => {
    expect(usage(() => parseVethAddresses('10.9.0.1/30,10.9.0.5/30'))).toMatch(/same subnet/);
    expect(usage(() => parseVethAddresses('10.9.0.1/30,10.9.0.2/29'))).toMatch(/same subnet/);
    expect(usage(() => parseVethAddresses('10.9.0.1/30,10.9.0.1/30'))).toMatch(/different addresses/);
    expect(usage(() => parseVethAddresses('10.9.0.0/30,10.9.0.1/30'))).toMatch(/10\.9\.0\.0 is the network address of 10\.9\.0\.0\/30/);
    expect(usage(() => parseVethAddresses('10.9.0.1/30,10.9.0.3/30'))).toMatch(/10\.9\.0\.3 is the broadcast address/);
    expect(usage(() => parseVethAddresses('127.0.0.2/8,127.0.0.3/8'))).toMatch(/not a unicast address/);
    expect(usage(() => parseVethAddresses('224.0.0.1/24,224.0.0.2/24'))).toMatch(/not a unicast address/);
  });
});

describe('subnets', () => {
  it('overlap when either contains the other', () => {
    expect(overlaps({ address: '10.200.0.1', prefix: 30 }, { address: '10.200.0.2', prefix: 30 })).toBe(true);
    expect(overlaps({ address: '10.200.0.1', prefix: 30 }, { address: '10.200.0.5', prefix: 30 })).toBe(false);
    expect(overlaps({ address: '10.200.3.9', prefix: 30 }, { address: '10.0.0.1', prefix: 8 })).toBe(true);
    expect(subnetText({ address: '10.200.3.9', prefix: 30 })).toBe('10.200.3.8/30');
  });

  it('pickAddresses takes the first /30 of 10.200.0.0/16 that nothing uses: host .1, environment .2', () => {
    const lo = { address: '127.0.0.1', prefix: 8 };
    expect(pickAddresses([lo, { address: '192.0.2.2', prefix: 24 }])).toEqual({
      host: { address: '10.200.0.1', prefix: 30 },
      env: { address: '10.200.0.2', prefix: 30 },
    });
    const used = [{ address: '10.200.0.1', prefix: 30 }, { address: '10.200.0.6', prefix: 30 }, { address: '10.200.0.9', prefix: 29 }];
    expect(pickAddresses(used)?.host).toEqual({ address: '10.200.0.17', prefix: 30 });
    // a host address covering the whole range leaves nothing
    expect(pickAddresses([{ address: '10.200.77.1', prefix: 16 }])).toBeUndefined();
    expect(pickAddresses([], { address: '10.5.0.0', prefix: 29 })?.env).toEqual({ address: '10.5.0.2', prefix: 30 });
  });

  it('addressConflict names what the wanted subnet overlaps: a host address or another environment', () => {
    const want = parseVethAddresses('10.9.0.1/30,10.9.0.2/30');
    expect(addressConflict(want, [{ index: 2, address: '10.9.0.77', prefix: 24, label: 'eth1' }], [])).toBe('10.9.0.0/30 overlaps 10.9.0.77/24 on eth1');
    expect(addressConflict(want, [], [{ name: 'db', subnet: { address: '10.9.0.0', prefix: 29 } }])).toBe('10.9.0.0/30 overlaps 10.9.0.0/29 of environment db');
    expect(addressConflict(want, [{ index: 1, address: '127.0.0.1', prefix: 8, label: 'lo' }], [])).toBeUndefined();
  });
});

describe('names', () => {
  it('host end: nsm-<6 characters>-<4 hex of SHA-256(NAME)>, at most 15 bytes (IFNAMSIZ - 1)', () => {
    expect(hostInterfaceName('web')).toMatch(/^nsm-web-[0-9a-f]{4}$/);
    expect(hostInterfaceName('web')).toBe(hostInterfaceName('web'));
    const long = hostInterfaceName('a-very-long-environment-name.with.dots_and_more');
    expect(long).toMatch(/^nsm-a-very-[0-9a-f]{4}$/);
    expect(long.length).toBeLessThanOrEqual(15);
    // two names with the same first six characters still differ
    expect(hostInterfaceName('builder-1')).not.toBe(hostInterfaceName('builder-2'));
  });

  it('NAT: iptables rules tagged nsm:NAME; nft table name of identifier characters', () => {
    const rules = iptablesRules('web', { hostIf: 'nsm-web-1a2b', subnet: '10.200.0.0/30' });
    expect(rules[0]).toEqual(['nat', 'POSTROUTING', '-s', '10.200.0.0/30', '!', '-o', 'nsm-web-1a2b', '-m', 'comment', '--comment', 'nsm:web', '-j', 'MASQUERADE']);
    expect(rules.map((r) => `${r[0]} ${r[1]}`)).toEqual(['nat POSTROUTING', 'filter FORWARD', 'filter FORWARD']);
    expect(rules.every((r) => r.includes('nsm:web'))).toBe(true);
    expect(nftTableName('nsm-my.env-1a2b')).toBe('nsm_my_env_1a2b');
  });
});

describe('--veth and NAME (commander reads `--veth NAME` as the addresses)', () => {
  it('sorts them out', () => {
    expect(resolveVethArgument('web', undefined)).toEqual({ name: 'web' });
    expect(resolveVethArgument('web', true)).toEqual({ name: 'web', veth: 'auto' });
    expect(resolveVethArgument(undefined, 'web')).toEqual({ name: 'web', veth: 'auto' });
    expect(resolveVethArgument('web', '10.9.0.1/30,10.9.0.2/30')).toEqual({ name: 'web', veth: parseVethAddresses('10.9.0.1/30,10.9.0.2/30') });
    expect(usage(() => resolveVethArgument(undefined, '10.9.0.1/30,10.9.0.2/30'))).toMatch(/missing required argument 'name'/);
    expect(usage(() => resolveVethArgument('web', 'lab'))).toMatch(/--veth needs HOST_ADDR/);
    expect(usage(() => resolveVethArgument(undefined, undefined))).toMatch(/missing required argument/);
  });
});
