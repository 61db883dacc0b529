/**
 * The nsm-helper pipe protocol, TypeScript side. The numbers mirror native/protocol.h (used by
 * native/nsm-helper.c and helper-*.c); native/PROTOCOL.md explains them. test/unit/helper-protocol.test.ts
 * parses protocol.h and fails when the two sides disagree.
 *
 * Frame: u8 version, u8 code, u32 payload length (little-endian), payload.
 * This module is pure (no I/O): it builds and parses frames; src/sys/helper.ts does the I/O.
 */

/** 2: a holder lives on only once the driver answers its READY with READY_ACK. */
export const PROTO_VERSION = 2;
export const FRAME_HEADER = 6;
export const MAX_PAYLOAD = 1_048_576;
/** NSM_CHANNEL_STDIO: `nsm-helper holder - [NAME]` reads the configuration on stdin and replies on stdout. */
export const CHANNEL_STDIO = '-';

/** Message codes (enum nsm_msg), keyed by their C name without the NSM_ prefix. */
export const Msg = {
  // driver -> helper: configuration, any order, ended by CFG_END
  CFG_NSTYPES: 0x10,
  CFG_UID_MAP: 0x11,
  CFG_GID_MAP: 0x12,
  CFG_MAP_TOOLS: 0x13,
  CFG_SETGROUPS: 0x14,
  CFG_HOSTNAME: 0x15,
  CFG_TIMEOFFSETS: 0x16,
  CFG_PROPAGATION: 0x17,
  CFG_MOUNT_PROC: 0x18,
  CFG_MOUNT_SYS: 0x19,
  CFG_LOOPBACK: 0x1a,
  CFG_CGROUP: 0x1b,
  CFG_JOIN_NS: 0x1c,
  CFG_JOIN_IDS: 0x1d,
  CFG_CWD: 0x1e,
  CFG_ARG: 0x1f,
  CFG_END: 0x20,
  // driver -> helper, holder only, after READY: the holder is noted, let it live on
  READY_ACK: 0x21,
  // driver -> helper, run only: chroot of the command; its signal when nsm dies
  CFG_ROOT: 0x26,
  CFG_KILL_SIGNAL: 0x27,
  // driver -> helper, join only: nsenter's options; ip netns exec's mounts
  CFG_JOIN_FLAGS: 0x28,
  CFG_JOIN_ROOT: 0x29,
  CFG_JOIN_WD: 0x2a,
  CFG_NETNS_EXEC: 0x2b,
  CFG_NEW_SESSION: 0x2f,
  // helper -> driver
  READY: 0x30,
  STARTED: 0x31,
  FAIL: 0x32,
  // helper <-> its own children (never seen by the driver)
  SYNC_USERMAP_PLS: 0x40,
  SYNC_USERMAP_ACK: 0x41,
  SYNC_CHILD_READY: 0x42,
  SYNC_DETACH: 0x43,
} as const;
export type MsgName = keyof typeof Msg;

/** NSM_CFG_PROPAGATION values (enum nsm_propagation). */
export const Prop = { PRIVATE: 1, SLAVE: 2, SHARED: 3, UNCHANGED: 4 } as const;
/** NSM_CFG_SETGROUPS values (enum nsm_setgroups). */
export const Setgroups = { DENY: 1, ALLOW: 2 } as const;
/** NSM_CFG_JOIN_FLAGS bits (enum nsm_join_flags). */
export const JoinFlag = { SETUID: 1, SETGID: 2, PRESERVE_CRED: 4, KEEP_CAPS: 8, NO_FORK: 16, CWD_ASKED: 32 } as const;
/** NSM_CFG_LOOPBACK values (enum nsm_loopback). */
export const Loopback = { UP: 1, DOWN: 2 } as const;

/** Exit codes of nsm-helper (enum nsm_exit); run/join otherwise exit with the command's status. */
export const HelperExit = { OK: 0, FAIL: 125, NOEXEC: 126, NOTFOUND: 127, SIGNAL_BASE: 128 } as const;

function msgName(code: number): string {
  const entry = Object.entries(Msg).find(([, v]) => v === code);
  return entry ? `NSM_${entry[0]}` : `unknown message 0x${code.toString(16).padStart(2, '0')}`;
}

/** One frame, header included. */
export function encodeFrame(code: number, payload: Uint8Array = Buffer.alloc(0), version = PROTO_VERSION): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`${msgName(code)} payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const header = Buffer.alloc(FRAME_HEADER);
  header.writeUInt8(version, 0);
  header.writeUInt8(code, 1);
  header.writeUInt32LE(payload.length, 2);
  return Buffer.concat([header, payload]);
}

export function u8(value: number): Buffer {
  return Buffer.from([value]);
}

export function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32LE(v >>> 0, 4 * i));
  return b;
}

export function i64s(...values: bigint[]): Buffer {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeBigInt64LE(v, 8 * i));
  return b;
}

/** A protocol string: bytes without a terminator; NUL is not allowed inside. */
export function str(value: string): Buffer {
  if (value.includes('\0')) throw new RangeError(`protocol strings cannot contain NUL: ${JSON.stringify(value)}`);
  return Buffer.from(value, 'utf8');
}

/** One uid_map/gid_map line. */
export interface IdExtent {
  inside: number;
  outside: number;
  count: number;
}

export function extents(map: readonly IdExtent[]): Buffer {
  return u32s(...map.flatMap((e) => [e.inside, e.outside, e.count]));
}

/** JOIN_NS payload: u32 fd, u32 CLONE_NEW* type, u64 inode. */
export function joinNsPayload(fd: number, cloneFlag: number, inode: bigint, id?: bigint): Buffer {
  // With an ID (NS_GET_ID), 24 bytes: the helper checks it too where the kernel answers.
  const b = Buffer.alloc(id === undefined ? 16 : 24);
  b.writeUInt32LE(fd, 0);
  b.writeUInt32LE(cloneFlag >>> 0, 4);
  b.writeBigUInt64LE(inode, 8);
  if (id !== undefined) b.writeBigUInt64LE(id, 16);
  return b;
}

export interface Frame {
  code: number;
  payload: Buffer;
}

/** The helper's replies, decoded. */
export type Reply =
  | { kind: 'ready'; pid: number }
  | { kind: 'started'; pid: number }
  | { kind: 'fail'; step: string; errno: string };

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Turns a byte stream into frames; feed it chunks, take complete frames out. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    while (this.buf.length >= FRAME_HEADER) {
      const version = this.buf.readUInt8(0);
      if (version !== PROTO_VERSION) {
        throw new ProtocolError(`nsm-helper sent protocol version ${version}, nsm speaks ${PROTO_VERSION}`);
      }
      const len = this.buf.readUInt32LE(2);
      if (len > MAX_PAYLOAD) throw new ProtocolError(`nsm-helper sent a frame of ${len} bytes`);
      if (this.buf.length < FRAME_HEADER + len) break;
      frames.push({ code: this.buf.readUInt8(1), payload: this.buf.subarray(FRAME_HEADER, FRAME_HEADER + len) });
      this.buf = this.buf.subarray(FRAME_HEADER + len);
    }
    return frames;
  }

  /** Bytes of an incomplete frame still waiting (non-zero at end of stream = truncated). */
  get pending(): number {
    return this.buf.length;
  }
}

export function decodeReply(frame: Frame): Reply {
  const { code, payload } = frame;
  if (code === Msg.READY || code === Msg.STARTED) {
    if (payload.length !== 4) throw new ProtocolError(`${msgName(code)} payload is ${payload.length} bytes, expected 4`);
    return { kind: code === Msg.READY ? 'ready' : 'started', pid: payload.readUInt32LE(0) };
  }
  if (code === Msg.FAIL) {
    const nul = payload.indexOf(0);
    if (nul < 0) throw new ProtocolError('NSM_FAIL payload has no NUL between step and errno');
    return { kind: 'fail', step: payload.subarray(0, nul).toString('utf8'), errno: payload.subarray(nul + 1).toString('utf8') };
  }
  throw new ProtocolError(`nsm-helper sent ${msgName(code)}, which the driver never expects`);
}
