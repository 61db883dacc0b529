/**
 * Netlink sockets through koffi (socket/bind/send/recv on AF_NETLINK), loaded on first use.
 * Used for the NETNSID column (rtnetlink RTM_GETNSID, as lsns does) and by the monitor
 * (the process events connector).
 */
import { closeSync, openSync } from 'node:fs';
import { errnoName, SysError } from './errors.js';
import { loadKoffi } from './libc.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_ROUTE = 0;
export const NETLINK_CONNECTOR = 11;

// rtnetlink(7) / linux/net_namespace.h
const RTM_NEWNSID = 88;
const RTM_GETNSID = 90;
const NLM_F_REQUEST = 1;
const NLMSG_ERROR = 2;
const NETNSA_NSID = 1;
const NETNSA_FD = 3;
/** linux/net_namespace.h: the peer has no id in the caller's network namespace. */
const NETNSA_NSID_NOT_ASSIGNED = -1;

interface NetlinkLib {
  errno(): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: number[], len: number): number;
  getsockopt(fd: number, level: number, name: number, value: number[], len: number[]): number;
  close(fd: number): number;
}

let lib: NetlinkLib | undefined;

function load(): NetlinkLib {
  if (lib) return lib;
  // The quick way (src/sys/libc.ts): koffi's own loader does much more work, on every nsm create --veth.
  const koffi = loadKoffi();
  const c = koffi.load('libc.so.6');
  lib = {
    errno: () => koffi.errno(),
    socket: c.func('int socket(int domain, int type, int protocol)'),
    bind: c.func('int bind(int fd, const void *addr, uint32_t len)'),
    send: c.func('intptr_t send(int fd, const void *buf, size_t len, int flags)'),
    recv: c.func('intptr_t recv(int fd, _Out_ void *buf, size_t len, int flags)'),
    setsockopt: c.func('int setsockopt(int fd, int level, int name, const int *value, uint32_t len)'),
    getsockopt: c.func('int getsockopt(int fd, int level, int name, _Out_ int *value, _Inout_ uint32_t *len)'),
    close: c.func('int close(int fd)'),
  };
  return lib;
}

function check(rc: number, call: string, target?: string): number {
  if (rc < 0) throw new SysError(call, errnoName(load().errno()), target);
  return rc;
}

/** A raw netlink socket; `fd` may be handed to Node streams or polled. */
export class NetlinkSocket {
  readonly fd: number;

  constructor(protocol: number, options: { nonBlocking?: boolean } = {}) {
    const SOCK_NONBLOCK = 0o4000;
    const type = SOCK_RAW | SOCK_CLOEXEC | (options.nonBlocking ? SOCK_NONBLOCK : 0);
    this.fd = check(load().socket(AF_NETLINK, type, protocol), 'socket', `AF_NETLINK/${protocol}`);
  }

  /** bind(2) to multicast `groups` (a bit mask), letting the kernel pick our port id. */
  bind(groups: number): void {
    const addr = Buffer.alloc(12); // struct sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups; }
    addr.writeUInt16LE(AF_NETLINK, 0);
    addr.writeUInt32LE(0, 4);
    addr.writeUInt32LE(groups >>> 0, 8);
    check(load().bind(this.fd, addr, addr.length), 'bind', 'AF_NETLINK');
  }

  send(buf: Buffer): void {
    check(load().send(this.fd, buf, buf.length, 0), 'send', 'netlink');
  }

  /** recv(2) into `buf`; returns the byte count, or -1 with errno EAGAIN on a non-blocking socket with nothing queued. */
  recv(buf: Buffer): number {
    const n = load().recv(this.fd, buf, buf.length, 0);
    if (n < 0) {
      const errno = errnoName(load().errno());
      if (errno === 'EAGAIN' || errno === 'EWOULDBLOCK') return -1;
      throw new SysError('recv', errno, 'netlink');
    }
    return n;
  }

  /**
   * Ask for a receive queue of `bytes` and return what the kernel granted (socket(7): it
   * doubles the value for bookkeeping). SO_RCVBUFFORCE (CAP_NET_ADMIN) may exceed
   * net.core.rmem_max; without the capability, SO_RCVBUF is capped at rmem_max.
   */
  setReceiveBuffer(bytes: number): number {
    const SOL_SOCKET = 1;
    const SO_RCVBUF = 8;
    const SO_RCVBUFFORCE = 33;
    const c = load();
    if (c.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, [bytes], 4) < 0) {
      check(c.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, [bytes], 4), 'setsockopt', 'SO_RCVBUF');
    }
    const out = [0];
    check(c.getsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, out, [4]), 'getsockopt', 'SO_RCVBUF');
    return out[0]!;
  }

  close(): void {
    load().close(this.fd);
  }
}

/** NETNSID value as lsns prints it: the id, "unassigned", or undefined when it cannot be asked. */
export type NetnsId = number | 'unassigned';

/**
 * Ask rtnetlink which id our network namespace gives the network namespace open at `path`
 * (RTM_GETNSID with NETNSA_FD, as lsns does). One socket serves many queries.
 */
export class NetnsIdResolver {
  private sock: NetlinkSocket | undefined;
  private seq = 0;

  lookup(path: string): NetnsId | undefined {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return undefined;
    }
    try {
      return this.lookupFd(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** The same for a network namespace already open at `fd` (the caller keeps and closes it). */
  lookupFd(fd: number): NetnsId | undefined {
    try {
      this.sock ??= new NetlinkSocket(NETLINK_ROUTE);
      // nlmsghdr(16) + rtgenmsg(1, padded to 4) + rtattr(4) + s32 fd
      const req = Buffer.alloc(28);
      req.writeUInt32LE(req.length, 0);
      req.writeUInt16LE(RTM_GETNSID, 4);
      req.writeUInt16LE(NLM_F_REQUEST, 6);
      req.writeUInt32LE(++this.seq, 8);
      req.writeUInt8(0, 16); // rtgen_family = AF_UNSPEC
      req.writeUInt16LE(8, 20); // rta_len
      req.writeUInt16LE(NETNSA_FD, 22);
      req.writeInt32LE(fd, 24);
      this.sock.send(req);
      const res = Buffer.alloc(256);
      const n = this.sock.recv(res);
      if (n < 20 || res.readUInt16LE(4) === NLMSG_ERROR || res.readUInt16LE(4) !== RTM_NEWNSID) return undefined;
      for (let off = 20; off + 8 <= n; ) {
        const len = res.readUInt16LE(off);
        if (len < 4) break;
        if (res.readUInt16LE(off + 2) === NETNSA_NSID) {
          const id = res.readInt32LE(off + 4);
          return id === NETNSA_NSID_NOT_ASSIGNED ? 'unassigned' : id;
        }
        off += (len + 3) & ~3;
      }
      return undefined;
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.sock?.close();
    this.sock = undefined;
  }
}
