/**
 * rtnetlink(7) requests for `nsm create --veth`: a veth pair with one end moved into another
 * network namespace, IPv4 addresses, links up, a default route, and the dumps needed to find
 * the addresses the host already uses. Blocking request/ack on a NETLINK_ROUTE socket of
 * src/sys/netlink.ts; no process is spawned (iproute2 would take one `ip` per step).
 *
 * A socket acts in the network namespace it was created in (netlink(7)): RouteSocket.open(fd)
 * creates it inside the namespace open on `fd` by a setns(2) of the calling thread there and
 * straight back (setns(2) lets a multi-threaded process join a network namespace).
 *
 * Message layouts are linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/veth.h.
 */
import { closeSync, openSync } from 'node:fs';
import { errnoName, SysError } from './errors.js';
import { setns } from './libc.js';
import { NETLINK_ROUTE, NetlinkSocket } from './netlink.js';

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_MULTI = 0x2;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_NEWNSID = 88;
const RTM_GETNSID = 90;

const AF_UNSPEC = 0;
const AF_INET = 2;
const IFF_UP = 0x1;

const IFLA_IFNAME = 3;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_LINK_NETNSID = 37;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;

const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3; // what `ip route add` records
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;

const NETNSA_NSID = 1;
const NETNSA_FD = 3;

const NLMSG_HDRLEN = 16;
const align4 = (n: number) => (n + 3) & ~3;

/** One rtattr: type and payload (a nested attribute's payload is its children, encoded). */
export function rtattr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const buf = Buffer.alloc(align4(len));
  buf.writeUInt16LE(len, 0);
  buf.writeUInt16LE(type, 2);
  payload.copy(buf, 4);
  return buf;
}

const strz = (s: string) => Buffer.from(`${s}\0`, 'utf8');
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
};

/** struct ifinfomsg { u8 family, pad; u16 type; s32 index; u32 flags, change }. */
export function ifinfomsg(index = 0, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(AF_UNSPEC, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags >>> 0, 8);
  b.writeUInt32LE(change >>> 0, 12);
  return b;
}

/** The four bytes of a dotted-quad IPv4 address, network order. */
export function ipv4Bytes(address: string): Buffer {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${address}`);
  return Buffer.from(parts);
}

function ipv4Text(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** The attributes of one message body from `offset`, by type (the last one of a type wins). */
export function parseAttrs(buf: Buffer, offset: number, end = buf.length): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  for (let off = offset; off + 4 <= end; ) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) break;
    // NLA_F_NESTED and NLA_F_NET_BYTEORDER live in the top bits of the type.
    attrs.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return attrs;
}

const cstring = (b: Buffer | undefined) => (b === undefined ? undefined : b.toString('utf8').replace(/\0.*$/s, ''));

/** An interface as RTM_GETLINK describes it. */
export interface LinkInfo {
  index: number;
  name: string;
  up: boolean;
  /** IFLA_INFO_KIND: "veth", "bridge" ...; undefined for a physical device. */
  kind?: string;
  /** IFLA_LINK_NETNSID: the id (in this namespace) of the namespace the peer is in. */
  linkNetnsId?: number;
}

/** An IPv4 address on an interface (RTM_GETADDR). */
export interface Ipv4AddressInfo {
  index: number;
  /** IFA_LABEL: the interface name (or its alias label). */
  label?: string;
  address: string;
  prefix: number;
}

/** A request's name in errors: "RTM_NEWLINK", with what it was about. */
type Step = { call: string; target?: string };

/** A NETLINK_ROUTE socket in one network namespace. */
export class RouteSocket {
  private seq = 0;
  private readonly rx = Buffer.alloc(64 * 1024);

  private constructor(private readonly sock: NetlinkSocket) {}

  /**
   * A socket acting in our network namespace, or in the one open on `netnsFd`. The calling
   * thread is back in its own network namespace when this returns, also after a failure.
   */
  static open(netnsFd?: number): RouteSocket {
    if (netnsFd === undefined) return new RouteSocket(new NetlinkSocket(NETLINK_ROUTE));
    // The thread's own, not the process's: setns(2) moved this thread only.
    const home = openSync('/proc/thread-self/ns/net', 'r');
    try {
      setns(netnsFd, 'net');
      try {
        return new RouteSocket(new NetlinkSocket(NETLINK_ROUTE));
      } finally {
        setns(home, 'net', 'our own network namespace');
      }
    } finally {
      closeSync(home);
    }
  }

  close(): void {
    this.sock.close();
  }

  /** Send one message; return every reply message (type, body) up to the ack or NLMSG_DONE. */
  private request(type: number, flags: number, body: Buffer, step: Step): Array<{ type: number; body: Buffer }> {
    const seq = ++this.seq;
    const msg = Buffer.alloc(NLMSG_HDRLEN + body.length);
    msg.writeUInt32LE(msg.length, 0);
    msg.writeUInt16LE(type, 4);
    msg.writeUInt16LE(NLM_F_REQUEST | flags, 6);
    msg.writeUInt32LE(seq, 8);
    body.copy(msg, NLMSG_HDRLEN);
    this.sock.send(msg);
    const replies: Array<{ type: number; body: Buffer }> = [];
    const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    for (;;) {
      const n = this.sock.recv(this.rx);
      if (n <= 0) throw new SysError(step.call, 'EIO', step.target);
      for (let off = 0; off + NLMSG_HDRLEN <= n; ) {
        const len = this.rx.readUInt32LE(off);
        if (len < NLMSG_HDRLEN || off + len > n) break;
        const mtype = this.rx.readUInt16LE(off + 4);
        const mflags = this.rx.readUInt16LE(off + 6);
        const mseq = this.rx.readUInt32LE(off + 8);
        const payload = Buffer.from(this.rx.subarray(off + NLMSG_HDRLEN, off + len));
        off += align4(len);
        if (mseq !== seq) continue; // a late reply to an earlier request
        if (mtype === NLMSG_ERROR) {
          // struct nlmsgerr { int error; struct nlmsghdr msg; }: 0 is the ack, else -errno.
          const error = payload.readInt32LE(0);
          if (error === 0) return replies;
          throw new SysError(step.call, errnoName(-error), step.target);
        }
        if (mtype === NLMSG_DONE) return replies;
        replies.push({ type: mtype, body: payload });
        if (!dump && (mflags & NLM_F_MULTI) === 0 && (flags & NLM_F_ACK) === 0) return replies;
      }
    }
  }

  /**
   * A veth pair: `name` here, its peer `peer.name` created directly in the network namespace
   * open on `peer.netnsFd` (veth(4); IFLA_NET_NS_FD inside VETH_INFO_PEER), both down.
   * EEXIST when `name` is taken here or `peer.name` there.
   */
  createVeth(name: string, peer: { name: string; netnsFd: number }): void {
    const peerInfo = Buffer.concat([ifinfomsg(), rtattr(IFLA_IFNAME, strz(peer.name)), rtattr(IFLA_NET_NS_FD, u32(peer.netnsFd))]);
    const linkinfo = rtattr(IFLA_LINKINFO, Buffer.concat([rtattr(IFLA_INFO_KIND, strz('veth')), rtattr(IFLA_INFO_DATA, rtattr(VETH_INFO_PEER, peerInfo))]));
    const body = Buffer.concat([ifinfomsg(), rtattr(IFLA_IFNAME, strz(name)), linkinfo]);
    this.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, body, { call: 'RTM_NEWLINK', target: `veth ${name}, peer ${peer.name}` });
  }

  /** The interface called `name`, or undefined when there is none. */
  link(name: string): LinkInfo | undefined {
    try {
      const replies = this.request(RTM_GETLINK, 0, Buffer.concat([ifinfomsg(), rtattr(IFLA_IFNAME, strz(name))]), { call: 'RTM_GETLINK', target: name });
      const reply = replies.find((r) => r.type === RTM_NEWLINK);
      return reply ? parseLink(reply.body) : undefined;
    } catch (err) {
      if (err instanceof SysError && err.errno === 'ENODEV') return undefined;
      throw err;
    }
  }

  /** Bring interface `index` up (`ip link set NAME up`). */
  setUp(index: number, name?: string): void {
    this.request(RTM_NEWLINK, NLM_F_ACK, ifinfomsg(index, IFF_UP, IFF_UP), { call: 'RTM_NEWLINK', target: `${name ?? index} up` });
  }

  /** Delete interface `index`; for a veth, the kernel deletes its peer too (veth(4)). */
  deleteLink(index: number, name?: string): void {
    this.request(RTM_DELLINK, NLM_F_ACK, ifinfomsg(index), { call: 'RTM_DELLINK', target: name ?? String(index) });
  }

  /** `ip addr add ADDRESS/PREFIX dev INDEX`. */
  addIpv4(index: number, address: string, prefix: number, name?: string): void {
    const head = Buffer.alloc(8); // struct ifaddrmsg { u8 family, prefixlen, flags, scope; u32 index }
    head.writeUInt8(AF_INET, 0);
    head.writeUInt8(prefix, 1);
    head.writeUInt8(RT_SCOPE_UNIVERSE, 3);
    head.writeUInt32LE(index, 4);
    const addr = ipv4Bytes(address);
    const body = Buffer.concat([head, rtattr(IFA_LOCAL, addr), rtattr(IFA_ADDRESS, addr)]);
    this.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, body, { call: 'RTM_NEWADDR', target: `${address}/${prefix} on ${name ?? index}` });
  }

  /** `ip route add default via GATEWAY dev INDEX` in the main table. */
  addDefaultRoute(gateway: string, index: number, name?: string): void {
    const head = Buffer.alloc(12); // struct rtmsg
    head.writeUInt8(AF_INET, 0);
    head.writeUInt8(0, 1); // dst_len 0: default
    head.writeUInt8(RT_TABLE_MAIN, 4);
    head.writeUInt8(RTPROT_BOOT, 5);
    head.writeUInt8(RT_SCOPE_UNIVERSE, 6);
    head.writeUInt8(RTN_UNICAST, 7);
    const body = Buffer.concat([head, rtattr(RTA_GATEWAY, ipv4Bytes(gateway)), rtattr(RTA_OIF, u32(index))]);
    this.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, body, { call: 'RTM_NEWROUTE', target: `default via ${gateway} dev ${name ?? index}` });
  }

  /** Every IPv4 address in this namespace (`ip -4 addr`). */
  ipv4Addresses(): Ipv4AddressInfo[] {
    const head = Buffer.alloc(8);
    head.writeUInt8(AF_INET, 0);
    const out: Ipv4AddressInfo[] = [];
    for (const r of this.request(RTM_GETADDR, NLM_F_DUMP, head, { call: 'RTM_GETADDR' })) {
      if (r.type !== RTM_NEWADDR || r.body.length < 8) continue;
      const attrs = parseAttrs(r.body, 8);
      const addr = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
      if (!addr || addr.length !== 4) continue;
      const label = cstring(attrs.get(IFA_LABEL));
      out.push({ index: r.body.readUInt32LE(4), address: ipv4Text(addr), prefix: r.body.readUInt8(1), ...(label ? { label } : {}) });
    }
    return out;
  }

  /** The id this namespace gives the network namespace open on `fd` (RTM_GETNSID); undefined when it has none. */
  netnsId(fd: number): number | undefined {
    const body = Buffer.concat([Buffer.alloc(4), rtattr(NETNSA_FD, u32(fd))]); // struct rtgenmsg, padded
    const reply = this.request(RTM_GETNSID, 0, body, { call: 'RTM_GETNSID' }).find((r) => r.type === RTM_NEWNSID);
    const id = reply ? parseAttrs(reply.body, 4).get(NETNSA_NSID) : undefined;
    if (!id || id.length < 4) return undefined;
    const n = id.readInt32LE(0);
    return n < 0 ? undefined : n;
  }
}

/** An RTM_NEWLINK body: ifinfomsg + attributes. */
export function parseLink(body: Buffer): LinkInfo {
  const attrs = parseAttrs(body, 16);
  const info = attrs.get(IFLA_LINKINFO);
  const kind = info ? cstring(parseAttrs(info, 0).get(IFLA_INFO_KIND)) : undefined;
  const nsid = attrs.get(IFLA_LINK_NETNSID);
  return {
    index: body.readInt32LE(4),
    name: cstring(attrs.get(IFLA_IFNAME)) ?? '',
    up: (body.readUInt32LE(8) & IFF_UP) !== 0,
    ...(kind ? { kind } : {}),
    ...(nsid && nsid.length >= 4 ? { linkNetnsId: nsid.readInt32LE(0) } : {}),
  };
}
