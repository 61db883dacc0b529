import { describe, expect, it } from 'vitest';
import { ifinfomsg, ipv4Bytes, parseAttrs, parseLink, rtattr } from '../../src/sys/rtnetlink.js';

describe('rtnetlink encoding', () => {
  it('rtattr: 4-byte header, payload, padded to 4 (len excludes the padding)', () => {
    const a = rtattr(3, Buffer.from('eth0\0'));
    expect(a.length).toBe(12);
    expect(a.readUInt16LE(0)).toBe(9);
    expect(a.readUInt16LE(2)).toBe(3);
    expect(a.subarray(4, 9).toString()).toBe('eth0\0');
  });

  it('parseAttrs reads them back, nested ones too, and ignores NLA_F_NESTED', () => {
    const inner = rtattr(1, Buffer.from('veth\0'));
    const buf = Buffer.concat([rtattr(3, Buffer.from('nsm-web-1a2b\0')), rtattr(18 | 0x8000, inner)]);
    const attrs = parseAttrs(buf, 0);
    expect(attrs.get(3)!.toString()).toBe('nsm-web-1a2b\0');
    expect(parseAttrs(attrs.get(18)!, 0).get(1)!.toString()).toBe('veth\0');
  });

  it('parseLink: index, name, up, kind and the peer namespace id of an RTM_NEWLINK body', () => {
    const nsid = Buffer.alloc(4);
    nsid.writeInt32LE(7);
    const body = Buffer.concat([
      ifinfomsg(42, 0x1 | 0x1000, 0),
      rtattr(3, Buffer.from('nsm-web-1a2b\0')),
      rtattr(18, rtattr(1, Buffer.from('veth\0'))),
      rtattr(37, nsid),
    ]);
    expect(parseLink(body)).toEqual({ index: 42, name: 'nsm-web-1a2b', up: true, kind: 'veth', linkNetnsId: 7 });
    expect(parseLink(Buffer.concat([ifinfomsg(2), rtattr(3, Buffer.from('eth0\0'))]))).toEqual({ index: 2, name: 'eth0', up: false });
  });

  it('ipv4Bytes: network order', () => {
    expect([...ipv4Bytes('10.200.0.1')]).toEqual([10, 200, 0, 1]);
    expect(() => ipv4Bytes('10.200.0')).toThrow();
  });
});
